"""Putting work on the queue, claiming it, recording how it ended, and the operator's verbs.

`enqueue` writes in the caller's transaction and never commits. Everything a worker does
(`claim_jobs`, `record_failure`, `release_jobs`, `extend_leases`, `expire_and_recover`)
runs in its own short transaction. Completion is `mark_done`, called inside the handler's
own transaction so the handler's effect and "done" commit together.
"""

from __future__ import annotations

import functools
import random
import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Select, and_, bindparam, delete, func, or_, select, update
from sqlalchemy.orm import Session

from darwaza.clock import utcnow
from darwaza.database import add_unless_present, insert_unless_present, table_of
from darwaza.errors import Conflict, NotFound
from darwaza.i18n import N_
from darwaza.jobs.models import Job, JobStatus, Priority

BACKOFF_BASE = timedelta(seconds=2)
BACKOFF_CAP = timedelta(hours=1)
# last_error is for people; a stack of tracebacks is not.
ERROR_TEXT_LIMIT = 2000


class PermanentFailure(Exception):
    """Raised by a handler when trying again cannot help (bad payload, unknown recipient)."""


class JobNotFound(NotFound):
    """No job has that id."""

    default_message = N_("There is no job with that number.")


class JobNotInThatState(Conflict):
    """An operator's verb does not apply to the job's status (retry a done job, say)."""

    default_message = N_("That job cannot do that in its current state.")


CANNOT_RETRY = N_("Job {job_id} is {status}: only a dead or cancelled job can be retried.")
CANNOT_CANCEL = N_("Job {job_id} is {status}: only a queued job can be cancelled.")


@dataclass(frozen=True)
class ClaimedJob:
    """What a worker holds after a claim: enough to run the handler and fence its result."""

    id: int
    kind: str
    payload: dict[str, Any]
    attempt: int
    max_attempts: int
    priority: int
    run_at: datetime
    created_at: datetime


@dataclass(frozen=True)
class NewJob:
    """A job to add; the ``idempotency_key`` makes adding it twice add it once."""

    kind: str
    payload: Mapping[str, Any]
    idempotency_key: str
    priority: int = Priority.NORMAL
    max_attempts: int = 8
    run_at: datetime | None = None
    expires_at: datetime | None = None

    def row(self, now: datetime) -> dict[str, Any]:
        """The job's row, created ``now`` and due then unless ``run_at`` says otherwise."""
        return {
            "kind": str(self.kind),
            "payload": dict(self.payload),
            "idempotency_key": self.idempotency_key,
            "status": JobStatus.QUEUED,
            "priority": int(self.priority),
            "attempts": 0,
            "max_attempts": self.max_attempts,
            "run_at": self.run_at or now,
            "expires_at": self.expires_at,
            "created_at": now,
        }


def enqueue(
    db: Session,
    *,
    kind: str,
    payload: Mapping[str, Any],
    idempotency_key: str | None = None,
    run_at: datetime | None = None,
    priority: int = Priority.NORMAL,
    max_attempts: int = 8,
    expires_at: datetime | None = None,
    now: datetime | None = None,
) -> Job:
    """Add a job in the caller's transaction (flushed, never committed).

    The job exists only if the caller commits, together with the change that caused it. A
    second call with the same ``idempotency_key`` returns the job already there and adds
    nothing; ``ON CONFLICT DO NOTHING`` lets a concurrent duplicate lose the race without
    spoiling the caller's transaction. ``now`` is when the change happened (the clock by
    default): the job's ``created_at`` and, unless ``run_at`` says otherwise, when it is due.
    """
    values = NewJob(
        kind=kind,
        payload=payload,
        idempotency_key=idempotency_key or f"job:{uuid.uuid4()}",
        priority=priority,
        max_attempts=max_attempts,
        run_at=run_at,
        expires_at=expires_at,
    ).row(now or utcnow())
    if idempotency_key is None:
        # A fresh random key cannot be taken: no look-up, no savepoint.
        job = Job(**values)
        db.add(job)
        db.flush()
        return job
    # One statement whichever way a race goes: the row is added unless the key is taken
    # (PostgreSQL waits for a concurrent insert of the same key to commit or roll back),
    # and comes back from it. Only a key already taken reads the earlier job.
    added = add_unless_present(db, Job, values, unique=["idempotency_key"])
    found = added or _job_with_key(db, idempotency_key)
    assert found is not None
    return found


def enqueue_all(db: Session, jobs: Sequence[NewJob], *, now: datetime | None = None) -> int:
    """Add several jobs in one statement, each unless its key is taken; how many were added.

    Like `enqueue`, in the caller's transaction, but nothing is read back: for busy paths
    (a payment credited) that only need the jobs to exist once the change commits. The
    session's pending changes are not flushed first (a job refers to nothing by key), so
    they still go out together at the commit.
    """
    if not jobs:
        return 0
    moment = now or utcnow()
    with db.no_autoflush:
        return insert_unless_present(
            db, table_of(Job), [job.row(moment) for job in jobs], unique=["idempotency_key"]
        )


