"""Documents in the JSON API, for an agency's own systems and officers."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header
from pydantic import BaseModel, Field

from darwaza.catalogue.dependencies import CatalogueDep
from darwaza.documents import service
from darwaza.documents.models import Document
from darwaza.identity.dependencies import AgencyCaller, agency_caller
from darwaza.identity.tokens import SCOPE_ISSUE, SCOPE_STATUS
from darwaza.settings import Settings
from darwaza.web.api import error_responses
from darwaza.web.context import CSRF_PROTECTED, CommittingRoute, DbDep, SettingsDep

Issuer = Annotated[AgencyCaller, Depends(agency_caller(SCOPE_ISSUE))]
StatusKeeper = Annotated[AgencyCaller, Depends(agency_caller(SCOPE_STATUS))]

router = APIRouter(
    route_class=CommittingRoute,
    prefix="/api/v1/documents",
    tags=["documents"],
    dependencies=CSRF_PROTECTED,
)


class DocumentIssue(BaseModel):
    document_type: str = Field(max_length=64)
    cnic: str = Field(max_length=20)
    claims: dict[str, str | int | float] = Field(default_factory=dict)


class StatusChange(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)


class DocumentRead(BaseModel):
    id: str
    agency_id: str
    document_type: str
    status: str
    status_reason: str | None
    issued_at: datetime
    expires_at: datetime | None
    sd_jwt: str
    qr: str
    status_list: dict[str, Any]


def document_read(document: Document, settings: Settings) -> DocumentRead:
    """What the API (and the CLI's ``--json``) says of an issued document."""
    return DocumentRead(
        id=document.id,
        agency_id=document.agency_id,
        document_type=document.document_type,
        status=document.status,
        status_reason=document.status_reason,
        issued_at=document.issued_at,
        expires_at=document.expires_at,
        sd_jwt=document.sd_jwt,
        qr=document.qr_text,
        status_list={
            "uri": service.status_list_url(settings, document.status_list_id),
            "idx": document.status_index,
        },
    )


@router.post("", status_code=201, responses=error_responses(401, 403, 404))
def issue(
    body: DocumentIssue,
    db: DbDep,
    settings: SettingsDep,
    catalogue: CatalogueDep,
    caller: Issuer,
    idempotency_key: Annotated[str | None, Header(max_length=100)] = None,
) -> DocumentRead:
    """Issue a document of the caller's agency directly (scope ``documents:issue``).

    A retry with the same ``Idempotency-Key`` returns the first document, issuing nothing new.
    """
    document = service.issue_document(
        db,
        settings=settings,
        catalogue=catalogue,
        agency_id=caller.agency_id,
        document_type_id=body.document_type,
        holder_cnic=body.cnic,
        given_claims=body.claims,
        idempotency_key=idempotency_key,
        actor=caller.actor,
    )
    return document_read(document, settings)


@router.get("/{document_id}", responses=error_responses(401, 404))
def get_document(
    document_id: str, db: DbDep, settings: SettingsDep, caller: StatusKeeper
) -> DocumentRead:
    """A document the caller's agency issued."""
    document = service.agency_document(db, agency_id=caller.agency_id, document_id=document_id)
    return document_read(document, settings)


@router.post("/{document_id}/{action}", responses=error_responses(401, 404, 409))
def change_status(
    document_id: str,
    action: Literal["suspend", "reinstate", "revoke"],
    body: StatusChange,
    db: DbDep,
    settings: SettingsDep,
    caller: StatusKeeper,
    catalogue: CatalogueDep,
) -> DocumentRead:
    """Suspend, reinstate or revoke a document (scope ``documents:status``).

    Verifiers see the change at their next fetch of the status list.
    """
    document = service.agency_document(db, agency_id=caller.agency_id, document_id=document_id)
    service.change_document_status(
        db,
        settings=settings,
        catalogue=catalogue,
        document=document,
        action=action,
        reason=body.reason,
        actor=caller.actor,
    )
    return document_read(document, settings)
