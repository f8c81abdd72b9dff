"""The officer console's documents: what the agency issued, and suspending or revoking it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from sqlalchemy import Select, select, tuple_
from sqlalchemy.orm import Session

from darwaza.audit.actors import Actor
from darwaza.catalogue.dependencies import CatalogueDep
from darwaza.documents import service
from darwaza.documents.models import Document
from darwaza.errors import DarwazaError, Message, NotFound
from darwaza.identity.dependencies import OfficerDep
from darwaza.numbers import InvalidCnic, parse_cnic
from darwaza.paging import Page, make_page, read_after
from darwaza.web.context import CSRF_PROTECTED, CommittingRoute, DbDep, SettingsDep
from darwaza.web.pages import FormDep, errors_of, form_text, pager_links, redirect
from darwaza.web.templating import render

router = APIRouter(
    route_class=CommittingRoute,
    prefix="/console/documents",
    dependencies=CSRF_PROTECTED,
    include_in_schema=False,
)


LIST_PAGE_SIZE = 50


def _newest_first(document: Document) -> tuple[datetime, str]:
    return document.issued_at, document.id


@router.get("", response_class=HTMLResponse)
def documents(
    request: Request, db: DbDep, officer: OfficerDep, catalogue: CatalogueDep, after: str = ""
) -> Response:
    """The agency's documents, newest first, a page at a time (by keyset: see `darwaza.paging`)."""
    query = select(Document).where(Document.agency_id == officer.agency_id)
    return _list(request, catalogue, _newest_page(db, query, after))


@router.post("", response_class=HTMLResponse)
def search_documents(
    request: Request, db: DbDep, officer: OfficerDep, catalogue: CatalogueDep, form: FormDep
) -> Response:
    """The agency's documents held by one CNIC, a page at a time. The CNIC comes in the
    form's body, never the address, so it stays out of browser history and proxies' logs;
    the next page is asked by the same form, with the page's ``after`` token."""
    cnic = form_text(form, "cnic")
    try:
        holder = parse_cnic(cnic)
    except InvalidCnic as error:
        return _list(
            request, catalogue, Page(rows=[]), cnic=cnic, searched=True, cnic_error=error.message
        )
    query = select(Document).where(
        Document.agency_id == officer.agency_id, Document.holder_cnic == holder
    )
    page = _newest_page(db, query, form_text(form, "after"))
    return _list(request, catalogue, page, cnic=cnic, searched=True)


def _newest_page(db: Session, query: Select[Document], after: str) -> Page[Document]:
    position = read_after(after, datetime, str)
    if position is not None:
        query = query.where(tuple_(Document.issued_at, Document.id) < tuple_(*position))
    rows = db.scalars(
        query.order_by(Document.issued_at.desc(), Document.id.desc()).limit(LIST_PAGE_SIZE + 1)
    ).all()
    return make_page(rows, size=LIST_PAGE_SIZE, key=_newest_first, continued=position is not None)


def _list(
    request: Request,
    catalogue: CatalogueDep,
    page: Page[Document],
    *,
    cnic: str = "",
    searched: bool = False,
    cnic_error: Message | None = None,
) -> Response:
    return render(
        request,
        "documents/console_list.html",
        {
            "documents": page.rows,
            "types": catalogue.document_types,
            "cnic": cnic,
            "searched": searched,
            "errors": {"cnic": cnic_error} if cnic_error else {},
        }
        | pager_links(request, page),
        status_code=422 if cnic_error else 200,
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
