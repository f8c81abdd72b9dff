"""Bulk issuance in the JSON API, for an agency's own systems (scope ``documents:issue``)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Form, UploadFile
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from darwaza.audit.actors import ActorKind
from darwaza.batches import checking, service
from darwaza.batches.models import Batch
from darwaza.catalogue.dependencies import CatalogueDep
from darwaza.errors import Forbidden, InvalidInput, Message
from darwaza.i18n import N_
from darwaza.identity.dependencies import AgencyCaller, agency_caller
from darwaza.identity.tokens import SCOPE_ISSUE
from darwaza.web.api import error_responses
from darwaza.web.context import CSRF_PROTECTED, CommittingRoute, DbDep, SettingsDep

Issuer = Annotated[AgencyCaller, Depends(agency_caller(SCOPE_ISSUE))]

router = APIRouter(
    route_class=CommittingRoute,
    prefix="/api/v1/batches",
    tags=["batches"],
    dependencies=CSRF_PROTECTED,
)


class BatchRead(BaseModel):
    id: str
    agency_id: str
    document_type: str
    state: str
    file_name: str
    file_sha256: str
    file_format: str
    created_at: datetime
    approved_at: datetime | None
    finished_at: datetime | None
    merkle_root: str | None
    progress: dict[str, Any]
    problems: int


def batch_read(batch: Batch, problems: int) -> BatchRead:
    """What the API (and the CLI's ``--json``) says of a batch."""
    return BatchRead(
        id=batch.id,
        agency_id=batch.agency_id,
        document_type=batch.document_type,
        state=batch.state,
        file_name=batch.file_name,
        file_sha256=batch.file_sha256,
        file_format=batch.file_format,
        created_at=batch.created_at,
        approved_at=batch.approved_at,
        finished_at=batch.finished_at,
        merkle_root=batch.merkle_root,
        progress=service.progress_of(batch).as_dict(),
        problems=problems,
    )


def _read(db: DbDep, batch: Batch) -> BatchRead:
    return batch_read(batch, service.problem_count(db, batch_id=batch.id))


@router.post("", status_code=201, responses=error_responses(401, 403, 404, 413, 422))
def upload(
    db: DbDep,
    settings: SettingsDep,
    catalogue: CatalogueDep,
    caller: Issuer,
    document_type: Annotated[str, Form(max_length=64)],
    register_file: Annotated[UploadFile, File(alias="register")],
    mapping: Annotated[str, Form(max_length=10_000)] = "{}",
) -> BatchRead:
    """Upload a register (CSV or XLSX) and check it; nothing is issued until an officer
    of the agency other than the uploader approves. The same file again returns its batch.

    ``mapping`` is a JSON object renaming the file's columns to claim names.
    """
    try:
        renames = json.loads(mapping)
    except json.JSONDecodeError:
        renames = None
    if not isinstance(renames, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in renames.items()
    ):
        message = Message(N_("Give a JSON object of column names to claim names."))
        raise InvalidInput(fields={"mapping": message})
    batch = checking.upload_register(
        db,
        settings=settings,
        catalogue=catalogue,
        agency_id=caller.agency_id,
        document_type_id=document_type,
        source=register_file.file,
        file_name=register_file.filename or "register",
        mapping=renames,
        actor=caller.actor,
    )
    return _read(db, batch)


@router.get("/{batch_id}", responses=error_responses(401, 404))
def get_batch(batch_id: str, db: DbDep, caller: Issuer) -> BatchRead:
    """A batch of the caller's agency: its state and progress (done, failed, left, rate)."""
    return _read(db, service.agency_batch(db, agency_id=caller.agency_id, batch_id=batch_id))


@router.get("/{batch_id}/report.csv", responses=error_responses(401, 404))
def get_report(batch_id: str, db: DbDep, caller: Issuer) -> StreamingResponse:
    """The check report: row, column, message in English and Urdu (spreadsheet-safe)."""
    batch = service.agency_batch(db, agency_id=caller.agency_id, batch_id=batch_id)
    lines = list(service.report_csv(db, batch_id=batch.id))
    return StreamingResponse(iter(lines), media_type="text/csv; charset=utf-8")


@router.post("/{batch_id}/{action}", responses=error_responses(401, 403, 404, 409))
def move(
    batch_id: str,
    action: Literal["approve", "pause", "resume", "cancel"],
    db: DbDep,
    caller: Issuer,
) -> BatchRead:
    """Approve (an officer's session only, not the uploader), pause, resume or cancel."""
    batch = service.agency_batch(db, agency_id=caller.agency_id, batch_id=batch_id, lock=True)
    if action == "approve":
        if caller.actor.kind != ActorKind.STAFF:
            raise Forbidden(N_("Only an officer of the agency can approve a register."))
        service.approve_batch(db, batch=batch, actor=caller.actor)
    elif action == "pause":
        service.pause_batch(db, batch=batch, actor=caller.actor)
    elif action == "resume":
        service.resume_batch(db, batch=batch, actor=caller.actor)
    else:
        service.cancel_batch(db, batch=batch, actor=caller.actor)
    return _read(db, batch)
