"""The ``jobs`` table: one row per piece of work, from enqueued to done or dead."""

from __future__ import annotations

from datetime import datetime
from enum import IntEnum, StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from darwaza.clock import utcnow
from darwaza.database import Base, UTCDateTime


class JobStatus(StrEnum):
    """Where a job is in its life.

    queued -> running -> done; running -> queued again after a failure (with back-off) or
    when its worker's lease ends; running -> dead after a permanent failure or the last
    attempt; queued -> dead when it expires unstarted; queued -> cancelled by an operator.
    An operator's retry brings a dead or cancelled job back to queued.
    """

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    DEAD = "dead"
    CANCELLED = "cancelled"


class Priority(IntEnum):
    """Lower runs first: a one-time code must not wait behind a bulk issuance."""

    URGENT = 0
    NORMAL = 5
    BULK = 9


class JobStatusType(TypeDecorator[JobStatus]):
    """A `JobStatus` stored as its plain string value (no database enum to migrate)."""

    impl = String(12)
    cache_ok = True

    def process_bind_param(self, value: JobStatus | str | None, dialect: Any) -> str | None:
        return None if value is None else JobStatus(value).value

    def process_result_value(self, value: str | None, dialect: Any) -> JobStatus | None:
        return None if value is None else JobStatus(value)


class Job(Base):
    """A unit of background work and everything an operator needs to know about it."""

    __tablename__ = "jobs"
    __table_args__ = (
        # Serves the claim: the queued jobs that are due, in order of priority then time.
        Index("ix_jobs_claim", "status", "priority", "run_at"),
        # Serves pruning old finished jobs and an operator's look at recent dead ones.
        Index("ix_jobs_finished", "status", "finished_at"),
    )

    # SQLite only auto-increments an INTEGER primary key; PostgreSQL gets a BIGINT.
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    kind: Mapped[str] = mapped_column(String(60))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    status: Mapped[JobStatus] = mapped_column(JobStatusType, default=JobStatus.QUEUED)
    priority: Mapped[int] = mapped_column(SmallInteger, default=Priority.NORMAL)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=8)
    run_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When the latest attempt was claimed: with created_at, how long the job waited.
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    leased_by: Mapped[str | None] = mapped_column(String(100))
    # A job not started by then is dropped (dead, "expired"): a one-time code that arrives
    # after it has stopped working only confuses.
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
