"""``darwaza worker``: threads that claim jobs and run their handlers, a heartbeat, a clock.

Each job thread claims a few due jobs in a short transaction, then runs them one by one.
A handler runs in a transaction that also marks its job done (`run_claimed_job`). While
jobs are in hand a heartbeat extends their lease, so only a worker that really stopped
loses its jobs to another. SIGTERM or SIGINT stops claiming; the jobs being run finish,
the ones claimed but not started are given back, and the process exits 0.

The clock enqueues each `Schedule` once per time slot. Every worker runs a clock and
nobody elects a leader: the job of a slot has the idempotency key
``schedule:{name}:{slot}``, which is unique in the database, so the first worker to
enqueue it wins and the others find it already there. The database is the single leader.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import traceback
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from types import FrameType

from sqlalchemy.orm import Session, sessionmaker

from darwaza.clock import utcnow
from darwaza.database import engine_for, primary_statement_engine, session_factory
from darwaza.jobs.models import Priority
from darwaza.jobs.queue import (
    ClaimedJob,
    PermanentFailure,
    any_claimable,
    claim_jobs,
    enqueue,
    expire_and_recover,
    extend_leases,
    mark_done,
    prune_finished_jobs,
    record_failure,
    release_jobs,
)
from darwaza.jobs.registry import JobContext, JobRegistry, Schedule
from darwaza.settings import Settings

log = logging.getLogger("darwaza.jobs")

DEFAULT_LEASE = timedelta(seconds=60)
# Done and cancelled jobs are kept this long (their idempotency keys hold as long), then
# deleted, a batch at a time, once a minute.
KEEP_FINISHED_JOBS = timedelta(days=7)
PRUNE_EVERY = timedelta(minutes=1)
# Each job thread keeps a connection; the engine's pool holds 20, the urgent lane, the
# heartbeat and the clock take one each.
MAX_CONCURRENCY = 16
IDLE_WAIT_FIRST = 0.02
IDLE_WAIT_LONGEST = 0.5
# The urgent lane looks more often: a citizen is waiting for that code.
URGENT_WAIT_LONGEST = 0.1


def default_worker_id() -> str:
    """Host and process: enough for an operator to find the worker holding a job."""
    return f"{socket.gethostname()}:{os.getpid()}"


def run_claimed_job(
    sessions: sessionmaker[Session],
    settings: Settings,
    registry: JobRegistry,
    job: ClaimedJob,
    *,
    worker_id: str,
    now: datetime | None = None,
) -> bool:
    """Run one claimed job's handler; True if it is done.

    The handler's writes and "done" commit in one transaction. On any error that
    transaction is rolled back and the failure is recorded in a new one (retry with
    back-off, or dead). If the lease was lost meanwhile, the handler's writes are rolled
    back too: the worker that holds the job now will make them.
    """
    db = sessions()
    try:
        handler = registry.handler_for(job.kind)
        handler(
            JobContext(
                db=db,
                settings=settings,
                job_id=job.id,
                kind=job.kind,
                payload=job.payload,
                attempt=job.attempt,
            )
        )
        if not mark_done(db, job, worker_id=worker_id):
            db.rollback()
            log.warning("job %s (%s): lease lost before it finished", job.id, job.kind)
            return False
        db.commit()
        return True
    except Exception as error:
        db.rollback()
        _record(sessions, job, worker_id=worker_id, error=error, now=now)
        return False
    finally:
        db.close()


def _record(
    sessions: sessionmaker[Session],
    job: ClaimedJob,
    *,
    worker_id: str,
    error: Exception,
    now: datetime | None,
) -> None:
    with sessions.begin() as db:
        status = record_failure(db, job, worker_id=worker_id, error=error, now=now)
    # The stack helps with a surprise; a PermanentFailure says all there is to say.
    log.warning(
        "job %s (%s) attempt %s failed, now %s: %s",
        job.id,
        job.kind,
        job.attempt,
        status,
        "".join(traceback.format_exception_only(error)).strip(),
        exc_info=None if isinstance(error, PermanentFailure) else error,
    )


def run_due_jobs(
    settings: Settings,
    registry: JobRegistry,
    *,
    worker_id: str = "inline",
    limit: int = 100,
    now: datetime | None = None,
) -> int:
    """Claim and run, in this thread, up to ``limit`` jobs due at ``now``; how many ran.

    For tests and one-off operator runs; the worker does the same in its threads.
    """
    sessions = session_factory(settings)
    with sessions.begin() as db:
        expire_and_recover(db, now=now)
    with sessions.begin() as db:
        claimed = claim_jobs(db, worker_id=worker_id, limit=limit, lease=DEFAULT_LEASE, now=now)
    for job in claimed:
        run_claimed_job(sessions, settings, registry, job, worker_id=worker_id, now=now)
    return len(claimed)


def slot_of(schedule: Schedule, now: datetime) -> int:
    """The number of the time slot ``now`` falls in (slots start at the Unix epoch)."""
    return int(now.timestamp() // schedule.every.total_seconds())


def enqueue_scheduled(db: Session, schedule: Schedule, *, now: datetime) -> None:
    """Enqueue the schedule's job for the slot of ``now``, unless a worker already did."""
    slot = slot_of(schedule, now)
    starts = datetime.fromtimestamp(slot * schedule.every.total_seconds(), UTC)
    enqueue(
        db,
        kind=schedule.kind,
        payload={"schedule": schedule.name, "slot": slot, "slot_starts": starts.isoformat()},
        idempotency_key=f"schedule:{schedule.name}:{slot}",
        run_at=starts,
    )


