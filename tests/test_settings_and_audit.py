"""Settings refuse unsafe production use; the audit trail detects tampering."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from darwaza.audit.actors import Actor
from darwaza.audit.models import AuditEvent
from darwaza.audit.trail import record_event, sequence_all, verify_chain
from darwaza.cli import main
from darwaza.settings import InsecureSettings, Settings
from tests.journeys import forget_settings


def test_production_refuses_the_default_secrets() -> None:
    with pytest.raises(InsecureSettings, match="DARWAZA_SECRET_KEY"):
        Settings(env="production")


def test_production_starts_with_real_secrets() -> None:
    settings = Settings(env="production", secret_key="s" * 40, key_sealing_secret="k" * 40)
    assert settings.env == "production"


def test_cli_refuses_production_with_default_secrets(monkeypatch: pytest.MonkeyPatch) -> None:

    forget_settings()
    monkeypatch.setenv("DARWAZA_ENV", "production")
    try:
        result = CliRunner().invoke(main, ["db", "upgrade"])
    finally:
        forget_settings()
    assert result.exit_code != 0
    assert "DARWAZA_SECRET_KEY" in result.output


def _three_events(db: Session) -> int:
    """Append three events; returns how many the trail held before them."""
    sequence_all(db)
    before = verify_chain(db).events_checked
    db.commit()
    for number in range(3):
        record_event(
            db,
            actor=Actor.system(),
            action="test.step",
            object_type="test",
            object_id=str(number),
            before={"n": number},
            after={"n": number + 1},
        )
    db.commit()
    sequence_all(db)  # the sequencer chains them, as the server does every few seconds
    db.commit()
    return before


def test_an_untouched_trail_verifies(db: Session) -> None:
    before = _three_events(db)
    result = verify_chain(db)
    assert result.intact and result.events_checked == before + 3


def test_an_edited_event_is_named(db: Session) -> None:
    second = _three_events(db) + 2
    db.execute(update(AuditEvent).where(AuditEvent.sequence == second).values(action="test.forged"))
    db.commit()
    result = verify_chain(db)
    assert result.first_problem == f"event {second} was edited"


def test_a_deleted_event_is_named(db: Session) -> None:
    second = _three_events(db) + 2
    db.execute(text("DELETE FROM audit_events WHERE sequence = :id"), {"id": second})
    db.commit()
    assert verify_chain(db).first_problem == f"event {second} is missing (found {second + 1} next)"


def test_a_deleted_last_event_is_noticed(db: Session) -> None:
    last = _three_events(db) + 3
    db.execute(text("DELETE FROM audit_events WHERE sequence = :id"), {"id": last})
    db.commit()
    assert "deleted" in (verify_chain(db).first_problem or "")


def _actions(db: Session, prefix: str) -> list[str]:
    return list(
        db.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.action.startswith(prefix))
            .order_by(AuditEvent.id)
        )
    )


def _note(db: Session, action: str) -> None:
    record_event(db, actor=Actor.system(), action=action, object_type="test", object_id=None)


def test_events_are_written_in_the_order_recorded_and_seen_in_the_same_transaction(
    db: Session,
) -> None:
    _note(db, "order.first")
    _note(db, "order.second")
    assert _actions(db, "order.") == ["order.first", "order.second"]
    _note(db, "order.third")
    db.commit()
    assert _actions(db, "order.") == ["order.first", "order.second", "order.third"]


def test_events_of_a_rolled_back_savepoint_go_with_it_and_the_rest_stay(db: Session) -> None:
    _note(db, "savepoint.before")
    savepoint = db.begin_nested()
    _note(db, "savepoint.inside")
    savepoint.rollback()
    with db.begin_nested():
        _note(db, "savepoint.kept")
    _note(db, "savepoint.after")
    db.commit()
    assert _actions(db, "savepoint.") == ["savepoint.before", "savepoint.kept", "savepoint.after"]


def test_events_of_a_rolled_back_transaction_are_not_written(db: Session) -> None:
    _note(db, "rollback.lost")
    db.rollback()
    _note(db, "rollback.kept")
    db.commit()
    assert _actions(db, "rollback.") == ["rollback.kept"]


def test_events_of_a_session_closed_without_commit_do_not_reach_its_next_transaction(
    db: Session,
) -> None:
    _note(db, "closed.lost")
    db.close()
    _note(db, "closed.kept")
    db.commit()
    assert _actions(db, "closed.") == ["closed.kept"]
