"""Writing and checking the audit trail.

Each event's hash covers its content and the previous event's hash, so editing,
deleting or inserting a row breaks the chain at that point and ``darwaza audit verify``
names it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import event as orm_events
from sqlalchemy import func, insert, select
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction

from darwaza.audit.actors import Actor
from darwaza.audit.models import AuditChainHead, AuditCheckpoint, AuditEvent
from darwaza.clock import numeric_date, utcnow
from darwaza.crypto.jws import MalformedJws, parse_compact_jws, sign_compact_jws
from darwaza.crypto.keys import SigningKey, VerifyingKey
from darwaza.database import insert_unless_present, table_of

GENESIS_HASH = "0" * 64


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def event_hash(
    *,
    previous_hash: str,
    event_id: int,
    at: datetime,
    actor_kind: str,
    actor_id: str | None,
    action: str,
    object_type: str,
    object_id: str | None,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    subject_id: str | None = None,
) -> str:
    """The SHA-256 over an event's content and the hash of the event before it.

    ``subject`` (whose personal data the event concerns) is hashed only when present, so
    events written before it existed keep their hashes.
    """
    content: dict[str, Any] = {
        "previous": previous_hash,
        "id": event_id,
        "at": at.isoformat(timespec="microseconds"),
        "actor": [actor_kind, actor_id],
        "action": action,
        "object": [object_type, object_id],
        "before": before,
        "after": after,
    }
    if subject_id is not None:
        content["subject"] = subject_id
    return hashlib.sha256(_canonical(content).encode()).hexdigest()


def record_event(
    db: Session,
    *,
    actor: Actor,
    action: str,
    object_type: str,
    object_id: str | None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    subject_id: str | None = None,
) -> None:
    """Append one event to the trail, in the caller's transaction.

    The event is only inserted: no lock is taken, so writers anywhere in the platform
    never wait on each other here. It is held until the session would flush (before its
    next statement, or at commit), and the events held then go in one ``INSERT``: a Core
    statement, as nothing reads them back as objects. :func:`sequence_events` later chains
    them in order. ``subject_id`` names the citizen whose records the event touches, so
    they can be told who looked (see :mod:`darwaza.audit.access`).
    """
    if not db.in_transaction():
        db.begin()  # as adding an object would: a rollback from here drops the event
    _unwritten(db).rows.append(
        {
            "at": utcnow(),
            "actor_kind": actor.kind,
            "actor_id": actor.id,
            "action": action,
            "object_type": object_type,
            "object_id": object_id,
            # Round-trip the JSON so what is stored is exactly what is read back and hashed.
            "before": json.loads(_canonical(before)) if before is not None else None,
            "after": json.loads(_canonical(after)) if after is not None else None,
            "subject_id": subject_id,
        }
    )


@dataclass
class _Unwritten:
    """A session's events not yet sent, and where each open savepoint began among them."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    savepoints: dict[int, int] = field(default_factory=dict)
    # The savepoint that ended last and where it began: a rollback is told after the end.
    ended: tuple[int, int] | None = None


_UNWRITTEN = "darwaza.audit.unwritten"
_INSERT_EVENTS = insert(table_of(AuditEvent))


def _unwritten(db: Session) -> _Unwritten:
    held = db.info.get(_UNWRITTEN)
    if held is None:
        held = db.info[_UNWRITTEN] = _Unwritten()
    return cast(_Unwritten, held)


def write_events(db: Session) -> None:
    """Send the events held so far, in the order they were recorded, in one statement."""
    held = db.info.get(_UNWRITTEN)
    if held is None or not held.rows:
        return
    rows, held.rows = held.rows, []
    held.savepoints = dict.fromkeys(held.savepoints, 0)
    db.connection().execute(_INSERT_EVENTS, rows)


@orm_events.listens_for(Session, "do_orm_execute")
def _before_statement(state: ORMExecuteState) -> None:
    # Where the ORM would autoflush, so a query in the same transaction sees the events.
    if state.session.autoflush:
        write_events(state.session)


@orm_events.listens_for(Session, "before_flush")
def _before_flush(session: Session, _context: Any, _instances: Any) -> None:
    write_events(session)


@orm_events.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    write_events(session)


@orm_events.listens_for(Session, "after_transaction_create")
def _savepoint_began(session: Session, transaction: SessionTransaction) -> None:
    if transaction.nested:
        held = _unwritten(session)
        held.savepoints[id(transaction)] = len(held.rows)


