"""The citizen's payment pages (what to pay, how and by when; the challan PDF; paying
online) and the agency admin's reconciliation page."""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from darwaza.audit.actors import Actor
from darwaza.catalogue.dependencies import CatalogueDep
from darwaza.errors import InvalidInput, NotFound
from darwaza.i18n import N_
from darwaza.identity.dependencies import CitizenDep, OfficerDep
from darwaza.identity.models import Citizen, Role
from darwaza.payments import service
from darwaza.payments.challan import HOW_TO_PAY, challan_pdf
from darwaza.payments.models import Payment
from darwaza.payments.providers import ProviderUnavailable, SandboxPsp
from darwaza.payments.reconciliation import (
    SettlementFileError,
    read_settlement,
    reconcile,
    report_csv,
)
from darwaza.payments.workflow import PaymentState
from darwaza.settings import Settings
from darwaza.web.context import CSRF_PROTECTED, CommittingRoute, DbDep, LanguageDep, SettingsDep
from darwaza.web.pages import FormDep, form_file, redirect
from darwaza.web.templating import render

router = APIRouter(
    route_class=CommittingRoute, dependencies=CSRF_PROTECTED, include_in_schema=False
)

PRIVATE = {"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"}
MAX_SETTLEMENT_BYTES = 5 * 1024 * 1024


def online_provider(request: Request, settings: Settings) -> SandboxPsp:
    """The PSP: the one the app was built with (``app.state.payment_provider``), else the
    sandbox PSP at ``DARWAZA_PSP_BASE_URL``."""
    provider = getattr(request.app.state, "payment_provider", None)
    return provider if isinstance(provider, SandboxPsp) else SandboxPsp(settings)


def citizen_payment(db: DbDep, *, citizen: Citizen, payment_id: str) -> Payment:
    """The citizen's own payment, or 404 exactly like a missing one."""
    payment = db.get(Payment, payment_id)
    if payment is None or payment.citizen_id != citizen.id:
        raise NotFound()
    return payment


def _page(
    request: Request, db: DbDep, payment: Payment, catalogue: CatalogueDep, **extra: Any
) -> Response:
    definition = catalogue.service(payment.service_id)
    latest = service.latest_payment(db, application_id=payment.application_id)
    paid_by = (
        service.settled_instead(db, payment=payment)
        if payment.state == PaymentState.CANCELLED
        else None
    )
    context = {
        "paid_by": paid_by,
        "payment": payment,
        "service": definition,
        "agency": catalogue.agencies[definition.agency],
        "how_to_pay": HOW_TO_PAY,
        "can_renew": payment.state == PaymentState.EXPIRED
        and latest is not None
        and latest.id == payment.id,
        "refunds": service.refunds_of(db, payment=payment),
    } | extra
    return render(request, "payments/payment.html", context)


@router.get("/payments/{payment_id}", response_class=HTMLResponse)
def payment_page(
    request: Request, payment_id: str, db: DbDep, citizen: CitizenDep, catalogue: CatalogueDep
) -> Response:
    payment = citizen_payment(db, citizen=citizen, payment_id=payment_id)
    service.expire_if_due(db, payment=payment)
    return _page(request, db, payment, catalogue)


@router.get("/payments/{payment_id}/challan.pdf")
def challan(
    payment_id: str,
    db: DbDep,
    citizen: CitizenDep,
    catalogue: CatalogueDep,
    language: LanguageDep,
) -> Response:
    payment = citizen_payment(db, citizen=citizen, payment_id=payment_id)
    if payment.psid is None:
        raise NotFound()
    definition = catalogue.service(payment.service_id)
    pdf = challan_pdf(
        payment=payment,
        service=definition,
        agency=catalogue.agencies[definition.agency],
        language=language,
    )
    return Response(
        pdf,
        media_type="application/pdf",
        headers=PRIVATE | {"Content-Disposition": f'inline; filename="challan-{payment.psid}.pdf"'},
    )