def _job_with_key(db: Session, key: str) -> Job | None:
    return db.scalar(select(Job).where(Job.idempotency_key == key))


@functools.cache
def _claimable(*, fast_lane: bool, skipping: bool) -> Select[int]:
    """The due jobs' ids, built once for each kind of filter: a worker asks this every
    time it looks for work. Parameters: ``now``, with ``priority_at_most`` for the fast
    lane and ``skip_kinds`` (a list) when skipping."""
    chosen = select(Job.id).where(
        Job.status == JobStatus.QUEUED,
        Job.run_at <= bindparam("now"),
        or_(Job.expires_at.is_(None), Job.expires_at > bindparam("now")),
    )
    if fast_lane:
        chosen = chosen.where(Job.priority <= bindparam("priority_at_most"))
    if skipping:
        chosen = chosen.where(Job.kind.not_in(bindparam("skip_kinds", expanding=True)))
    return chosen


def _filter_values(
    now: datetime, priority_at_most: int | None, skip_kinds: Collection[str]
) -> dict[str, Any]:
    """The parameters of `_claimable` for these filters."""
    values: dict[str, Any] = {"now": now}
    if priority_at_most is not None:
        values["priority_at_most"] = priority_at_most
    if skip_kinds:
        values["skip_kinds"] = sorted(skip_kinds)
    return values


@functools.cache
def _any_claimable(*, fast_lane: bool, skipping: bool) -> Select[int]:
    return _claimable(fast_lane=fast_lane, skipping=skipping).limit(1)


@functools.cache
def _claim(*, postgresql: bool, fast_lane: bool, skipping: bool) -> Any:
    """The claim, built once for each kind of filter. Parameters: those of `_claimable`
    and ``limit``, ``lease_end``, ``worker``."""
    chosen = (
        _claimable(fast_lane=fast_lane, skipping=skipping)
        .order_by(Job.priority, Job.run_at, Job.id)
        .limit(bindparam("limit"))
    )
    if postgresql:
        chosen = chosen.with_for_update(skip_locked=True)
    return (
        update(Job)
        .where(Job.id.in_(chosen.scalar_subquery()))
        .values(
            status=JobStatus.RUNNING,
            attempts=Job.attempts + 1,
            started_at=bindparam("now"),
            lease_until=bindparam("lease_end"),
            leased_by=bindparam("worker"),
        )
        .returning(
            Job.id,
            Job.kind,
            Job.payload,
            Job.attempts,
            Job.max_attempts,
            Job.priority,
            Job.run_at,
            Job.created_at,
        )
    )


def any_claimable(
    connection: Connection,
    *,
    now: datetime | None = None,
    priority_at_most: int | None = None,
    skip_kinds: Collection[str] = (),
) -> bool:
    """Whether :func:`claim_jobs` with the same filters would find a job: a read, which
    takes no lock, for a worker to ask before it takes SQLite's one write lock to claim."""
    values = _filter_values(now or utcnow(), priority_at_most, skip_kinds)
    statement = _any_claimable(fast_lane=priority_at_most is not None, skipping=bool(skip_kinds))
    return connection.execute(statement, values).first() is not None


def claim_jobs(
    db: Session,
    *,
    worker_id: str,
    limit: int,
    lease: timedelta,
    now: datetime | None = None,
    priority_at_most: int | None = None,
    skip_kinds: Collection[str] = (),
) -> list[ClaimedJob]:
    """Take up to ``limit`` due jobs, most urgent first, and lease them to ``worker_id``.

    ``priority_at_most`` limits the claim to jobs at least that urgent (a fast lane);
    jobs of the ``skip_kinds`` are left for others.

    Call in a transaction of its own and commit at once. On PostgreSQL ``FOR UPDATE SKIP
    LOCKED`` lets many workers claim at the same time without waiting on or taking each
    other's rows. SQLite has no row locks, but Darwaza's engine begins every transaction
    with ``BEGIN IMMEDIATE``, so claims are serialised by the database's write lock.
    """
    now = now or utcnow()
    values = _filter_values(now, priority_at_most, skip_kinds)
    statement = _claim(
        postgresql=db.get_bind().dialect.name == "postgresql",
        fast_lane=priority_at_most is not None,
        skipping=bool(skip_kinds),
    )
    values |= {"limit": limit, "lease_end": now + lease, "worker": worker_id}
    rows = db.execute(statement, values, execution_options={"synchronize_session": False}).all()
    claimed = [ClaimedJob(*row) for row in rows]
    return sorted(claimed, key=lambda job: (job.priority, job.run_at, job.id))