@orm_events.listens_for(Session, "after_transaction_end")
def _transaction_ended(session: Session, transaction: SessionTransaction) -> None:
    held = session.info.get(_UNWRITTEN)
    if held is None:
        return
    if transaction.nested:
        began = held.savepoints.pop(id(transaction), 0)
        held.ended = (id(transaction), began)
    elif transaction.parent is None:
        # Committed (and so written) or ended without a commit (rolled back, or the
        # session closed): nothing held may reach a later transaction of this session.
        held.rows.clear()
        held.savepoints.clear()


@orm_events.listens_for(Session, "after_soft_rollback")
def _rolled_back(session: Session, previous: SessionTransaction) -> None:
    # Events recorded inside a savepoint rolled back are dropped with it, as its rows are;
    # a whole transaction rolled back drops them all.
    held = session.info.get(_UNWRITTEN)
    if held is None:
        return
    if not previous.nested:
        held.rows.clear()
    elif held.ended is not None and held.ended[0] == id(previous):
        del held.rows[held.ended[1] :]


def _content_hash(event: AuditEvent, *, sequence: int, previous_hash: str) -> str:
    return event_hash(
        previous_hash=previous_hash,
        event_id=sequence,
        at=event.at,
        actor_kind=event.actor_kind,
        actor_id=event.actor_id,
        action=event.action,
        object_type=event.object_type,
        object_id=event.object_id,
        before=event.before,
        after=event.after,
        subject_id=event.subject_id,
    )


def _locked_head(db: Session) -> AuditChainHead:
    head = db.execute(
        select(AuditChainHead).where(AuditChainHead.id == 1).with_for_update()
    ).scalar_one_or_none()
    if head is None:
        # Two sequencers starting at once (two workers) both try: one row results.
        insert_unless_present(
            db,
            AuditChainHead,
            {"id": 1, "last_event_id": 0, "last_hash": GENESIS_HASH},
            unique=["id"],
        )
        head = db.execute(
            select(AuditChainHead).where(AuditChainHead.id == 1).with_for_update()
        ).scalar_one()
    return head


def sequence_events(db: Session, *, batch_size: int = 5000) -> int:
    """Chain the events committed since the last run, in the order they are found.

    Like a transparency log's sequencer: one writer at a time (it locks the chain's head
    row, which nothing else locks), each event gets the next position and a hash over its
    content and the hash before it. Returns how many events it chained.
    """
    head = _locked_head(db)
    events = db.scalars(
        select(AuditEvent)
        .where(AuditEvent.sequence.is_(None))
        .order_by(AuditEvent.id)
        .limit(batch_size)
    ).all()
    for event in events:
        position = head.last_event_id + 1
        digest = _content_hash(event, sequence=position, previous_hash=head.last_hash)
        event.sequence = position
        event.previous_hash = head.last_hash
        event.event_hash = digest
        head.last_event_id = position
        head.last_hash = digest
    db.flush()
    return len(events)


def sequence_all(db: Session) -> int:
    """Chain every event waiting; returns how many."""
    total = 0
    while chained := sequence_events(db):
        total += chained
    return total


@dataclass(frozen=True)
class ChainCheck:
    """The result of checking the trail: events checked, the first broken one, and how
    many events are recorded but not yet chained (covered by nothing yet)."""

    events_checked: int
    first_problem: str | None
    waiting: int = 0

    @property
    def intact(self) -> bool:
        return self.first_problem is None


def verify_chain(db: Session, *, batch_size: int = 5000) -> ChainCheck:
    """Walk the chain in order and report the first edited, deleted or inserted event."""
    expected_previous = GENESIS_HASH
    expected = 1
    checked = 0
    while True:
        events = db.scalars(
            select(AuditEvent)
            .where(AuditEvent.sequence >= expected)
            .order_by(AuditEvent.sequence)
            .limit(batch_size)
        ).all()
        if not events:
            break
        for event in events:
            if event.sequence != expected:
                return ChainCheck(
                    checked, f"event {expected} is missing (found {event.sequence} next)"
                )
            if event.previous_hash != expected_previous:
                return ChainCheck(checked, f"event {expected} does not follow event {expected - 1}")
            recomputed = _content_hash(event, sequence=expected, previous_hash=expected_previous)
            if recomputed != event.event_hash:
                return ChainCheck(checked, f"event {expected} was edited")
            expected_previous = recomputed
            expected += 1
            checked += 1
        db.expunge_all()
    head = db.get(AuditChainHead, 1)
    if head is not None and head.last_event_id != checked:
        return ChainCheck(
            checked, f"events after {checked} were deleted (the head names {head.last_event_id})"
        )
    waiting = db.scalar(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.sequence.is_(None))
    )
    return ChainCheck(checked, None, int(waiting or 0))


