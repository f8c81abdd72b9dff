"""What happens to fees: challans issued, money credited once, waivers, refunds.

Every function takes the acting party, moves the payment through
:mod:`darwaza.payments.workflow`, writes an audit event in the caller's transaction and
never commits. Payments never import applications: when a fee is paid, a
``payments.fee_paid`` job is enqueued with the change, and the applications domain
registers its handler (see `darwaza.background_work`).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from darwaza.audit.actors import Actor
from darwaza.audit.trail import record_event
from darwaza.clock import utcnow
from darwaza.database import insert_unless_present, new_public_id, table_of
from darwaza.errors import Conflict, InvalidInput, Message, NotFound
from darwaza.i18n import N_
from darwaza.jobs import NewJob, enqueue, enqueue_all
from darwaza.payments.models import Payment, PaymentCredit, PaymentRefund
from darwaza.payments.psid import new_psid
from darwaza.payments.workflow import PaymentAction, PaymentState, next_payment_state
from darwaza.settings import Settings

PSID_PROVIDER = "psid"
PSP_PROVIDER = "psp"


class PaymentJob(StrEnum):
    """The kinds of job the payments domain enqueues."""

    # Handled by the applications domain: the application waiting for this fee moves on.
    FEE_PAID = "payments.fee_paid"
    ISSUE_RECEIPT = "payments.issue_receipt"
    SEND_REFUND = "payments.send_refund"
    RECONCILE_PENDING = "payments.reconcile_pending"


class RefundTooLarge(Conflict):
    code = "refund_too_large"
    default_message = N_("A refund cannot be more than what was paid and not yet refunded.")


def _snapshot(payment: Payment) -> dict[str, Any]:
    return {
        "state": payment.state,
        "amount_paisa": payment.amount_paisa,
        "paid_paisa": payment.paid_paisa,
        "refunded_paisa": payment.refunded_paisa,
    }


def move_payment(
    db: Session,
    *,
    payment: Payment,
    action: PaymentAction,
    actor: Actor,
    details: dict[str, Any] | None = None,
) -> None:
    """Apply one transition of the payment state machine and audit it."""
    before = _snapshot(payment)
    payment.state = next_payment_state(current=payment.state, action=action)
    payment.updated_at = utcnow()
    record_event(
        db,
        actor=actor,
        action=f"payment.{action}",
        object_type="payment",
        object_id=payment.id,
        before=before,
        after=_snapshot(payment) | (details or {}),
    )


_PSID_TAKEN = select(Payment.id).where(Payment.psid == bindparam("psid"))


def _unused_psid(db: Session) -> str:
    while True:
        psid = new_psid()
        if db.scalar(_PSID_TAKEN, {"psid": psid}) is None:
            return psid


def issue_challan(
    db: Session,
    *,
    settings: Settings,
    application_id: str,
    citizen_id: str,
    payer_name: str,
    agency_id: str,
    service_id: str,
    tracking_number: str | None,
    fee_tier: str | None,
    amount_paisa: int,
    actor: Actor,
) -> Payment:
    """Issue a PSID challan for a fee; any earlier unpaid challan of the application dies."""
    if amount_paisa <= 0:
        raise InvalidInput(N_("There is no fee to pay."))
    for earlier in live_payments(db, application_id=application_id):
        if earlier.state.settled:
            raise Conflict(N_("This fee is already paid."))
        move_payment(db, payment=earlier, action=PaymentAction.EXPIRE, actor=actor)
    now = utcnow()
    payment = Payment(
        psid=_unused_psid(db),
        provider=PSID_PROVIDER,
        state=PaymentState.CREATED,
        application_id=application_id,
        citizen_id=citizen_id,
        agency_id=agency_id,
        service_id=service_id,
        tracking_number=tracking_number,
        fee_tier=fee_tier,
        payer_name=payer_name[:200],
        amount_paisa=amount_paisa,
        due_at=now + timedelta(days=settings.psid_valid_days),
        created_at=now,
        updated_at=now,
    )
    db.add(payment)
    db.flush()
    move_payment(
        db,
        payment=payment,
        action=PaymentAction.ISSUE,
        actor=actor,
        details={"application_id": application_id, "due_at": payment.due_at.isoformat()},
    )
    return payment


# Every read of an application asks these two; built once, as the biller's below.
_LIVE_PAYMENTS = select(Payment).where(
    Payment.application_id == bindparam("application_id"),
    Payment.state.in_(
        [
            PaymentState.CREATED,
            PaymentState.PENDING,
            PaymentState.PAID,
            PaymentState.REFUND_PENDING,
            PaymentState.REFUNDED,
        ]
    ),
)
_LATEST_PAYMENT = (
    select(Payment)
    .where(Payment.application_id == bindparam("application_id"))
    .order_by(Payment.created_at.desc(), Payment.id)
    .limit(1)
)
# Several applications' payments, newest first within each (the first of each is its latest).
_PAYMENTS_OF_EACH = (
    select(Payment)
    .where(Payment.application_id.in_(bindparam("ids", expanding=True)))
    .order_by(Payment.created_at.desc(), Payment.id)
)


def live_payments(db: Session, *, application_id: str) -> Sequence[Payment]:
    """An application's payments that are owed or were paid (not expired, cancelled, failed)."""
    return db.scalars(_LIVE_PAYMENTS, {"application_id": application_id}).all()