@router.post("/payments/{payment_id}/online")
def pay_online(
    request: Request,
    form: FormDep,
    payment_id: str,
    db: DbDep,
    settings: SettingsDep,
    citizen: CitizenDep,
    catalogue: CatalogueDep,
) -> Response:
    """Create the payment at the PSP (with an idempotency key) and send the citizen there."""
    challan_payment = citizen_payment(db, citizen=citizen, payment_id=payment_id)
    key = (form.get("idempotency_key") or "").__str__()[:100] or secrets.token_urlsafe(16)
    online = service.start_online_payment(
        db,
        citizen_id=citizen.id,
        challan=challan_payment,
        idempotency_key=f"{citizen.id}:{key}",
        actor=Actor.citizen(citizen.id),
    )
    if online.provider_reference is None:
        definition = catalogue.service(online.service_id)
        try:
            created = online_provider(request, settings).create(
                payment=online,
                return_url=f"{settings.base_url.rstrip('/')}/payments/{online.id}/return",
                idempotency_key=online.idempotency_key or online.id,
                description=definition.title.en,
            )
        except ProviderUnavailable:
            return _page(request, db, challan_payment, catalogue, provider_unavailable=True)
        online.provider_reference = created.reference
        service.apply_provider_status(
            db,
            payment=online,
            status="pending",
            amount_paisa=online.amount_paisa,
            transaction_id="",
            actor=Actor.citizen(citizen.id),
        )
        return redirect(created.next_url)
    return redirect(f"/payments/{online.id}/return")


@router.get("/payments/{payment_id}/return", response_class=HTMLResponse)
def returned(
    request: Request,
    payment_id: str,
    db: DbDep,
    settings: SettingsDep,
    citizen: CitizenDep,
    catalogue: CatalogueDep,
) -> Response:
    """Back from the PSP: the page shows what the provider tells the server, never what
    the return address claims."""
    payment = citizen_payment(db, citizen=citizen, payment_id=payment_id)
    if payment.state in (PaymentState.CREATED, PaymentState.PENDING):
        try:
            truth = online_provider(request, settings).status(payment=payment)
        except ProviderUnavailable:
            truth = None
        if truth is not None:
            service.apply_provider_status(
                db,
                payment=payment,
                status=truth.status,
                amount_paisa=truth.amount_paisa,
                transaction_id=truth.transaction_id,
                actor=Actor.system(),
            )
    return _page(request, db, payment, catalogue, returned=True)


# --- the agency admin's reconciliation ----------------------------------------------------


@router.get("/console/payments/reconcile", response_class=HTMLResponse)
def reconcile_form(request: Request, officer: OfficerDep) -> Response:
    if officer.role != Role.AGENCY_ADMIN:
        raise NotFound()
    return render(request, "payments/reconcile.html", {"reports": None, "errors": {}})


@router.post("/console/payments/reconcile")
async def reconcile_upload(
    request: Request, form: FormDep, db: DbDep, officer: OfficerDep
) -> Response:
    """Compare a bank's settlement file with our credits; show it, or send it as CSV."""
    if officer.role != Role.AGENCY_ADMIN:
        raise NotFound()
    upload = form_file(form, "file")
    content = await upload.read(MAX_SETTLEMENT_BYTES + 1) if upload is not None else b""
    try:
        if not content or len(content) > MAX_SETTLEMENT_BYTES:
            raise SettlementFileError("empty or too large")
        rows = read_settlement(content.decode("utf-8-sig"))
    except (SettlementFileError, UnicodeDecodeError) as error:
        problem = InvalidInput(
            N_("This is not a settlement file we can read: {reason}."), {"reason": str(error)}
        )
        return render(
            request,
            "payments/reconcile.html",
            {"reports": None, "errors": {"file": problem.message}},
            status_code=422,
        )
    reports = reconcile(db, rows, agency_id=officer.agency_id)
    if (form.get("format") or "") == "csv":
        return Response(
            report_csv(reports),
            media_type="text/csv; charset=utf-8",
            headers=PRIVATE | {"Content-Disposition": 'attachment; filename="reconciliation.csv"'},
        )
    return render(request, "payments/reconcile.html", {"reports": reports, "errors": {}})
