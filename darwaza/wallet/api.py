"""The wallet in the JSON API: a citizen's documents, and shares of them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from darwaza.catalogue.dependencies import CatalogueDep
from darwaza.documents import service as documents
from darwaza.documents.models import Document
from darwaza.identity.dependencies import CitizenDep
from darwaza.wallet import service
from darwaza.web.api import error_responses
from darwaza.web.context import CSRF_PROTECTED, CommittingRoute, DbDep, SettingsDep

router = APIRouter(
    route_class=CommittingRoute,
    prefix="/api/v1/wallet",
    tags=["wallet"],
    dependencies=CSRF_PROTECTED,
)


class HeldDocument(BaseModel):
    id: str
    agency_id: str
    document_type: str
    status: str
    claims: dict[str, Any]
    issued_at: datetime
    expires_at: datetime | None
    sd_jwt: str
    qr: str


class ShareCreate(BaseModel):
    claims: list[str] = Field(min_length=1, max_length=50)
    lifetime: str = Field(description="1h, 1d, 7d or 30d")
    recipient: str | None = Field(default=None, max_length=200)


class ShareRead(BaseModel):
    id: str
    disclosed_claims: list[str]
    recipient: str | None
    created_at: datetime
    expires_at: datetime
    ended_at: datetime | None
    openings: list[datetime]


class ShareCreated(ShareRead):
    url: str = Field(description="The link to send; shown only once")


def _held(document: Document) -> HeldDocument:
    return HeldDocument(
        id=document.id,
        agency_id=document.agency_id,
        document_type=document.document_type,
        status=document.status,
        claims=document.claims,
        issued_at=document.issued_at,
        expires_at=document.expires_at,
        sd_jwt=document.sd_jwt,
        qr=document.qr_text,
    )


@router.get("/documents", responses=error_responses(401))
def list_documents(db: DbDep, citizen: CitizenDep) -> list[HeldDocument]:
    """The signed documents issued to the signed-in citizen."""
    return [_held(document) for document in documents.documents_of(db, citizen=citizen)]


@router.get("/documents/{document_id}", responses=error_responses(401, 404))
def get_document(document_id: str, db: DbDep, citizen: CitizenDep) -> HeldDocument:
    """One of the citizen's documents."""
    return _held(documents.citizen_document(db, citizen=citizen, document_id=document_id))


@router.get("/documents/{document_id}/shares", responses=error_responses(401, 404))
def list_shares(document_id: str, db: DbDep, citizen: CitizenDep) -> list[ShareRead]:
    """The citizen's links for one document, with every time each was opened."""
    document = documents.citizen_document(db, citizen=citizen, document_id=document_id)
    shares = service.shares_of(db, citizen=citizen, document=document)
    openings = service.openings_of(db, share_ids=[share.id for share in shares])
    return [
        ShareRead(
            id=share.id,
            disclosed_claims=list(share.disclosed_claims),
            recipient=share.recipient,
            created_at=share.created_at,
            expires_at=share.expires_at,
            ended_at=share.ended_at,
            openings=[o.opened_at for o in openings if o.share_id == share.id],
        )
        for share in shares
    ]


@router.post(
    "/documents/{document_id}/shares", status_code=201, responses=error_responses(401, 404)
)
def create_share(
    document_id: str,
    body: ShareCreate,
    db: DbDep,
    settings: SettingsDep,
    citizen: CitizenDep,
    catalogue: CatalogueDep,
) -> ShareCreated:
    """Share chosen claims through a link that works for 1 hour to 30 days."""
    document = documents.citizen_document(db, citizen=citizen, document_id=document_id)
    created = service.create_share(
        db,
        citizen=citizen,
        document=document,
        document_type=catalogue.document_type(document.document_type),
        claims=body.claims,
        lifetime=body.lifetime,
        recipient=body.recipient,
    )
    share = created.share
    return ShareCreated(
        id=share.id,
        disclosed_claims=list(share.disclosed_claims),
        recipient=share.recipient,
        created_at=share.created_at,
        expires_at=share.expires_at,
        ended_at=None,
        openings=[],
        url=service.share_url(settings, created.token),
    )


@router.post("/shares/{share_id}/end", status_code=204, responses=error_responses(401, 404))
def end_share(share_id: str, db: DbDep, citizen: CitizenDep) -> None:
    """End a share at once."""
    share = service.citizen_share(db, citizen=citizen, share_id=share_id)
    service.end_share(db, citizen=citizen, share=share)