def settled_instead(db: Session, *, payment: Payment) -> Payment | None:
    """The application's other payment that paid the fee, if one did (which is why
    ``payment`` was cancelled)."""
    return next(
        (
            other
            for other in live_payments(db, application_id=payment.application_id)
            if other.id != payment.id and other.state.settled
        ),
        None,
    )


def latest_payment(db: Session, *, application_id: str) -> Payment | None:
    """The newest payment of an application, whatever its state."""
    return db.scalar(_LATEST_PAYMENT, {"application_id": application_id})


def latest_payments(db: Session, *, application_ids: Collection[str]) -> dict[str, Payment]:
    """:func:`latest_payment` of several applications in one statement, by application
    (those with none are left out)."""
    latest: dict[str, Payment] = {}
    for payment in db.scalars(_PAYMENTS_OF_EACH, {"ids": list(application_ids)}):
        latest.setdefault(payment.application_id, payment)
    return latest


# Built once: the biller asks these at the rate citizens pay, and a statement built anew
# is compiled from the cache only after its key is worked out again.
_BY_PSID = select(Payment).where(Payment.psid == bindparam("psid"))
_BY_PSID_LOCKED = _BY_PSID.with_for_update()
_OTHER_UNPAID = select(Payment.id).where(
    Payment.application_id == bindparam("application_id"),
    Payment.id != bindparam("payment_id"),
    Payment.state.in_([PaymentState.CREATED, PaymentState.PENDING]),
)


def payment_by_psid(db: Session, *, psid: str, lock: bool = False) -> Payment | None:
    """The payment with this PSID; ``lock`` takes its row lock (PostgreSQL) for a credit."""
    return db.scalar(_BY_PSID_LOCKED if lock else _BY_PSID, {"psid": psid})


def is_past_due(payment: Payment, *, now: datetime | None = None) -> bool:
    """The challan's validity ended (it can no longer be paid)."""
    return (now or utcnow()) > payment.due_at


def expire_if_due(db: Session, *, payment: Payment, now: datetime | None = None) -> bool:
    """Mark an unpaid challan past its due date expired; whether it is (now) expired."""
    if payment.state == PaymentState.EXPIRED:
        return True
    if payment.state == PaymentState.PENDING and is_past_due(payment, now=now):
        move_payment(db, payment=payment, action=PaymentAction.EXPIRE, actor=Actor.system())
        return True
    return False


class CreditOutcome(StrEnum):
    """What came of money a channel reported."""

    CREDITED = "credited"
    DUPLICATE_TRANSACTION = "duplicate_transaction"
    PAID_TWICE = "paid_twice"


