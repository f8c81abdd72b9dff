"""The officer console's documents: what the agency issued, and suspending or revoking it."""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from sqlalchemy import select

from darwaza.audit.actors import Actor
from darwaza.catalogue.dependencies import CatalogueDep
from darwaza.documents import service
from darwaza.documents.models import Document
from darwaza.errors import DarwazaError, Message, NotFound
from darwaza.identity.dependencies import OfficerDep
from darwaza.numbers import InvalidCnic, parse_cnic
from darwaza.web.context import CSRF_PROTECTED, DbDep, SettingsDep
from darwaza.web.pages import FormDep, errors_of, form_text, redirect
from darwaza.web.templating import render

router = APIRouter(
    prefix="/console/documents", dependencies=CSRF_PROTECTED, include_in_schema=False
)


@router.get("", response_class=HTMLResponse)
def documents(
    request: Request, db: DbDep, officer: OfficerDep, catalogue: CatalogueDep, cnic: str = ""
) -> Response:
    query = select(Document).where(Document.agency_id == officer.agency_id)
    if cnic.strip():
        try:
            query = query.where(Document.holder_cnic == parse_cnic(cnic))
        except InvalidCnic:
            query = query.where(Document.id == "")
    found = db.scalars(query.order_by(Document.issued_at.desc()).limit(100)).all()
    return render(
        request,
        "documents/console_list.html",
        {"documents": found, "types": catalogue.document_types},
    )


def _page(
    request: Request,
    document: Document,
    catalogue: CatalogueDep,
    errors: Mapping[str, Message] | None = None,
    status_code: int = 200,
) -> Response:
    document_type = catalogue.document_type(document.document_type)
    return render(
        request,
        "documents/console_document.html",
        {"document": document, "document_type": document_type, "errors": errors or {}},
        status_code=status_code,
    )


@router.get("/{document_id}", response_class=HTMLResponse)
def document_page(
    request: Request, document_id: str, db: DbDep, officer: OfficerDep, catalogue: CatalogueDep
) -> Response:
    document = service.agency_document(
        db, agency_id=officer.agency_id or "", document_id=document_id
    )
    service.record_officer_look(db, officer=officer, document=document)
    return _page(request, document, catalogue)


@router.post("/{document_id}/{action}")
def change_status(
    request: Request,
    form: FormDep,
    document_id: str,
    action: str,
    db: DbDep,
    officer: OfficerDep,
    catalogue: CatalogueDep,
    settings: SettingsDep,
) -> Response:
    document = service.agency_document(
        db, agency_id=officer.agency_id or "", document_id=document_id
    )
    if action not in ("suspend", "reinstate", "revoke"):
        raise NotFound()
    try:
        service.change_document_status(
            db,
            settings=settings,
            catalogue=catalogue,
            document=document,
            action=action,
            reason=form_text(form, "reason"),
            actor=Actor.staff(officer.id),
        )
    except DarwazaError as error:
        return _page(request, document, catalogue, errors_of(error), error.status_code)
    return redirect(f"/console/documents/{document.id}")