class Worker:
    """A worker process: ``concurrency`` job threads, an urgent lane, a heartbeat, a clock."""

    def __init__(
        self,
        settings: Settings,
        registry: JobRegistry,
        *,
        concurrency: int = 8,
        worker_id: str | None = None,
        schedules: Sequence[Schedule] | None = None,
        lease: timedelta = DEFAULT_LEASE,
        batch_size: int = 8,
        housekeeping_every: float = 1.0,
        keep_finished: timedelta = KEEP_FINISHED_JOBS,
    ) -> None:
        if not 1 <= concurrency <= MAX_CONCURRENCY:
            raise ValueError(f"concurrency must be between 1 and {MAX_CONCURRENCY}")
        self.settings = settings
        self.registry = registry
        self.concurrency = concurrency
        self.worker_id = worker_id or default_worker_id()
        self.schedules = tuple(registry.schedules if schedules is None else schedules)
        self.lease = lease
        self.batch_size = batch_size
        self.housekeeping_every = housekeeping_every
        self.keep_finished = keep_finished
        self._pruned_at: datetime | None = None
        self.engine = engine_for(settings.resolved_database_url)
        self.sessions = sessionmaker(bind=self.engine, expire_on_commit=False)
        # On PostgreSQL claims take row locks only (SKIP LOCKED), and an empty claim
        # changes nothing: no read before it there.
        self._reader = (
            primary_statement_engine(settings) if self.engine.dialect.name == "sqlite" else None
        )
        self.stopping = threading.Event()
        self._in_hand: set[int] = set()
        self._in_hand_lock = threading.Lock()
        self._heavy = registry.heavy_kinds
        # Held by the thread running this process's one heavy job (see JobRegistry.add).
        self._heavy_slot = threading.Lock()

    def stop(self, signum: int | None = None, _frame: FrameType | None = None) -> None:
        """Stop claiming; jobs being run finish (also the SIGTERM and SIGINT handler)."""
        if signum is not None:
            log.info("worker %s: signal %s, stopping", self.worker_id, signum)
        self.stopping.set()

    def run(self, *, handle_signals: bool = True) -> None:
        """Work until `stop` (or SIGTERM/SIGINT), then return once every thread is done."""
        if handle_signals:
            signal.signal(signal.SIGTERM, self.stop)
            signal.signal(signal.SIGINT, self.stop)
        threads = [
            threading.Thread(target=self._work, name=f"jobs-{number}")
            for number in range(self.concurrency)
        ]
        # One more thread takes only urgent jobs (one-time codes), one at a time, so a code
        # never waits for a job thread to get through a batch of ordinary messages.
        threads.append(threading.Thread(target=self._work, args=(True,), name="jobs-urgent"))
        threads.append(threading.Thread(target=self._heartbeat, name="jobs-heartbeat"))
        threads.append(threading.Thread(target=self._housekeeping, name="jobs-clock"))
        log.info("worker %s: %s threads", self.worker_id, self.concurrency)
        for thread in threads:
            thread.start()
        # Join with a timeout so the main thread stays free to receive signals.
        for thread in threads:
            while thread.is_alive():
                thread.join(timeout=0.2)
        log.info("worker %s: stopped", self.worker_id)

    def _work(self, urgent_only: bool = False) -> None:
        # Each thread keeps one connection: no pool check-out and liveness ping per job.
        # If the connection breaks (the database restarted), the thread opens another.
        while not self.stopping.is_set():
            try:
                with self.engine.connect() as connection:
                    sessions = sessionmaker(bind=connection, expire_on_commit=False)
                    self._work_on(sessions, urgent_only=urgent_only)
            except Exception:
                log.exception("worker %s: lost the database connection", self.worker_id)
                self.stopping.wait(1.0)

    def _work_on(self, sessions: sessionmaker[Session], *, urgent_only: bool) -> None:
        idle = IDLE_WAIT_FIRST
        longest = URGENT_WAIT_LONGEST if urgent_only else IDLE_WAIT_LONGEST
        while not self.stopping.is_set():
            claimed = self._claim(sessions, urgent_only=urgent_only)
            if not claimed:
                self.stopping.wait(idle)
                idle = min(idle * 2, longest)
                continue
            idle = IDLE_WAIT_FIRST
            try:
                self._run_in_order(sessions, claimed)
            finally:
                if any(job.kind in self._heavy for job in claimed):
                    self._heavy_slot.release()

    def _claim(self, sessions: sessionmaker[Session], *, urgent_only: bool) -> list[ClaimedJob]:
        """Lease a few due jobs; at most one heavy one, and only if none runs here now.

        A claim that holds a heavy job keeps the process's heavy slot until it has run.
        """
        may_take_heavy = (
            bool(self._heavy) and not urgent_only and self._heavy_slot.acquire(blocking=False)
        )
        try:
            claimed = self._claim_some(sessions, urgent_only=urgent_only, heavy=may_take_heavy)
        except BaseException:
            if may_take_heavy:
                self._heavy_slot.release()
            raise
        if may_take_heavy and not any(job.kind in self._heavy for job in claimed):
            self._heavy_slot.release()
        with self._in_hand_lock:
            self._in_hand.update(job.id for job in claimed)
        return claimed

    def _claim_some(
        self, sessions: sessionmaker[Session], *, urgent_only: bool, heavy: bool
    ) -> list[ClaimedJob]:
        priority_at_most = Priority.URGENT if urgent_only else None
        skip_kinds = () if heavy else self._heavy
        if self._reader is not None:
            # SQLite: a claim takes the database's one write lock, and the citizens'
            # requests wait for it. Nine threads looking every 20-500 ms mostly find
            # nothing; a read, which waits for no writer, says so without the lock.
            with self._reader.connect() as connection:
                if not any_claimable(
                    connection, priority_at_most=priority_at_most, skip_kinds=skip_kinds
                ):
                    return []
        with sessions.begin() as db:
            claimed = claim_jobs(
                db,
                worker_id=self.worker_id,
                limit=1 if urgent_only else self.batch_size,
                lease=self.lease,
                priority_at_most=priority_at_most,
                skip_kinds=skip_kinds,
            )
            extra = [job.id for job in claimed if job.kind in self._heavy][1:]
            if extra:
                # Claimed in one statement: keep the first heavy job, give back the others.
                release_jobs(db, extra, worker_id=self.worker_id)
        return [job for job in claimed if job.id not in extra]

    def _run_in_order(self, sessions: sessionmaker[Session], claimed: list[ClaimedJob]) -> None:
        for position, job in enumerate(claimed):
            if self.stopping.is_set():
                self._release(claimed[position:])
                return
            try:
                run_claimed_job(
                    sessions, self.settings, self.registry, job, worker_id=self.worker_id
                )
            except Exception:
                # Recording the failure failed too (the database went away): the lease
                # will end and another worker will take the job.
                log.exception("worker %s: job %s could not be recorded", self.worker_id, job.id)
            finally:
                with self._in_hand_lock:
                    self._in_hand.discard(job.id)

    def _release(self, jobs: list[ClaimedJob]) -> None:
        ids = [job.id for job in jobs]
        with self.sessions.begin() as db:
            released = release_jobs(db, ids, worker_id=self.worker_id)
        with self._in_hand_lock:
            self._in_hand.difference_update(ids)
        log.info("worker %s: gave back %s unstarted jobs", self.worker_id, released)

    def _heartbeat(self) -> None:
        every = self.lease.total_seconds() / 3
        while not self.stopping.wait(every) or self._holding():
            with self._in_hand_lock:
                ids = sorted(self._in_hand)
            try:
                with self.sessions.begin() as db:
                    extend_leases(db, ids, worker_id=self.worker_id, lease=self.lease)
            except Exception:
                log.exception("worker %s: heartbeat failed", self.worker_id)
            if self.stopping.is_set():
                # Finishing the last jobs: beat more often so the stop is not held up.
                self.stopping.wait(min(every, 0.2))

    def _holding(self) -> bool:
        with self._in_hand_lock:
            return bool(self._in_hand)

    def _housekeeping(self) -> None:
        while not self.stopping.is_set():
            try:
                self.housekeep(now=utcnow())
            except Exception:
                log.exception("worker %s: housekeeping failed", self.worker_id)
            self.stopping.wait(self.housekeeping_every)

    def housekeep(self, *, now: datetime) -> None:
        """Drop expired jobs, take back abandoned ones, enqueue this slot's schedules, and
        now and then delete old finished jobs."""
        with self.sessions.begin() as db:
            expire_and_recover(db, now=now)
        if self._pruned_at is None or now - self._pruned_at >= PRUNE_EVERY:
            with self.sessions.begin() as db:
                prune_finished_jobs(db, finished_before=now - self.keep_finished)
            self._pruned_at = now
        for schedule in self.schedules:
            with self.sessions.begin() as db:
                enqueue_scheduled(db, schedule, now=now)