@dataclass(frozen=True)
class Credit:
    """One report of money taken: by whom, under which transaction id, how much, when."""

    channel: str
    transaction_id: str
    bank: str
    amount_paisa: int
    paid_at: datetime


# Asked for every payment the bank reports: built once.
_CREDIT_REPORTED = select(PaymentCredit.id).where(
    PaymentCredit.channel == bindparam("channel"),
    PaymentCredit.transaction_id == bindparam("transaction_id"),
)


def credit_exists(db: Session, *, channel: str, transaction_id: str) -> bool:
    """This channel already reported this transaction id."""
    return (
        db.scalar(_CREDIT_REPORTED, {"channel": channel, "transaction_id": transaction_id})
        is not None
    )


def credit_payment(db: Session, *, payment: Payment, credit: Credit, actor: Actor) -> CreditOutcome:
    """Record money taken for ``payment``; the caller holds the payment's row lock.

    The same transaction id again changes nothing. Money for a payment already paid is
    kept as a duplicate and refunded in full. Few statements, since banks call this at
    the rate citizens pay: the credit is added unless its transaction id is known (one
    statement, whichever way a race goes), and the jobs it starts are added together.
    """
    credit_id = new_public_id()
    duplicate = payment.state != PaymentState.PENDING
    added = insert_unless_present(
        db,
        table_of(PaymentCredit),
        {
            "id": credit_id,
            "payment_id": payment.id,
            "channel": credit.channel,
            "transaction_id": credit.transaction_id,
            "bank": credit.bank,
            "amount_paisa": credit.amount_paisa,
            "paid_at": credit.paid_at,
            "duplicate": duplicate,
            "received_at": utcnow(),
        },
        unique=["channel", "transaction_id"],
    )
    if not added:
        return CreditOutcome.DUPLICATE_TRANSACTION
    if duplicate:
        record_event(
            db,
            actor=actor,
            action="payment.paid_twice",
            object_type="payment",
            object_id=payment.id,
            after={"transaction_id": credit.transaction_id, "amount_paisa": credit.amount_paisa},
        )
        _start_refund(
            db,
            payment=payment,
            amount_paisa=credit.amount_paisa,
            reason="duplicate",
            reason_key=f"duplicate:{credit_id}",
            actor=actor,
            move_state=False,
        )
        return CreditOutcome.PAID_TWICE
    for sibling in _other_unpaid(db, payment):
        # Paid one way: the other ways to pay this fee die, so nobody pays twice.
        move_payment(db, payment=sibling, action=PaymentAction.CANCEL, actor=actor)
    payment.paid_paisa = credit.amount_paisa
    payment.paid_at = credit.paid_at
    payment.bank = credit.bank[:20] or None
    payment.transaction_id = credit.transaction_id
    move_payment(
        db,
        payment=payment,
        action=PaymentAction.PAY,
        actor=actor,
        details={"channel": credit.channel, "transaction_id": credit.transaction_id},
    )
    enqueue_all(
        db,
        [
            NewJob(
                kind=PaymentJob.FEE_PAID,
                payload={"application_id": payment.application_id, "payment_id": payment.id},
                idempotency_key=f"fee-paid:{payment.id}",
            ),
            NewJob(
                kind=PaymentJob.ISSUE_RECEIPT,
                payload={"payment_id": payment.id},
                idempotency_key=f"receipt:{payment.id}",
            ),
        ],
    )
    return CreditOutcome.CREDITED


def _other_unpaid(db: Session, payment: Payment) -> Sequence[Payment]:
    """The application's other challans or online payments still open to be paid."""
    # Usually none: asked by id alone, so the common answer carries one column, not all.
    ids = db.scalars(
        _OTHER_UNPAID, {"application_id": payment.application_id, "payment_id": payment.id}
    ).all()
    if not ids:
        return []
    return db.scalars(select(Payment).where(Payment.id.in_(ids)).order_by(Payment.id)).all()


