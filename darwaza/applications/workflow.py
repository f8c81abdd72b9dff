"""The workflow of an application, as one explicit state machine.

    draft ──submit──▶ submitted ──claim──▶ in_review ──approve──▶ approved
                         ▲   ◀──release──     │    ──reject───▶ rejected
                         │                    │
                         │            request_info
                         │                    ▼
        resubmitted ◀──respond── info_requested
            └──claim──▶ in_review

A citizen may withdraw at any point before a decision. Anything not in the table
below is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from darwaza.errors import IllegalTransition
from darwaza.i18n import N_

DRAFT: Final = "draft"
SUBMITTED: Final = "submitted"
IN_REVIEW: Final = "in_review"
INFO_REQUESTED: Final = "info_requested"
RESUBMITTED: Final = "resubmitted"
APPROVED: Final = "approved"
REJECTED: Final = "rejected"
WITHDRAWN: Final = "withdrawn"

STATES: Final = (
    DRAFT,
    SUBMITTED,
    IN_REVIEW,
    INFO_REQUESTED,
    RESUBMITTED,
    APPROVED,
    REJECTED,
    WITHDRAWN,
)
FINAL_STATES: Final = frozenset({APPROVED, REJECTED, WITHDRAWN})
OPEN_FOR_OFFICERS: Final = frozenset({SUBMITTED, IN_REVIEW, INFO_REQUESTED, RESUBMITTED})

STATE_LABELS: Final = {
    DRAFT: N_("Draft"),
    SUBMITTED: N_("Submitted"),
    IN_REVIEW: N_("In review"),
    INFO_REQUESTED: N_("Information requested"),
    RESUBMITTED: N_("Answered, back with the agency"),
    APPROVED: N_("Approved"),
    REJECTED: N_("Rejected"),
    WITHDRAWN: N_("Withdrawn"),
}

STEP_LABELS: Final = {
    "created": N_("Started"),
    "submit": N_("Submitted"),
    "claim": N_("An officer started the review"),
    "release": N_("Returned to the queue"),
    "request_info": N_("The agency asked for information"),
    "respond": N_("You answered"),
    "approve": N_("Approved"),
    "reject": N_("Rejected"),
    "withdraw": N_("Withdrawn"),
}

CITIZEN: Final = "citizen"
OFFICER: Final = "officer"


@dataclass(frozen=True)
class Transition:
    """One allowed move: from which states, to which state, and who may make it."""

    action: str
    sources: frozenset[str]
    target: str
    by: str


TRANSITIONS: Final[dict[str, Transition]] = {
    t.action: t
    for t in (
        Transition("submit", frozenset({DRAFT}), SUBMITTED, CITIZEN),
        Transition("claim", frozenset({SUBMITTED, RESUBMITTED}), IN_REVIEW, OFFICER),
        Transition("release", frozenset({IN_REVIEW}), SUBMITTED, OFFICER),
        Transition("request_info", frozenset({IN_REVIEW}), INFO_REQUESTED, OFFICER),
        Transition("respond", frozenset({INFO_REQUESTED}), RESUBMITTED, CITIZEN),
        Transition("approve", frozenset({IN_REVIEW}), APPROVED, OFFICER),
        Transition("reject", frozenset({IN_REVIEW}), REJECTED, OFFICER),
        Transition(
            "withdraw",
            frozenset({DRAFT, SUBMITTED, IN_REVIEW, INFO_REQUESTED, RESUBMITTED}),
            WITHDRAWN,
            CITIZEN,
        ),
    )
}


def next_state(*, current: str, action: str, by: str) -> str:
    """The state after ``action``, or :class:`IllegalTransition` if it is not allowed."""
    transition = TRANSITIONS.get(action)
    if transition is None or transition.by != by or current not in transition.sources:
        raise IllegalTransition()
    return transition.target


def allowed_actions(current: str, by: str) -> list[str]:
    """The actions ``by`` may take from ``current`` (for showing buttons)."""
    return [t.action for t in TRANSITIONS.values() if t.by == by and current in t.sources]
