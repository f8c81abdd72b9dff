"""The life of a payment, as one explicit state machine.

    created ──issue──▶ pending ──pay──▶ paid ──request_refund──▶ refund_pending
       │                 │                ▲                          │
       │                 ├──expire──▶ expired                        ├──complete_refund──▶ refunded
       └──cancel─────────┼──cancel──▶ cancelled                      └──refund_failed──▶ paid
                         └──fail────▶ failed

A refund may be partial: ``refunded`` records how much went back, never more than was
paid. Anything not in the table below is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from darwaza.errors import IllegalTransition
from darwaza.i18n import N_


class PaymentState(StrEnum):
    """Where a payment stands."""

    CREATED = "created"
    PENDING = "pending"
    PAID = "paid"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    FAILED = "failed"
    REFUND_PENDING = "refund_pending"
    REFUNDED = "refunded"

    @property
    def label(self) -> str:
        """What a person reads (an English msgid, translated where shown)."""
        return _STATE_LABELS[self]

    @property
    def settled(self) -> bool:
        """Money was received (whatever happened to it afterwards)."""
        return self in (PaymentState.PAID, PaymentState.REFUND_PENDING, PaymentState.REFUNDED)


class PaymentAction(StrEnum):
    """A move of the payment state machine."""

    ISSUE = "issue"
    PAY = "pay"
    EXPIRE = "expire"
    CANCEL = "cancel"
    FAIL = "fail"
    REQUEST_REFUND = "request_refund"
    COMPLETE_REFUND = "complete_refund"
    REFUND_FAILED = "refund_failed"


_STATE_LABELS: Final = {
    PaymentState.CREATED: N_("Not yet issued"),
    PaymentState.PENDING: N_("Unpaid"),
    PaymentState.PAID: N_("Paid"),
    PaymentState.EXPIRED: N_("Expired"),
    PaymentState.CANCELLED: N_("Cancelled"),
    PaymentState.FAILED: N_("Failed"),
    PaymentState.REFUND_PENDING: N_("Refund on its way"),
    PaymentState.REFUNDED: N_("Refunded"),
}


@dataclass(frozen=True)
class PaymentTransition:
    """One allowed move: from which states, to which state."""

    action: PaymentAction
    sources: frozenset[PaymentState]
    target: PaymentState


_S = PaymentState
_A = PaymentAction
TRANSITIONS: Final[dict[PaymentAction, PaymentTransition]] = {
    t.action: t
    for t in (
        PaymentTransition(_A.ISSUE, frozenset({_S.CREATED}), _S.PENDING),
        PaymentTransition(_A.PAY, frozenset({_S.PENDING}), _S.PAID),
        PaymentTransition(_A.EXPIRE, frozenset({_S.CREATED, _S.PENDING}), _S.EXPIRED),
        PaymentTransition(_A.CANCEL, frozenset({_S.CREATED, _S.PENDING}), _S.CANCELLED),
        PaymentTransition(_A.FAIL, frozenset({_S.PENDING}), _S.FAILED),
        PaymentTransition(_A.REQUEST_REFUND, frozenset({_S.PAID}), _S.REFUND_PENDING),
        PaymentTransition(_A.COMPLETE_REFUND, frozenset({_S.REFUND_PENDING}), _S.REFUNDED),
        PaymentTransition(_A.REFUND_FAILED, frozenset({_S.REFUND_PENDING}), _S.PAID),
    )
}


class IllegalPaymentTransition(IllegalTransition):
    code = "illegal_payment_transition"
    default_message = N_("This payment cannot do that in its current state.")


def next_payment_state(*, current: str, action: str) -> PaymentState:
    """The state after ``action``, or :class:`IllegalPaymentTransition`."""
    transition = TRANSITIONS.get(PaymentAction(action)) if action in set(PaymentAction) else None
    if transition is None or current not in transition.sources:
        raise IllegalPaymentTransition()
    return transition.target


def allowed_payment_actions(current: str) -> list[PaymentAction]:
    """The actions possible from ``current``."""
    return [t.action for t in TRANSITIONS.values() if current in t.sources]
