"""Writing and checking the audit trail.

Each event's hash covers its content and the previous event's hash, so editing,
deleting or inserting a row breaks the chain at that point and ``darwaza audit verify``
names it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from darwaza.audit.actors import Actor
from darwaza.audit.models import AuditChainHead, AuditCheckpoint, AuditEvent
from darwaza.clock import numeric_date, utcnow
from darwaza.crypto.jws import MalformedJws, parse_compact_jws, sign_compact_jws
from darwaza.crypto.keys import SigningKey, VerifyingKey

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
) -> AuditEvent:
    """Append one event to the trail, in the caller's transaction.

    ``subject_id`` names the citizen whose records the event touches, so they can be
    told who looked (see :mod:`darwaza.audit.access`).
    """
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
        subject_id=subject_id,
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
        subject_id=subject_id,
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
                subject_id=event.subject_id,
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


def verify_checkpoints(
    db: Session, *, public_key_for_kid: Callable[[str], VerifyingKey | None]
) -> str | None:
    """The first checkpoint that no longer matches the chain or its signature, if any."""
    for checkpoint in db.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.id)):
        try:
            jws = parse_compact_jws(checkpoint.signature)
        except MalformedJws:
            return f"checkpoint at event {checkpoint.last_event_id} cannot be read"
        kid = jws.header.get("kid")
        key = public_key_for_kid(kid) if isinstance(kid, str) else None
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