CHECKPOINT_TYP = "darwaza-audit-checkpoint+jwt"


def create_checkpoint(db: Session, *, signing_key: SigningKey, kid: str) -> AuditCheckpoint | None:
    """Sign the chain's current head with the platform's root key (``None`` if nothing new).

    A checkpoint pins the chain up to that event: rewriting history behind it, even with
    every later hash recomputed, no longer matches the signature.
    """
    head = db.get(AuditChainHead, 1)
    if head is None or head.last_event_id == 0:
        return None
    if db.scalar(
        select(AuditCheckpoint).where(AuditCheckpoint.last_event_id == head.last_event_id)
    ):
        return None
    signature = sign_compact_jws(
        {"alg": "ES256", "typ": CHECKPOINT_TYP, "kid": kid},
        {
            "last_event_id": head.last_event_id,
            "last_hash": head.last_hash,
            "iat": numeric_date(utcnow()),
        },
        signing_key,
    )
    checkpoint = AuditCheckpoint(
        last_event_id=head.last_event_id, last_hash=head.last_hash, signature=signature
    )
    db.add(checkpoint)
    db.flush()
    return checkpoint


@dataclass(frozen=True)
class CheckpointsCheck:
    """What the signed checkpoints say of the chain."""

    problem: str | None
    covered_up_to: int  # the newest chained event an anchored checkpoint covers


def _signed_head(
    signature: str, public_key_for_kid: Callable[[str], VerifyingKey | None]
) -> tuple[int, str] | None:
    """The (event, hash) a checkpoint signs, if its signature is a root key's."""
    try:
        jws = parse_compact_jws(signature)
    except MalformedJws:
        return None
    kid = jws.header.get("kid")
    key = public_key_for_kid(kid) if isinstance(kid, str) else None
    if key is None or not jws.signature_valid(key):
        return None
    event, digest = jws.payload.get("last_event_id"), jws.payload.get("last_hash")
    if isinstance(event, bool) or not isinstance(event, int) or not isinstance(digest, str):
        return None
    return event, digest


def _chain_matches(db: Session, event_sequence: int, digest: str) -> bool:
    event = db.scalar(select(AuditEvent).where(AuditEvent.sequence == event_sequence))
    return event is not None and event.event_hash == digest


def verify_checkpoints(
    db: Session,
    *,
    public_key_for_kid: Callable[[str], VerifyingKey | None],
    anchored: Sequence[str] = (),
) -> CheckpointsCheck:
    """Check every checkpoint, in the database and anchored outside it, against the chain.

    A checkpoint that no longer matches means the chain was rewritten behind it; one
    anchored outside but missing from the database means checkpoints were deleted.
    """
    kept = {
        checkpoint.last_event_id: checkpoint
        for checkpoint in db.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.id))
    }
    for at, checkpoint in kept.items():
        signed = _signed_head(checkpoint.signature, public_key_for_kid)
        if signed is None:
            return CheckpointsCheck(f"checkpoint at event {at} has a bad signature", 0)
        if signed != (at, checkpoint.last_hash):
            return CheckpointsCheck(f"checkpoint at event {at} was edited", 0)
        if not _chain_matches(db, at, checkpoint.last_hash):
            return CheckpointsCheck(
                f"the chain was rewritten before event {at} "
                "(it no longer matches the signed checkpoint)",
                0,
            )
    covered = 0
    for signature in anchored:
        signed = _signed_head(signature, public_key_for_kid)
        if signed is None:
            return CheckpointsCheck("an anchored checkpoint has a bad signature", covered)
        at, digest = signed
        if not _chain_matches(db, at, digest):
            return CheckpointsCheck(
                f"the chain was rewritten before event {at} "
                "(it no longer matches the checkpoint anchored outside the database)",
                covered,
            )
        if at not in kept:
            return CheckpointsCheck(
                f"the checkpoint at event {at} was deleted from the database "
                "(it is still anchored outside it)",
                covered,
            )
        covered = max(covered, at)
    return CheckpointsCheck(None, covered)