# Every job ends with this: built once.
_MARK_DONE = (
    update(Job)
    .where(
        Job.id == bindparam("job_id"),
        Job.status == JobStatus.RUNNING,
        Job.attempts == bindparam("attempt"),
        Job.leased_by == bindparam("worker"),
    )
    .values(
        status=JobStatus.DONE,
        finished_at=bindparam("finished"),
        lease_until=None,
        last_error=None,
    )
)


def mark_done(db: Session, job: ClaimedJob, *, worker_id: str) -> bool:
    """Mark a claimed job done, in the handler's transaction; False if the lease was lost.

    The attempt number fences the write: if this worker's lease ended and another worker
    claimed the job meanwhile, nothing matches and the caller must roll back, so the
    handler's effect in the database is never doubled.
    """
    result = db.execute(
        _MARK_DONE,
        {"job_id": job.id, "attempt": job.attempt, "worker": worker_id, "finished": utcnow()},
        execution_options={"synchronize_session": False},
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def backoff_ceiling(attempt: int) -> timedelta:
    """The longest wait after failed attempt number ``attempt``: 2 s, 4 s, 8 s ... 1 hour."""
    seconds = BACKOFF_BASE.total_seconds() * 2 ** min(max(attempt - 1, 0), 30)
    return min(timedelta(seconds=seconds), BACKOFF_CAP)


def retry_delay(attempt: int, rng: random.Random | None = None) -> timedelta:
    """Exponential back-off with full jitter: anywhere between now and the ceiling.

    The jitter spreads retries out, so jobs that failed together (a provider was down) do
    not all come back at the same instant.
    """
    ceiling = backoff_ceiling(attempt).total_seconds()
    return timedelta(seconds=(rng or random).uniform(0, ceiling))


def record_failure(
    db: Session,
    job: ClaimedJob,
    *,
    worker_id: str,
    error: BaseException,
    now: datetime | None = None,
    rng: random.Random | None = None,
) -> JobStatus | None:
    """After a handler failed (and its transaction was rolled back): retry later or give up.

    A `PermanentFailure`, or the last allowed attempt, makes the job dead; anything else
    queues it again after `retry_delay`. Returns the new status, or None if the lease was
    lost to another worker.
    """
    now = now or utcnow()
    message = f"{type(error).__name__}: {error}"[:ERROR_TEXT_LIMIT]
    if isinstance(error, PermanentFailure) or job.attempt >= job.max_attempts:
        status = JobStatus.DEAD
        values: dict[str, Any] = {"finished_at": now}
    else:
        status = JobStatus.QUEUED
        values = {"run_at": now + retry_delay(job.attempt, rng)}
    result = db.execute(
        update(Job)
        .where(
            Job.id == job.id,
            Job.status == JobStatus.RUNNING,
            Job.attempts == job.attempt,
            Job.leased_by == worker_id,
        )
        .values(status=status, last_error=message, lease_until=None, leased_by=None, **values),
        execution_options={"synchronize_session": False},
    )
    return status if result.rowcount == 1 else None  # type: ignore[attr-defined]


def release_jobs(db: Session, job_ids: Sequence[int], *, worker_id: str) -> int:
    """Give back jobs claimed but never started (a stopping worker): queued, attempt undone."""
    if not job_ids:
        return 0
    result = db.execute(
        update(Job)
        .where(Job.id.in_(job_ids), Job.status == JobStatus.RUNNING, Job.leased_by == worker_id)
        .values(
            status=JobStatus.QUEUED, attempts=Job.attempts - 1, lease_until=None, leased_by=None
        ),
        execution_options={"synchronize_session": False},
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def extend_leases(db: Session, job_ids: Sequence[int], *, worker_id: str, lease: timedelta) -> int:
    """The heartbeat: a worker still busy with these jobs keeps them for another lease."""
    if not job_ids:
        return 0
    result = db.execute(
        update(Job)
        .where(Job.id.in_(job_ids), Job.status == JobStatus.RUNNING, Job.leased_by == worker_id)
        .values(lease_until=utcnow() + lease),
        execution_options={"synchronize_session": False},
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def expire_and_recover(
    db: Session, *, now: datetime | None = None, limit: int = 1000
) -> tuple[int, int]:
    """Housekeeping any worker may do: drop expired jobs, take back jobs of dead workers.

    A queued job past its ``expires_at`` becomes dead ("expired") and never runs. A running
    job whose lease has ended lost its worker (killed, or the machine died): it is queued
    again, or dead if that was its last attempt. Returns (expired, recovered). Rows
    another worker has locked are left for the next round, so housekeepers running at the
    same time never wait on (or deadlock with) each other or a claim.
    """
    now = now or utcnow()
    expired = _update_unlocked(
        db,
        and_(Job.status == JobStatus.QUEUED, Job.expires_at <= now),
        {"status": JobStatus.DEAD, "last_error": "expired", "finished_at": now},
        limit=limit,
    )
    abandoned = and_(Job.status == JobStatus.RUNNING, Job.lease_until < now)
    _update_unlocked(
        db,
        and_(abandoned, Job.attempts >= Job.max_attempts),
        {
            "status": JobStatus.DEAD,
            "last_error": "the worker stopped during the last attempt",
            "lease_until": None,
            "finished_at": now,
        },
        limit=limit,
    )
    recovered = _update_unlocked(
        db,
        abandoned,
        {
            "status": JobStatus.QUEUED,
            "last_error": "the worker stopped during this attempt",
            "lease_until": None,
            "leased_by": None,
        },
        limit=limit,
    )
    return expired, recovered


def _update_unlocked(db: Session, condition: Any, values: dict[str, Any], *, limit: int) -> int:
    chosen = select(Job.id).where(condition).order_by(Job.id).limit(limit)
    if db.get_bind().dialect.name == "postgresql":
        chosen = chosen.with_for_update(skip_locked=True)
    result = db.execute(
        update(Job).where(Job.id.in_(chosen.scalar_subquery())).values(**values),
        execution_options={"synchronize_session": False},
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def prune_finished_jobs(db: Session, *, finished_before: datetime, limit: int = 1000) -> int:
    """Delete done and cancelled jobs that finished before ``finished_before``.

    Dead jobs stay until an operator retries them. An idempotency key protects against a
    repeat only while its job is kept, so keep jobs longer than any caller retries.
    """
    chosen = (
        select(Job.id)
        .where(
            Job.status.in_([JobStatus.DONE, JobStatus.CANCELLED]),
            Job.finished_at < finished_before,
        )
        .limit(limit)
    )
    if db.get_bind().dialect.name == "postgresql":
        chosen = chosen.with_for_update(skip_locked=True)
    result = db.execute(
        delete(Job).where(Job.id.in_(chosen.scalar_subquery())),
        execution_options={"synchronize_session": False},
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def list_jobs(
    db: Session,
    *,
    status: JobStatus | None = None,
    kind: str | None = None,
    limit: int = 50,
) -> list[Job]:
    """The newest jobs, optionally of one status or kind, for an operator to look at."""
    query = select(Job).order_by(Job.id.desc()).limit(limit)
    if status is not None:
        query = query.where(Job.status == status)
    if kind is not None:
        query = query.where(Job.kind == kind)
    return list(db.scalars(query))


def _job_for_change(db: Session, job_id: int) -> Job:
    job = db.get(Job, job_id, with_for_update=True)
    if job is None:
        raise JobNotFound()
    return job


def retry_job(db: Session, job_id: int) -> Job:
    """An operator brings a dead or cancelled job back: queued now, attempts from zero."""
    job = _job_for_change(db, job_id)
    if job.status not in (JobStatus.DEAD, JobStatus.CANCELLED):
        raise JobNotInThatState(CANNOT_RETRY, {"job_id": job_id, "status": job.status.value})
    job.status = JobStatus.QUEUED
    job.attempts = 0
    job.run_at = utcnow()
    # An operator's retry is a decision to send it after all.
    job.expires_at = None
    job.finished_at = None
    job.lease_until = None
    job.leased_by = None
    db.flush()
    return job


def cancel_job(db: Session, job_id: int) -> Job:
    """An operator stops a job that has not started: queued becomes cancelled."""
    job = _job_for_change(db, job_id)
    if job.status != JobStatus.QUEUED:
        raise JobNotInThatState(CANNOT_CANCEL, {"job_id": job_id, "status": job.status.value})
    job.status = JobStatus.CANCELLED
    job.finished_at = utcnow()
    db.flush()
    return job


@dataclass(frozen=True)
class QueueStats:
    """How many jobs are in each state, and how long the oldest due job has waited."""

    counts: dict[JobStatus, int]
    oldest_queued_age: timedelta | None


def queue_stats(db: Session, *, now: datetime | None = None) -> QueueStats:
    """Queue depth by status and the age of the oldest queued job that is due (for metrics)."""
    now = now or utcnow()
    counts = dict.fromkeys(JobStatus, 0)
    for status, count in db.execute(select(Job.status, func.count()).group_by(Job.status)):
        counts[JobStatus(status)] = int(count)
    oldest = db.scalar(
        select(func.min(Job.run_at)).where(Job.status == JobStatus.QUEUED, Job.run_at <= now)
    )
    if oldest is not None and oldest.tzinfo is None:
        # min() comes back untyped from SQLite: a naive UTC text timestamp.
        oldest = oldest.replace(tzinfo=now.tzinfo)
    return QueueStats(counts=counts, oldest_queued_age=None if oldest is None else now - oldest)
