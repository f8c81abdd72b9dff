"""The payments domain's background work: receipts, refunds, asking the PSP."""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache
from pathlib import Path

from darwaza.audit.actors import Actor
from darwaza.catalogue import Catalogue, load_catalogue
from darwaza.clock import KARACHI, utcnow
from darwaza.documents.service import issue_document
from darwaza.identity.models import Citizen
from darwaza.jobs import JobContext, JobRegistry, PermanentFailure
from darwaza.jobs.registry import Schedule
from darwaza.payments import service
from darwaza.payments.models import Payment, PaymentRefund
from darwaza.payments.providers import ProviderUnavailable, provider_for

RECEIPT_AGENCY = "darwaza"
RECEIPT_TYPE = "darwaza-payment-receipt"


@lru_cache(maxsize=4)
def _catalogue(directory: Path) -> Catalogue:
    return load_catalogue(directory)


def issue_receipt(context: JobContext) -> None:
    """Handler of ``payments.issue_receipt``: a signed e-receipt in the payer's wallet."""
    db = context.db
    payment = db.get(Payment, context.payload.get("payment_id", ""), with_for_update=True)
    if payment is None:
        raise PermanentFailure("no such payment")
    if payment.receipt_document_id is not None or payment.paid_at is None:
        return
    citizen = db.get(Citizen, payment.citizen_id)
    if citizen is None:
        raise PermanentFailure("the payer's account is gone")
    catalogue = _catalogue(context.settings.catalogue_dir)
    if RECEIPT_TYPE not in catalogue.document_types:
        return  # a catalogue without the platform's receipt type issues none
    service_title = catalogue.service(payment.service_id).title.en
    document = issue_document(
        db,
        settings=context.settings,
        catalogue=catalogue,
        agency_id=RECEIPT_AGENCY,
        document_type_id=RECEIPT_TYPE,
        holder_cnic=citizen.cnic,
        citizen=citizen,
        given_claims={
            "amount_paisa": payment.paid_paisa,
            "psid": payment.psid or payment.provider_reference or payment.id,
            "service": service_title,
            "tracking_number": payment.tracking_number or "-",
            "paid_at": payment.paid_at.astimezone(KARACHI).isoformat(timespec="seconds"),
        },
        idempotency_key=f"receipt:{payment.id}",
        actor=Actor.system(),
    )
    payment.receipt_document_id = document.id


def send_refund(context: JobContext) -> None:
    """Handler of ``payments.send_refund``: the provider sends the money back."""
    db = context.db
    refund = db.get(PaymentRefund, context.payload.get("refund_id", ""))
    if refund is None:
        raise PermanentFailure("no such refund")
    if refund.status == "done":
        return
    payment = db.get(Payment, refund.payment_id)
    assert payment is not None
    # The refund's id is the provider's idempotency key: a retry after a crash is one refund.
    provider_for(payment.provider, context.settings).refund(payment=payment, refund=refund)
    service.complete_refund(db, refund=refund, actor=Actor.system())


def reconcile_pending(context: JobContext) -> None:
    """Scheduled: ask the PSP about online payments stuck waiting for its word."""
    db = context.db
    older_than = utcnow() - timedelta(minutes=context.settings.psp_pending_minutes)
    for payment in service.stuck_online_payments(db, older_than=older_than):
        try:
            truth = provider_for(payment.provider, context.settings).status(payment=payment)
        except ProviderUnavailable:
            continue  # asked again at the next slot
        if truth is None:
            continue
        service.apply_provider_status(
            db,
            payment=payment,
            status=truth.status,
            amount_paisa=truth.amount_paisa,
            transaction_id=truth.transaction_id,
            actor=Actor.system(),
        )


def register_payment_jobs(registry: JobRegistry) -> None:
    """Add this domain's handlers and its schedule to the worker's registry."""
    registry.add(service.PaymentJob.ISSUE_RECEIPT, issue_receipt)
    registry.add(service.PaymentJob.SEND_REFUND, send_refund)
    registry.add(service.PaymentJob.RECONCILE_PENDING, reconcile_pending)
    registry.add_schedule(
        Schedule(
            name="payments-reconcile-pending",
            kind=service.PaymentJob.RECONCILE_PENDING,
            every=timedelta(minutes=5),
        )
    )
