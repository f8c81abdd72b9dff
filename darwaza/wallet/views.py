"""The citizen's wallet pages: documents, their QR, downloads, and sharing with consent."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from darwaza.catalogue import Catalogue
from darwaza.catalogue.dependencies import CatalogueDep
from darwaza.clock import KARACHI
from darwaza.documents import service as documents
from darwaza.documents.formats.compact_qr import qr_png, qr_svg
from darwaza.documents.models import Document
from darwaza.documents.printable import printable_pdf
from darwaza.errors import DarwazaError
from darwaza.identity.dependencies import CitizenDep
from darwaza.wallet import service
from darwaza.web.context import CSRF_PROTECTED, CommittingRoute, DbDep, LanguageDep, SettingsDep
from darwaza.web.pages import FormDep, errors_of, redirect
from darwaza.web.templating import render

router = APIRouter(
    route_class=CommittingRoute, dependencies=CSRF_PROTECTED, include_in_schema=False
)

PRIVATE = {"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"}


@router.get("/wallet", response_class=HTMLResponse)
def wallet(request: Request, db: DbDep, citizen: CitizenDep, catalogue: CatalogueDep) -> Response:
    return render(
        request,
        "wallet/list.html",
        {
            "documents": documents.documents_of(db, citizen=citizen),
            "types": catalogue.document_types,
            "agencies": catalogue.agencies,
        },
    )


def _document_page(
    request: Request,
    db: DbDep,
    citizen: CitizenDep,
    catalogue: Catalogue,
    document: Document,
    *,
    errors: dict[str, Any] | None = None,
    created_link: str | None = None,
    status_code: int = 200,
) -> Response:
    document_type = catalogue.document_type(document.document_type)
    shares = service.shares_of(db, citizen=citizen, document=document)
    return render(
        request,
        "wallet/document.html",
        {
            "document": document,
            "document_type": document_type,
            "agency": catalogue.agencies[document.agency_id],
            "answer_labels": catalogue.answer_labels(),
            "qr": Markup(qr_svg(document.qr_text, scale=5)),  # noqa: S704 (segno's own SVG)
            "shares": shares,
            "openings": service.openings_of(db, share_ids=[s.id for s in shares]),
            "lifetimes": list(service.SHARE_LIFETIMES),
            "errors": errors or {},
            "created_link": created_link,
            "created_link_qr": Markup(qr_svg(created_link, scale=3)) if created_link else None,  # noqa: S704
        },
        status_code=status_code,
    )


@router.get("/wallet/{document_id}", response_class=HTMLResponse)
def document_page(
    request: Request, document_id: str, db: DbDep, citizen: CitizenDep, catalogue: CatalogueDep
) -> Response:
    document = documents.citizen_document(db, citizen=citizen, document_id=document_id)
    return _document_page(request, db, citizen, catalogue, document)


def download_name(document: Document, catalogue: Catalogue, suffix: str) -> str:
    """A file name a person understands: ``degree-attestation-2026-12-01-3f9a2c.pdf``."""
    title = catalogue.document_type(document.document_type).title.en
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or "document"
    day = document.issued_at.astimezone(KARACHI).date().isoformat()
    return f"{slug}-{day}-{document.id[:6]}.{suffix}"


@router.get("/wallet/{document_id}/document.sd-jwt")
def download_sd_jwt(
    document_id: str, db: DbDep, citizen: CitizenDep, catalogue: CatalogueDep
) -> Response:
    """The full SD-JWT VC, for another wallet."""
    document = documents.citizen_document(db, citizen=citizen, document_id=document_id)
    name = download_name(document, catalogue, "sd-jwt")
    return Response(
        document.sd_jwt,
        media_type="application/dc+sd-jwt",
        headers=PRIVATE | {"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/wallet/{document_id}/qr.png")
def download_qr(
    document_id: str, db: DbDep, citizen: CitizenDep, catalogue: CatalogueDep
) -> Response:
    """The compact QR as a picture, to print or keep."""
    document = documents.citizen_document(db, citizen=citizen, document_id=document_id)
    name = download_name(document, catalogue, "png").replace(".png", "-qr.png")
    return Response(
        qr_png(document.qr_text, scale=8),
        media_type="image/png",
        headers=PRIVATE | {"Content-Disposition": f'inline; filename="{name}"'},
    )


@router.get("/wallet/{document_id}/document.pdf")
def download_pdf(
    document_id: str,
    db: DbDep,
    settings: SettingsDep,
    citizen: CitizenDep,
    catalogue: CatalogueDep,
    language: LanguageDep,
) -> Response:
    """A printable PDF in the reader's language, with the QR code on it."""
    document = documents.citizen_document(db, citizen=citizen, document_id=document_id)
    pdf = printable_pdf(
        document=document,
        document_type=catalogue.document_type(document.document_type),
        agency=catalogue.agencies[document.agency_id],
        language=language,
        verify_url=f"{settings.base_url.rstrip('/')}/verify",
    )
    return Response(
        pdf,
        media_type="application/pdf",
        headers=PRIVATE
        | {
            "Content-Disposition": (
                f'attachment; filename="{download_name(document, catalogue, "pdf")}"'
            )
        },
    )


@router.post("/wallet/{document_id}/shares")
def create_share(
    request: Request,
    form: FormDep,
    document_id: str,
    db: DbDep,
    settings: SettingsDep,
    citizen: CitizenDep,
    catalogue: CatalogueDep,
) -> Response:
    document = documents.citizen_document(db, citizen=citizen, document_id=document_id)
    try:
        created = service.create_share(
            db,
            citizen=citizen,
            document=document,
            document_type=catalogue.document_type(document.document_type),
            claims=[value for value in form.getlist("claims") if isinstance(value, str)],
            lifetime=str(form.get("lifetime") or ""),
            recipient=str(form.get("recipient") or ""),
        )
    except DarwazaError as error:
        return _document_page(
            request,
            db,
            citizen,
            catalogue,
            document,
            errors=errors_of(error),
            status_code=error.status_code,
        )
    return _document_page(
        request,
        db,
        citizen,
        catalogue,
        document,
        created_link=service.share_url(settings, created.token),
    )


@router.post("/wallet/shares/{share_id}/end")
def end_share(share_id: str, db: DbDep, citizen: CitizenDep) -> Response:
    share = service.citizen_share(db, citizen=citizen, share_id=share_id)
    service.end_share(db, citizen=citizen, share=share)
    return redirect(f"/wallet/{share.document_id}#shares")
