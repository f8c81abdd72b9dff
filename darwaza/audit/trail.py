"""Writing and checking the audit trail.

Each event's hash covers its content and the previous event's hash, so editing,
deleting or inserting a row breaks the chain at that point and ``darwaza audit verify``
names it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from darwaza.audit.models import AuditChainHead, AuditCheckpoint, AuditEvent
from darwaza.database import utcnow

GENESIS_HASH = "0" * 64


@dataclass(frozen=True)
class Actor:
    """Who caused a change: a citizen, a staff member, the system, or an operator's CLI."""

    kind: str
    id: str | None = None

    @classmethod
    def system(cls) -> Actor:
        return cls(kind="system")

    @classmethod
    def operator(cls) -> Actor:
        return cls(kind="operator")


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
) -> str:
    """The SHA-256 over an event's content and the hash of the event before it."""
    content = _canonical(
        {
            "previous": previous_hash,
            "id": event_id,
            "at": at.isoformat(timespec="microseconds"),
            "actor": [actor_kind, actor_id],
            "action": action,
            "object": [object_type, object_id],
            "before": before,
            "after": after,
        }
    )
    return hashlib.sha256(content.encode()).hexdigest()


def record_event(
    db: Session,
    *,
    actor: Actor,
    action: str,
    object_type: str,
    object_id: str | None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event to the trail, in the caller's transaction."""
    head = db.execute(
        select(AuditChainHead).where(AuditChainHead.id == 1).with_for_update()
    ).scalar_one_or_none()
    if head is None:
        head = AuditChainHead(id=1, last_event_id=0, last_hash=GENESIS_HASH)
        db.add(head)
    at = utcnow()
    # Round-trip the JSON so the hash covers exactly what the database will return.
    before = json.loads(_canonical(before)) if before is not None else None
    after = json.loads(_canonical(after)) if after is not None else None
    event_id = head.last_event_id + 1
    digest = event_hash(
        previous_hash=head.last_hash,
        event_id=event_id,
        at=at,
        actor_kind=actor.kind,
        actor_id=actor.id,
        action=action,
        object_type=object_type,
        object_id=object_id,
        before=before,
        after=after,
    )
    event = AuditEvent(
        id=event_id,
        at=at,
        actor_kind=actor.kind,
        actor_id=actor.id,
        action=action,
        object_type=object_type,
        object_id=object_id,
        before=before,
        after=after,
        previous_hash=head.last_hash,
        event_hash=digest,
    )
    db.add(event)
    head.last_event_id = event_id
    head.last_hash = digest
    db.flush()
    return event


@dataclass(frozen=True)
class ChainCheck:
    """The result of checking the trail: how many events, and the first broken one."""

    events_checked: int
    first_problem: str | None

    @property
    def intact(self) -> bool:
        return self.first_problem is None


def verify_chain(db: Session, *, batch_size: int = 5000) -> ChainCheck:
    """Walk the whole trail in order and report the first edited, deleted or inserted event."""
    expected_previous = GENESIS_HASH
    expected_id = 1
    checked = 0
    last_id = 0
    while True:
        events = (
            db.execute(
                select(AuditEvent)
                .where(AuditEvent.id > last_id)
                .order_by(AuditEvent.id)
                .limit(batch_size)
            )
            .scalars()
            .all()
        )
        if not events:
            break
        for event in events:
            if event.id != expected_id:
                return ChainCheck(
                    checked, f"event {expected_id} is missing (found {event.id} next)"
                )
            if event.previous_hash != expected_previous:
                return ChainCheck(checked, f"event {event.id} does not follow event {event.id - 1}")
            recomputed = event_hash(
                previous_hash=event.previous_hash,
                event_id=event.id,
                at=event.at,
                actor_kind=event.actor_kind,
                actor_id=event.actor_id,
                action=event.action,
                object_type=event.object_type,
                object_id=event.object_id,
                before=event.before,
                after=event.after,
            )
            if recomputed != event.event_hash:
                return ChainCheck(checked, f"event {event.id} was edited")
            expected_previous = event.event_hash
            expected_id += 1
            checked += 1
            last_id = event.id
        db.expunge_all()
    head = db.get(AuditChainHead, 1)
    if head is not None and head.last_event_id != checked:
        return ChainCheck(
            checked, f"events after {checked} were deleted (the head names {head.last_event_id})"
        )
    return ChainCheck(checked, None)


CHECKPOINT_TYP = "darwaza-audit-checkpoint+jwt"


def create_checkpoint(db: Session, *, signing_key: Any, kid: str) -> AuditCheckpoint | None:
    """Sign the chain's current head with the platform's root key (``None`` if nothing new).

    A checkpoint pins the chain up to that event: rewriting history behind it, even with
    every later hash recomputed, no longer matches the signature.
    """
    from darwaza.documents.formats.jws import sign_compact_jws

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
            "iat": int(utcnow().timestamp()),
        },
        signing_key,
    )
    checkpoint = AuditCheckpoint(
        last_event_id=head.last_event_id, last_hash=head.last_hash, signature=signature
    )
    db.add(checkpoint)
    db.flush()
    return checkpoint


def verify_checkpoints(db: Session, *, public_key_for_kid: Any) -> str | None:
    """The first checkpoint that no longer matches the chain or its signature, if any."""
    from darwaza.documents.formats.jws import MalformedJws, parse_compact_jws

    for checkpoint in db.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.id)):
        try:
            jws = parse_compact_jws(checkpoint.signature)
        except MalformedJws:
            return f"checkpoint at event {checkpoint.last_event_id} cannot be read"
        key = public_key_for_kid(jws.header.get("kid"))
        if key is None or not jws.signature_valid(key):
            return f"checkpoint at event {checkpoint.last_event_id} has a bad signature"
        signed = jws.payload
        if (signed.get("last_event_id"), signed.get("last_hash")) != (
            checkpoint.last_event_id,
            checkpoint.last_hash,
        ):
            return f"checkpoint at event {checkpoint.last_event_id} was edited"
        event = db.get(AuditEvent, checkpoint.last_event_id)
        if event is None or event.event_hash != checkpoint.last_hash:
            return (
                f"the chain was rewritten before event {checkpoint.last_event_id} "
                "(it no longer matches the signed checkpoint)"
            )
    return None


def checkpoint_now(settings: Any) -> int | None:
    """Sign a checkpoint in its own transaction; returns the event it covers, if any.

    Safe to call from several processes at once: only one checkpoint per head is kept.
    """
    from sqlalchemy.exc import IntegrityError

    from darwaza.agencies.keys import root_key
    from darwaza.database import transaction

    try:
        with transaction(settings) as session:
            key = root_key(session, settings=settings)
            checkpoint = create_checkpoint(session, signing_key=key.private_key, kid=key.kid)
            return checkpoint.last_event_id if checkpoint else None
    except IntegrityError:  # another process signed the same head a moment ago
        return None
