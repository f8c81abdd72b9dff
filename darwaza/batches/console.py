"""The officer console's bulk issuance: upload a register, read its check report,
approve it (another officer), follow its progress, pause, resume, cancel, change status."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, StreamingResponse

from darwaza.audit.actors import Actor
from darwaza.batches import checking, service
from darwaza.batches.models import Batch
from darwaza.batches.workflow import BatchAction, BatchState, allowed_actions
from darwaza.catalogue.dependencies import CatalogueDep
from darwaza.errors import DarwazaError, InvalidInput, Message, NotFound
from darwaza.i18n import N_
from darwaza.identity.dependencies import OfficerDep
from darwaza.identity.models import StaffMember
from darwaza.web.context import CSRF_PROTECTED, CommittingRoute, DbDep, SettingsDep
from darwaza.web.pages import FormDep, errors_of, form_file, form_text, redirect
from darwaza.web.templating import render

router = APIRouter(
    route_class=CommittingRoute,
    prefix="/console/batches",
    dependencies=CSRF_PROTECTED,
    include_in_schema=False,
)

REPORT_LINES_SHOWN = 100
MAX_KEYS_FILE_BYTES = 5 * 1024 * 1024


def parse_mapping(text: str) -> dict[str, str]:
    """``File column = claim`` lines (or ``from:to``) as a mapping; blank lines ignored."""
    mapping: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        separator = "=" if "=" in line else ":"
        source, _, target = line.partition(separator)
        if not source.strip() or not target.strip():
            raise InvalidInput(
                fields={
                    "mapping": Message(N_("Write each renaming as: column in the file = claim."))
                }
            )
        mapping[source.strip()] = target.strip()
    return mapping


def _types_of(officer: StaffMember, catalogue: CatalogueDep) -> list[object]:
    return [t for t in catalogue.document_types.values() if t.agency == officer.agency_id]


def _list_page(
    request: Request,
    db: DbDep,
    officer: StaffMember,
    catalogue: CatalogueDep,
    errors: Mapping[str, Message] | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "batches/console_list.html",
        {
            "batches": service.agency_batches(db, agency_id=officer.agency_id or ""),
            "types": catalogue.document_types,
            "own_types": _types_of(officer, catalogue),
            "errors": errors or {},
        },
        status_code=status_code,
    )


@router.get("", response_class=HTMLResponse)
def batches(request: Request, db: DbDep, officer: OfficerDep, catalogue: CatalogueDep) -> Response:
    return _list_page(request, db, officer, catalogue)


@router.post("")
def upload(
    request: Request,
    form: FormDep,
    db: DbDep,
    settings: SettingsDep,
    officer: OfficerDep,
    catalogue: CatalogueDep,
) -> Response:
    register = form_file(form, "register")
    try:
        if register is None:
            raise InvalidInput(fields={"register": Message(N_("Choose a CSV or XLSX file."))})
        batch = checking.upload_register(
            db,
            settings=settings,
            catalogue=catalogue,
            agency_id=officer.agency_id or "",
            document_type_id=form_text(form, "document_type"),
            source=register.file,
            file_name=register.filename or "register",
            mapping=parse_mapping(form_text(form, "mapping")),
            actor=Actor.staff(officer.id),
        )
    except DarwazaError as error:
        fields = errors_of(error)
        if not error.fields:
            fields = {"register": error.message}
        return _list_page(request, db, officer, catalogue, fields, error.status_code)
    return redirect(f"/console/batches/{batch.id}")


def _batch_page(
    request: Request,
    db: DbDep,
    batch: Batch,
    officer: StaffMember,
    catalogue: CatalogueDep,
    errors: Mapping[str, Message] | None = None,
    status_code: int = 200,
) -> Response:
    document_type = catalogue.document_types.get(batch.document_type)
    actions = allowed_actions(batch.state)
    if service.actor_key(Actor.staff(officer.id)) == batch.uploaded_by:
        actions = [a for a in actions if a != BatchAction.APPROVE]
    actions = [
        a for a in actions if a not in (BatchAction.CHECK, BatchAction.START, BatchAction.FINISH)
    ]
    return render(
        request,
        "batches/console_batch.html",
        {
            "batch": batch,
            "uses_htmx": True,  # the progress updates itself
            "document_type": document_type,
            "progress": service.progress_of(batch),
            "problems": service.report_problems(db, batch_id=batch.id, limit=REPORT_LINES_SHOWN),
            "preview": service.preview_rows(db, batch_id=batch.id),
            "actions": actions,
            "own_upload": service.actor_key(Actor.staff(officer.id)) == batch.uploaded_by,
            "errors": errors or {},
            "report_limit": REPORT_LINES_SHOWN,
        },
        status_code=status_code,
    )


def _officer_batch(db: DbDep, officer: StaffMember, batch_id: str, lock: bool = False) -> Batch:
    return service.agency_batch(db, agency_id=officer.agency_id or "", batch_id=batch_id, lock=lock)


@router.get("/{batch_id}", response_class=HTMLResponse)
def batch_page(
    request: Request, batch_id: str, db: DbDep, officer: OfficerDep, catalogue: CatalogueDep
) -> Response:
    return _batch_page(request, db, _officer_batch(db, officer, batch_id), officer, catalogue)


@router.get("/{batch_id}/progress", response_class=HTMLResponse)
def progress_fragment(
    request: Request, batch_id: str, db: DbDep, officer: OfficerDep, shown: str = ""
) -> Response:
    batch = _officer_batch(db, officer, batch_id)
    if shown == BatchState.UPLOADED and batch.state != BatchState.UPLOADED:
        # The check has ended: the report, the preview and the buttons are new, so the
        # whole page is drawn again, not just this part.
        return Response(status_code=204, headers={"HX-Refresh": "true"})
    return render(
        request,
        "batches/_progress.html",
        {"batch": batch, "progress": service.progress_of(batch)},
    )


@router.get("/{batch_id}/report.csv")
def report_csv(batch_id: str, db: DbDep, officer: OfficerDep) -> Response:
    batch = _officer_batch(db, officer, batch_id)
    lines = list(service.report_csv(db, batch_id=batch.id))  # read before the session ends
    return StreamingResponse(
        iter(lines),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="batch-{batch.id}-report.csv"'},
    )


_MOVES = {
    "approve": service.approve_batch,
    "pause": service.pause_batch,
    "resume": service.resume_batch,
    "cancel": service.cancel_batch,
}


@router.post("/{batch_id}/documents/{action}")
def change_documents(
    request: Request,
    form: FormDep,
    batch_id: str,
    action: str,
    db: DbDep,
    settings: SettingsDep,
    officer: OfficerDep,
    catalogue: CatalogueDep,
) -> Response:
    batch = _officer_batch(db, officer, batch_id, lock=True)
    if action not in ("suspend", "reinstate", "revoke"):
        raise NotFound()
    try:
        keys_file = form_file(form, "keys")
        keys = None
        if keys_file is not None:
            content = keys_file.file.read(MAX_KEYS_FILE_BYTES + 1)
            if len(content) > MAX_KEYS_FILE_BYTES:
                raise InvalidInput(fields={"keys": Message(N_("This file is too large."))})
            try:
                text = content.decode("utf-8-sig")
            except UnicodeDecodeError as error:
                raise InvalidInput(
                    fields={"keys": Message(N_("Save the file of natural keys as CSV UTF-8."))}
                ) from error
            keys = [row for row in csv.reader(io.StringIO(text)) if any(c.strip() for c in row)]
        service.change_batch_status(
            db,
            batch=batch,
            action=action,
            reason=form_text(form, "reason"),
            actor=Actor.staff(officer.id),
            natural_keys=keys,
            settings=settings,
            catalogue=catalogue,
        )
    except DarwazaError as error:
        return _batch_page(
            request, db, batch, officer, catalogue, errors_of(error), error.status_code
        )
    return redirect(f"/console/batches/{batch.id}")


@router.post("/{batch_id}/{action}")
def move(
    request: Request,
    batch_id: str,
    action: str,
    db: DbDep,
    officer: OfficerDep,
    catalogue: CatalogueDep,
) -> Response:
    batch = _officer_batch(db, officer, batch_id, lock=True)
    step = _MOVES.get(action)
    if step is None:
        raise NotFound()
    try:
        step(db, batch=batch, actor=Actor.staff(officer.id))
    except DarwazaError as error:
        return _batch_page(
            request, db, batch, officer, catalogue, errors_of(error), error.status_code
        )
    return redirect(f"/console/batches/{batch.id}")
