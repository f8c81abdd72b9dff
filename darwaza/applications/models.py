"""Tables of the applications domain: cases, their timeline and their attachments."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from darwaza.applications.workflow import Action, ApplicationState
from darwaza.audit.actors import ActorKind
from darwaza.clock import utcnow
from darwaza.database import Base, StrEnumType, UTCDateTime, new_public_id

# The states an officer's queue shows (workflow.OPEN_FOR_OFFICERS), as migration 0014 wrote them.
OPEN_STATES_SQL = "state IN ('submitted', 'in_review', 'info_requested', 'resubmitted')"


class Application(Base):
    """A citizen's application for one service, from draft to decision."""

    __tablename__ = "applications"
    __table_args__ = (
        UniqueConstraint("citizen_id", "submit_idempotency_key", name="uq_applications_submit_key"),
        Index("ix_applications_queue", "agency_id", "state", "due_at"),
        # The queue: open applications due soonest first, a page at a time (0014).
        Index(
            "ix_applications_open_queue",
            "agency_id",
            "due_at",
            "submitted_at",
            "id",
            postgresql_where=text(OPEN_STATES_SQL),
            sqlite_where=text(OPEN_STATES_SQL),
        ),
        Index(
            "ix_applications_open_queue_by_service",
            "agency_id",
            "service_id",
            "due_at",
            "submitted_at",
            "id",
            postgresql_where=text(OPEN_STATES_SQL),
            sqlite_where=text(OPEN_STATES_SQL),
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_public_id)
    tracking_number: Mapped[str | None] = mapped_column(String(20), unique=True)
    citizen_id: Mapped[str] = mapped_column(ForeignKey("citizens.id"), index=True)
    service_id: Mapped[str] = mapped_column(String(64))
    agency_id: Mapped[str] = mapped_column(ForeignKey("agencies.id"))
    state: Mapped[ApplicationState] = mapped_column(StrEnumType(ApplicationState, 20))
    answers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Documents the citizen attached from their wallet, by required-document name: once-only,
    # nothing is uploaded again.
    wallet_documents: Mapped[dict[str, str]] = mapped_column(
        JSON, default=dict, server_default="{}"
    )
    fee_paisa: Mapped[int] = mapped_column(BigInteger, default=0)
    # The fee tier the citizen chose (normal, urgent...) when the service offers tiers.
    fee_tier: Mapped[str | None] = mapped_column(String(64))
    # Why an officer waived the fee, if they did.
    fee_waived_reason: Mapped[str | None] = mapped_column(Text)
    assigned_officer_id: Mapped[str | None] = mapped_column(ForeignKey("staff_members.id"))
    submit_idempotency_key: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decision_reason: Mapped[str | None] = mapped_column(Text)


class ApplicationEvent(Base):
    """One step on an application's timeline, shown to the citizen and the officer."""

    __tablename__ = "application_events"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_public_id)
    application_id: Mapped[str] = mapped_column(ForeignKey("applications.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    kind: Mapped[Action] = mapped_column(StrEnumType(Action, 30))
    from_state: Mapped[ApplicationState | None] = mapped_column(StrEnumType(ApplicationState, 20))
    to_state: Mapped[ApplicationState | None] = mapped_column(StrEnumType(ApplicationState, 20))
    actor_kind: Mapped[ActorKind] = mapped_column(StrEnumType(ActorKind, 20))
    actor_id: Mapped[str | None] = mapped_column(String(36))
    message: Mapped[str | None] = mapped_column(Text)


class Attachment(Base):
    """A file a citizen attached; the bytes live in the data directory, not the web root."""

    __tablename__ = "attachments"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_public_id)
    application_id: Mapped[str] = mapped_column(ForeignKey("applications.id"), index=True)
    requirement: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(100))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