def cancel_for_waiver(db: Session, *, payment: Payment, reason: str, actor: Actor) -> None:
    """An officer waived the fee: the unpaid challan is cancelled with the reason."""
    payment.note = reason
    move_payment(
        db, payment=payment, action=PaymentAction.CANCEL, actor=actor, details={"waived": reason}
    )


def cancel_unpaid(db: Session, *, application_id: str, actor: Actor) -> None:
    """Cancel any unpaid challan of an application (it was withdrawn)."""
    for payment in live_payments(db, application_id=application_id):
        if payment.state in (PaymentState.CREATED, PaymentState.PENDING):
            move_payment(db, payment=payment, action=PaymentAction.CANCEL, actor=actor)


def _refundable(db: Session, payment: Payment) -> int:
    """What may still go back for the application's own fee (duplicates are apart)."""
    already = db.scalar(
        select(func.coalesce(func.sum(PaymentRefund.amount_paisa), 0)).where(
            PaymentRefund.payment_id == payment.id, PaymentRefund.reason != "duplicate"
        )
    )
    return payment.paid_paisa - int(already or 0)


def _start_refund(
    db: Session,
    *,
    payment: Payment,
    amount_paisa: int,
    reason: str,
    reason_key: str,
    actor: Actor,
    move_state: bool,
) -> PaymentRefund:
    existing = db.scalar(
        select(PaymentRefund).where(
            PaymentRefund.payment_id == payment.id, PaymentRefund.reason_key == reason_key
        )
    )
    if existing is not None:
        return existing
    refund = PaymentRefund(
        payment_id=payment.id, amount_paisa=amount_paisa, reason=reason, reason_key=reason_key
    )
    db.add(refund)
    db.flush()
    details = {"refund_id": refund.id, "refund_paisa": amount_paisa, "reason": reason}
    if move_state:
        move_payment(
            db, payment=payment, action=PaymentAction.REQUEST_REFUND, actor=actor, details=details
        )
    else:
        record_event(
            db,
            actor=actor,
            action="payment.refund_requested",
            object_type="payment",
            object_id=payment.id,
            after=details,
        )
    enqueue(
        db,
        kind=PaymentJob.SEND_REFUND,
        payload={"refund_id": refund.id},
        idempotency_key=f"refund:{refund.id}",
    )
    return refund


def refund_fee(
    db: Session,
    *,
    application_id: str,
    reason: str,
    actor: Actor,
    amount_paisa: int | None = None,
) -> PaymentRefund | None:
    """Refund an application's paid fee (all of it unless ``amount_paisa``), at most once per
    reason, never more than was paid and not yet refunded. None when nothing was paid."""
    payment = db.scalar(
        select(Payment)
        .where(Payment.application_id == application_id, Payment.state == PaymentState.PAID)
        .with_for_update()
    )
    if payment is None:
        return None
    refundable = _refundable(db, payment)
    amount = refundable if amount_paisa is None else amount_paisa
    if amount <= 0 or amount > refundable:
        raise RefundTooLarge(fields={"amount": Message(RefundTooLarge.default_message)})
    return _start_refund(
        db,
        payment=payment,
        amount_paisa=amount,
        reason=reason,
        reason_key=reason,
        actor=actor,
        move_state=True,
    )


def complete_refund(db: Session, *, refund: PaymentRefund, actor: Actor) -> None:
    """The provider sent the money back: record it on the refund and the payment."""
    if refund.status == "done":
        return
    payment = db.get(Payment, refund.payment_id, with_for_update=True)
    if payment is None:
        raise NotFound()
    refund.status = "done"
    refund.completed_at = utcnow()
    if refund.reason == "duplicate":
        record_event(
            db,
            actor=actor,
            action="payment.duplicate_refunded",
            object_type="payment",
            object_id=payment.id,
            after={"refund_id": refund.id, "refund_paisa": refund.amount_paisa},
        )
        return
    payment.refunded_paisa += refund.amount_paisa
    move_payment(
        db,
        payment=payment,
        action=PaymentAction.COMPLETE_REFUND,
        actor=actor,
        details={"refund_id": refund.id},
    )


