"""The life of a batch, as one explicit state machine.

    uploaded ──check──▶ checked ──approve──▶ approved ──start──▶ issuing ──finish──▶ done
                                                                 │  ▲
                                                           pause │  │ resume
                                                                 ▼  │
                                                                paused

``cancel`` is allowed from every state before ``done``; cancelled and done are final.
Approval is four-eyes: the officer who uploaded a register cannot approve it (checked in
the service, which knows who is who). Anything not in the table below is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from darwaza.errors import IllegalTransition
from darwaza.i18n import N_


class BatchState(StrEnum):
    """Where a batch stands."""

    UPLOADED = "uploaded"
    CHECKED = "checked"
    APPROVED = "approved"
    ISSUING = "issuing"
    PAUSED = "paused"
    DONE = "done"
    CANCELLED = "cancelled"

    @property
    def label(self) -> str:
        """What a person reads (an English msgid, translated where shown)."""
        return _STATE_LABELS[self]

    @property
    def finished(self) -> bool:
        """Done or cancelled: nothing more happens to it."""
        return self in (BatchState.DONE, BatchState.CANCELLED)


_STATE_LABELS: Final = MappingProxyType(
    {
        BatchState.UPLOADED: N_("Uploaded, being checked"),
        BatchState.CHECKED: N_("Checked, waiting for approval"),
        BatchState.APPROVED: N_("Approved"),
        BatchState.ISSUING: N_("Issuing"),
        BatchState.PAUSED: N_("Paused"),
        BatchState.DONE: N_("Done"),
        BatchState.CANCELLED: N_("Cancelled"),
    }
)


class BatchAction(StrEnum):
    """A move of a batch's state machine."""

    CHECK = "check"
    APPROVE = "approve"
    START = "start"
    PAUSE = "pause"
    RESUME = "resume"
    FINISH = "finish"
    CANCEL = "cancel"


@dataclass(frozen=True)
class Transition:
    action: BatchAction
    source: BatchState
    target: BatchState


_BEFORE_DONE: Final = (
    BatchState.UPLOADED,
    BatchState.CHECKED,
    BatchState.APPROVED,
    BatchState.ISSUING,
    BatchState.PAUSED,
)

TRANSITIONS: Final[tuple[Transition, ...]] = (
    Transition(BatchAction.CHECK, BatchState.UPLOADED, BatchState.CHECKED),
    Transition(BatchAction.APPROVE, BatchState.CHECKED, BatchState.APPROVED),
    Transition(BatchAction.START, BatchState.APPROVED, BatchState.ISSUING),
    Transition(BatchAction.PAUSE, BatchState.ISSUING, BatchState.PAUSED),
    Transition(BatchAction.PAUSE, BatchState.APPROVED, BatchState.PAUSED),
    Transition(BatchAction.RESUME, BatchState.PAUSED, BatchState.ISSUING),
    Transition(BatchAction.FINISH, BatchState.ISSUING, BatchState.DONE),
    Transition(BatchAction.FINISH, BatchState.APPROVED, BatchState.DONE),
    *(Transition(BatchAction.CANCEL, state, BatchState.CANCELLED) for state in _BEFORE_DONE),
)

_TABLE: Final = MappingProxyType({(t.action, t.source): t.target for t in TRANSITIONS})


def allowed_actions(state: BatchState) -> list[BatchAction]:
    """The moves open from ``state``, in the order of the table."""
    seen: list[BatchAction] = []
    for transition in TRANSITIONS:
        if transition.source == state and transition.action not in seen:
            seen.append(transition.action)
    return seen


def next_state(state: BatchState, action: BatchAction) -> BatchState:
    """Where ``action`` takes a batch in ``state``, or `IllegalTransition` (409)."""
    target = _TABLE.get((action, state))
    if target is None:
        raise IllegalTransition(N_("This batch cannot do that in its current state."))
    return target
