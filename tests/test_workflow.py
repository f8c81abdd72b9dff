"""The application state machine: every allowed move works, everything else is refused."""

from __future__ import annotations

import itertools

import pytest
from stdnum import verhoeff

from darwaza.applications import workflow
from darwaza.applications.tracking import new_tracking_number
from darwaza.errors import IllegalTransition

ALLOWED = {
    (t.action, source, t.by): t.target
    for t in workflow.TRANSITIONS.values()
    for source in t.sources
}


def test_the_documented_path_from_draft_to_decision_is_allowed() -> None:
    state = workflow.ApplicationState.DRAFT
    for action, by in [
        ("submit", workflow.Party.CITIZEN),
        ("claim", workflow.Party.OFFICER),
        ("request_info", workflow.Party.OFFICER),
        ("respond", workflow.Party.CITIZEN),
        ("claim", workflow.Party.OFFICER),
        ("approve", workflow.Party.OFFICER),
    ]:
        state = workflow.next_state(current=state, action=action, by=by)
    assert state == workflow.ApplicationState.APPROVED


@pytest.mark.parametrize(
    ("state", "action", "by"),
    [
        (state, action, by)
        for state, action, by in itertools.product(
            workflow.ApplicationState,
            workflow.TRANSITIONS,
            workflow.Party,
        )
        if (action, state, by) not in ALLOWED
    ],
)
def test_every_other_move_is_refused(state: str, action: str, by: str) -> None:
    with pytest.raises(IllegalTransition):
        workflow.next_state(current=state, action=action, by=by)


def test_a_fee_holds_the_application_until_paid_or_waived() -> None:
    waiting = workflow.next_state(
        current="draft", action="submit_with_fee", by=workflow.Party.CITIZEN
    )
    assert waiting == workflow.ApplicationState.AWAITING_PAYMENT
    assert not waiting.open_for_officers
    assert workflow.allowed_actions(waiting, workflow.Party.OFFICER) == ["waive_fee"]
    assert workflow.allowed_actions(waiting, workflow.Party.SYSTEM) == ["fee_paid"]
    assert workflow.allowed_actions(waiting, workflow.Party.CITIZEN) == ["withdraw"]
    for by in (workflow.Party.CITIZEN, workflow.Party.OFFICER):
        with pytest.raises(IllegalTransition):
            workflow.next_state(current=waiting, action="fee_paid", by=by)
    paid = workflow.next_state(current=waiting, action="fee_paid", by=workflow.Party.SYSTEM)
    assert paid == workflow.ApplicationState.SUBMITTED


def test_no_move_leaves_a_decision() -> None:
    for state in workflow.FINAL_STATES:
        assert workflow.allowed_actions(state, workflow.Party.CITIZEN) == []
        assert workflow.allowed_actions(state, workflow.Party.OFFICER) == []


def test_citizen_may_withdraw_until_the_decision() -> None:
    for state in (
        workflow.ApplicationState.AWAITING_PAYMENT,
        workflow.ApplicationState.SUBMITTED,
        workflow.ApplicationState.IN_REVIEW,
        workflow.ApplicationState.INFO_REQUESTED,
        workflow.ApplicationState.RESUBMITTED,
    ):
        assert "withdraw" in workflow.allowed_actions(state, workflow.Party.CITIZEN)


def test_tracking_numbers_carry_a_check_digit_that_catches_typos() -> None:
    number = new_tracking_number()
    assert number.startswith("DZ-") and len(number) == len("DZ-1234-5678-90")
    digits = "".join(ch for ch in number if ch.isdigit())
    assert verhoeff.is_valid(digits)
    for position in range(len(digits)):
        wrong = digits[:position] + str((int(digits[position]) + 1) % 10) + digits[position + 1 :]
        assert not verhoeff.is_valid(wrong)
    swapped = digits[1] + digits[0] + digits[2:]
    if swapped != digits:
        assert not verhoeff.is_valid(swapped)
