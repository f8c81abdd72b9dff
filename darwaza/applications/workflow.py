"""The workflow of an application, as one explicit state machine.

    draft ──submit──▶ submitted ──claim──▶ in_review ──approve──▶ approved
      │                 ▲        ◀──release──     │    ──reject───▶ rejected
      │ submit_with_fee │ fee_paid (system)       │
      ▼                 │ or waive_fee (officer)  request_info
    awaiting_payment ───┘                         ▼
                  resubmitted ◀──respond── info_requested
                      └──claim──▶ in_review

A service with a fee waits in awaiting_payment, out of the officers' queue, until the
payments domain reports the fee paid or an officer waives it. A citizen may withdraw at
any point before a decision. Anything not in the table below is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from darwaza.errors import IllegalTransition
from darwaza.i18n import N_


class ApplicationState(StrEnum):
    """Where an application stands."""

    DRAFT = "draft"
    AWAITING_PAYMENT = "awaiting_payment"
    SUBMITTED = "submitted"
    IN_REVIEW = "in_review"
    INFO_REQUESTED = "info_requested"
    RESUBMITTED = "resubmitted"
    APPROVED = "approved"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"

    @property
    def label(self) -> str:
        """What a person reads (an English msgid, translated where shown)."""
        return _STATE_LABELS[self]

    @property
    def open_for_officers(self) -> bool:
        """Submitted and not yet decided: in the agency's queue."""
        return self in OPEN_FOR_OFFICERS


class Action(StrEnum):
    """A step on an application's timeline: its start, or a move of the state machine."""

    START = "created"
    SUBMIT = "submit"
    SUBMIT_WITH_FEE = "submit_with_fee"
    FEE_PAID = "fee_paid"
    WAIVE_FEE = "waive_fee"
    CLAIM = "claim"
    RELEASE = "release"
    REQUEST_INFO = "request_info"
    RESPOND = "respond"
    APPROVE = "approve"
    REJECT = "reject"
    WITHDRAW = "withdraw"

    @property
    def label(self) -> str:
        """What the citizen reads on the timeline."""
        return _ACTION_LABELS[self]


class Party(StrEnum):
    """Who may take a transition."""

    CITIZEN = "citizen"
    OFFICER = "officer"
    # The platform itself, acting on an outside event (a fee paid at a bank).
    SYSTEM = "system"


FINAL_STATES: Final = frozenset(
    {ApplicationState.APPROVED, ApplicationState.REJECTED, ApplicationState.WITHDRAWN}
)
OPEN_FOR_OFFICERS: Final = frozenset(
    {
        ApplicationState.SUBMITTED,
        ApplicationState.IN_REVIEW,
        ApplicationState.INFO_REQUESTED,
        ApplicationState.RESUBMITTED,
    }
)

_STATE_LABELS: Final = {
    ApplicationState.DRAFT: N_("Draft"),
    ApplicationState.AWAITING_PAYMENT: N_("Waiting for the fee"),
    ApplicationState.SUBMITTED: N_("Submitted"),
    ApplicationState.IN_REVIEW: N_("In review"),
    ApplicationState.INFO_REQUESTED: N_("Information requested"),
    ApplicationState.RESUBMITTED: N_("Answered, back with the agency"),
    ApplicationState.APPROVED: N_("Approved"),
    ApplicationState.REJECTED: N_("Rejected"),
    ApplicationState.WITHDRAWN: N_("Withdrawn"),
}

_ACTION_LABELS: Final = {
    Action.START: N_("Started"),
    Action.SUBMIT: N_("Submitted"),
    Action.SUBMIT_WITH_FEE: N_("Submitted; the fee is due"),
    Action.FEE_PAID: N_("The fee was paid"),
    Action.WAIVE_FEE: N_("The agency waived the fee"),
    Action.CLAIM: N_("An officer started the review"),
    Action.RELEASE: N_("Returned to the queue"),
    Action.REQUEST_INFO: N_("The agency asked for information"),
    Action.RESPOND: N_("You answered"),
    Action.APPROVE: N_("Approved"),
    Action.REJECT: N_("Rejected"),
    Action.WITHDRAW: N_("Withdrawn"),
}


@dataclass(frozen=True)
class Transition:
    """One allowed move: from which states, to which state, and who may make it."""

    action: Action
    sources: frozenset[ApplicationState]
    target: ApplicationState
    by: Party


_S = ApplicationState
TRANSITIONS: Final[dict[Action, Transition]] = {
    t.action: t
    for t in (
        Transition(Action.SUBMIT, frozenset({_S.DRAFT}), _S.SUBMITTED, Party.CITIZEN),
        Transition(
            Action.SUBMIT_WITH_FEE, frozenset({_S.DRAFT}), _S.AWAITING_PAYMENT, Party.CITIZEN
        ),
        Transition(Action.FEE_PAID, frozenset({_S.AWAITING_PAYMENT}), _S.SUBMITTED, Party.SYSTEM),
        Transition(Action.WAIVE_FEE, frozenset({_S.AWAITING_PAYMENT}), _S.SUBMITTED, Party.OFFICER),
        Transition(
            Action.CLAIM, frozenset({_S.SUBMITTED, _S.RESUBMITTED}), _S.IN_REVIEW, Party.OFFICER
        ),
        Transition(Action.RELEASE, frozenset({_S.IN_REVIEW}), _S.SUBMITTED, Party.OFFICER),
        Transition(
            Action.REQUEST_INFO, frozenset({_S.IN_REVIEW}), _S.INFO_REQUESTED, Party.OFFICER
        ),
        Transition(Action.RESPOND, frozenset({_S.INFO_REQUESTED}), _S.RESUBMITTED, Party.CITIZEN),
        Transition(Action.APPROVE, frozenset({_S.IN_REVIEW}), _S.APPROVED, Party.OFFICER),
        Transition(Action.REJECT, frozenset({_S.IN_REVIEW}), _S.REJECTED, Party.OFFICER),
        Transition(
            Action.WITHDRAW,
            frozenset({_S.DRAFT, _S.AWAITING_PAYMENT, *OPEN_FOR_OFFICERS}),
            _S.WITHDRAWN,
            Party.CITIZEN,
        ),
    )
}


def next_state(*, current: str, action: str, by: Party) -> ApplicationState:
    """The state after ``action``, or :class:`IllegalTransition` if it is not allowed."""
    transition = TRANSITIONS.get(Action(action)) if action in set(Action) else None
    if transition is None or transition.by != by or current not in transition.sources:
        raise IllegalTransition()
    return transition.target


def allowed_actions(current: str, by: Party) -> list[Action]:
    """The actions ``by`` may take from ``current`` (for showing buttons)."""
    return [t.action for t in TRANSITIONS.values() if t.by == by and current in t.sources]
