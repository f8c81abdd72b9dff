"""The audit trail: append-only events, each carrying the hash of the one before."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from darwaza.audit.actors import ActorKind
from darwaza.clock import utcnow
from darwaza.database import Base, StrEnumType, UTCDateTime


class AuditEvent(Base):
    """Who did what to which object, when, with the state before and after."""

    __tablename__ = "audit_events"
    # The newest events of one action, object, subject or actor, a page at a time (0014);
    # these also serve every look-up by that column alone (0016).
    __table_args__ = (
        Index("ix_audit_events_action_newest", "action", "id"),
        Index("ix_audit_events_object_newest", "object_id", "id"),
        Index("ix_audit_events_subject_newest", "subject_id", "id"),
        Index("ix_audit_events_actor_newest", "actor_id", "id"),
    )

    # SQLite only auto-increments an INTEGER primary key; PostgreSQL gets a BIGINT.
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_kind: Mapped[ActorKind] = mapped_column(StrEnumType(ActorKind, 20))
    actor_id: Mapped[str | None] = mapped_column(String(36))
    action: Mapped[str] = mapped_column(String(60))
    object_type: Mapped[str] = mapped_column(String(40))
    object_id: Mapped[str | None] = mapped_column(String(64))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # The citizen whose records the event touches (a staff look, for instance).
    subject_id: Mapped[str | None] = mapped_column(String(36))
    # Set by the sequencer: the event's place in the chain and the hashes that chain it.
    sequence: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    previous_hash: Mapped[str | None] = mapped_column(String(64))
    event_hash: Mapped[str | None] = mapped_column(String(64), unique=True)


class AuditChainHead(Base):
    """A single row holding the chain's newest position and hash; only the sequencer locks it."""

    __tablename__ = "audit_chain_head"

    id: Mapped[int] = mapped_column(primary_key=True)
    last_event_id: Mapped[int] = mapped_column(BigInteger, default=0)
    last_hash: Mapped[str] = mapped_column(String(64))


class AuditCheckpoint(Base):
    """A signature, by the platform's root key, over the chain up to one event.

    Someone who rewrites the whole chain after an edit cannot forge these.
    """

    __tablename__ = "audit_checkpoints"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    last_event_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    last_hash: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