def refunds_of(db: Session, *, payment: Payment) -> Sequence[PaymentRefund]:
    """A payment's refunds, oldest first."""
    return (
        db.execute(
            select(PaymentRefund)
            .where(PaymentRefund.payment_id == payment.id)
            .order_by(PaymentRefund.created_at)
        )
        .scalars()
        .all()
    )


def payment_states_of(db: Session, *, application_ids: Sequence[str]) -> dict[str, PaymentState]:
    """The newest payment state of each application (for the officers' queue)."""
    states: dict[str, PaymentState] = {}
    if not application_ids:
        return states
    rows = db.execute(
        select(Payment.application_id, Payment.state)
        .where(Payment.application_id.in_(list(application_ids)))
        .order_by(Payment.created_at)
    )
    for application_id, state in rows:
        states[application_id] = state
    return states


def start_online_payment(
    db: Session, *, citizen_id: str, challan: Payment, idempotency_key: str, actor: Actor
) -> Payment:
    """A payment through the PSP for the same fee as ``challan``; the same key returns it."""
    earlier = db.scalar(select(Payment).where(Payment.idempotency_key == idempotency_key))
    if earlier is not None:
        if earlier.citizen_id != citizen_id:
            raise NotFound()
        return earlier
    if challan.state != PaymentState.PENDING:
        raise Conflict(N_("This fee cannot be paid now."))
    now = utcnow()
    payment = Payment(
        provider=PSP_PROVIDER,
        state=PaymentState.CREATED,
        application_id=challan.application_id,
        citizen_id=challan.citizen_id,
        agency_id=challan.agency_id,
        service_id=challan.service_id,
        tracking_number=challan.tracking_number,
        fee_tier=challan.fee_tier,
        payer_name=challan.payer_name,
        amount_paisa=challan.amount_paisa,
        due_at=challan.due_at,
        idempotency_key=idempotency_key,
        created_at=now,
        updated_at=now,
    )
    db.add(payment)
    db.flush()
    record_event(
        db,
        actor=actor,
        action="payment.created",
        object_type="payment",
        object_id=payment.id,
        after=_snapshot(payment) | {"provider": PSP_PROVIDER},
    )
    return payment


def apply_provider_status(
    db: Session,
    *,
    payment: Payment,
    status: str,
    amount_paisa: int,
    transaction_id: str,
    actor: Actor,
) -> None:
    """Bring a payment in line with what its provider says. States only move forward, so a
    late or repeated notice changes nothing."""
    if status == "success":
        if amount_paisa != payment.amount_paisa:
            record_event(
                db,
                actor=actor,
                action="payment.amount_mismatch",
                object_type="payment",
                object_id=payment.id,
                after={"reported_paisa": amount_paisa},
            )
            return
        credit_payment(
            db,
            payment=payment,
            credit=Credit(
                channel="psp",
                transaction_id=transaction_id or payment.provider_reference or payment.id,
                bank="PSP",
                amount_paisa=amount_paisa,
                paid_at=utcnow(),
            ),
            actor=actor,
        )
    elif status == "pending" and payment.state == PaymentState.CREATED:
        move_payment(db, payment=payment, action=PaymentAction.ISSUE, actor=actor)
    elif status in ("failed", "cancelled") and payment.state == PaymentState.PENDING:
        action = PaymentAction.FAIL if status == "failed" else PaymentAction.CANCEL
        move_payment(db, payment=payment, action=action, actor=actor)


def stuck_online_payments(db: Session, *, older_than: datetime) -> Sequence[Payment]:
    """Online payments still waiting for the provider's word since before ``older_than``."""
    return (
        db.execute(
            select(Payment)
            .where(
                Payment.provider == PSP_PROVIDER,
                Payment.state.in_([PaymentState.CREATED, PaymentState.PENDING]),
                Payment.created_at < older_than,
            )
            .limit(500)
        )
        .scalars()
        .all()
    )
