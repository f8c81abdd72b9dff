"""The job queue: a job commits with its change, runs once, retries with back-off, dies
visibly, and an operator can retry or cancel it. Real database, no worker process
(`run_due_jobs` claims and runs in the test's thread); see test_jobs_worker.py for those."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, event, func, select
from sqlalchemy.orm import Session

from darwaza.cli import main as jobs_cli
from darwaza.clock import utcnow
from darwaza.database import session_factory, transaction
from darwaza.jobs import (
    Job,
    JobContext,
    JobRegistry,
    JobStatus,
    PermanentFailure,
    Priority,
    cancel_job,
    enqueue,
    queue_stats,
)
from darwaza.jobs.queue import (
    BACKOFF_CAP,
    backoff_ceiling,
    claim_jobs,
    mark_done,
    retry_delay,
)
from darwaza.jobs.registry import Schedule
from darwaza.jobs.worker import Worker, run_due_jobs
from darwaza.notifications.jobs import NotificationJob, register_notification_jobs, send_sms_later
from darwaza.notifications.sms import sms_gateway_for
from darwaza.settings import Settings
from tests.journeys import forget_settings, sms_messages

RECEIPT = "test.receipt"
FLAKY = "test.flaky"
BROKEN = "test.broken"
ALWAYS_FAILS = "test.always_fails"


class ProviderDown(RuntimeError):
    pass


def _flaky(context: JobContext) -> None:
    """Writes its effect (a receipt) and sends a text, then fails on the first 3 attempts,
    as a provider that times out after accepting the message would."""
    enqueue(
        context.db,
        kind=RECEIPT,
        payload={"for_job": context.job_id, "attempt": context.attempt},
        idempotency_key=f"receipt:{context.job_id}:{context.attempt}",
    )
    sms_gateway_for(context.settings).send(
        to="+923001234567", text="Your application was approved", message_id="approved-1"
    )
    if context.attempt <= 3:
        raise ProviderDown(f"timed out on attempt {context.attempt}")


def _broken(context: JobContext) -> None:
    raise PermanentFailure("no such mobile number")


def _always_fails(context: JobContext) -> None:
    raise ProviderDown("still down")


def _receipt(context: JobContext) -> None:
    pass


@pytest.fixture
def registry() -> JobRegistry:
    registry = JobRegistry()
    register_notification_jobs(registry)
    registry.add(FLAKY, _flaky)
    registry.add(BROKEN, _broken)
    registry.add(ALWAYS_FAILS, _always_fails)
    registry.add(RECEIPT, _receipt)
    return registry


@pytest.fixture
def jobs_cli_runner(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    """The ``darwaza`` command pointed at the test database."""
    monkeypatch.setenv("DARWAZA_ENV", "test")
    monkeypatch.setenv("DARWAZA_DATABASE_URL", settings.resolved_database_url)
    monkeypatch.setenv("DARWAZA_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("DARWAZA_SECRET_KEY", settings.secret_key)
    monkeypatch.setenv("DARWAZA_KEY_SEALING_SECRET", settings.key_sealing_secret)
    forget_settings()
    yield CliRunner()
    forget_settings()


def _reader(settings: Settings) -> Session:
    # A deferred transaction: reading must not wait for SQLite's write lock.
    return session_factory(settings, immediate=False)()


def _job(settings: Settings, job_id: int) -> Job:
    with _reader(settings) as db:
        job = db.get(Job, job_id)
        assert job is not None
        db.expunge(job)
        return job


def _count(settings: Settings) -> int:
    with _reader(settings) as db:
        return db.scalar(select(func.count()).select_from(Job)) or 0


def test_a_job_enqueued_in_a_transaction_that_rolls_back_does_not_exist(
    settings: Settings,
) -> None:
    class ApprovalFailed(Exception):
        pass

    with pytest.raises(ApprovalFailed), transaction(settings) as db:
        send_sms_later(db, to="+923001234567", text="Approved", urgent=False, message_id="m-1")
        raise ApprovalFailed()
    assert _count(settings) == 0


def test_a_job_commits_with_the_change_that_caused_it(settings: Settings) -> None:
    with transaction(settings) as db:
        job = send_sms_later(db, to="+923001234567", text="Approved", urgent=False)
        # Flushed, not committed: another session does not see it yet.
        assert job.id is not None
        assert _count(settings) == 0
    stored = _job(settings, job.id)
    assert stored.status == JobStatus.QUEUED
    assert stored.kind == NotificationJob.SEND_SMS
    assert stored.priority == Priority.NORMAL
    assert stored.expires_at is None


def test_the_same_idempotency_key_twice_makes_one_job(settings: Settings) -> None:
    with transaction(settings) as db:
        first = send_sms_later(db, to="+923001234567", text="Hi", urgent=False, message_id="m")
        again = send_sms_later(db, to="+923001234567", text="Hi", urgent=False, message_id="m")
        assert again is first
    with transaction(settings) as db:
        later = send_sms_later(db, to="+923001234567", text="Hi", urgent=False, message_id="m")
        assert later.id == first.id
    assert _count(settings) == 1


def test_two_transactions_racing_on_one_key_make_one_job_and_both_commit(
    settings: Settings,
) -> None:
    sessions = session_factory(settings)
    first = sessions()
    first_job = enqueue(first, kind=RECEIPT, payload={"n": 1}, idempotency_key="race")
    found: list[int] = []

    def second_caller() -> None:
        # Waits on the first transaction (a row lock on PostgreSQL, the write lock on
        # SQLite), then finds its job instead of failing.
        with transaction(settings) as db:
            found.append(enqueue(db, kind=RECEIPT, payload={"n": 2}, idempotency_key="race").id)
            enqueue(db, kind=RECEIPT, payload={"n": 3}, idempotency_key="after-the-race")

    racer = threading.Thread(target=second_caller)
    racer.start()
    racer.join(timeout=0.5)
    first.commit()
    first.close()
    racer.join(timeout=20)
    assert found == [first_job.id]
    assert _count(settings) == 2


def test_back_off_doubles_from_two_seconds_to_an_hour_with_full_jitter() -> None:
    ceilings = [backoff_ceiling(attempt).total_seconds() for attempt in range(1, 14)]
    assert ceilings[:5] == [2, 4, 8, 16, 32]
    assert ceilings[-1] == BACKOFF_CAP.total_seconds() == 3600
    assert ceilings == sorted(ceilings)
    rng = random.Random(7)
    delays = [retry_delay(5, rng).total_seconds() for _ in range(1000)]
    assert all(0 <= delay <= 32 for delay in delays)
    # Full jitter spreads the retries over the whole window.
    assert min(delays) < 4 and max(delays) > 28


def test_a_handler_failing_three_times_then_succeeding_has_its_effect_once(
    settings: Settings, registry: JobRegistry
) -> None:
    with transaction(settings) as db:
        job_id = enqueue(db, kind=FLAKY, payload={}).id
    now = utcnow()
    for attempt in (1, 2, 3):
        assert run_due_jobs(settings, registry, now=now) == 1
        job = _job(settings, job_id)
        assert job.status == JobStatus.QUEUED
        assert job.attempts == attempt
        assert job.last_error == f"ProviderDown: timed out on attempt {attempt}"
        # Not before its back-off, and no later than the ceiling.
        assert now < job.run_at <= now + backoff_ceiling(attempt) + timedelta(seconds=1)
        assert run_due_jobs(settings, registry, now=now) == 0
        now = job.run_at + timedelta(milliseconds=1)
    assert run_due_jobs(settings, registry, now=now) == 1
    job = _job(settings, job_id)
    assert (job.status, job.attempts, job.last_error) == (JobStatus.DONE, 4, None)
    assert job.finished_at is not None
    # The failed attempts' writes were rolled back: one receipt, from attempt 4.
    with transaction(settings) as db:
        receipts = db.scalars(select(Job.payload).where(Job.kind == RECEIPT)).all()
    assert receipts == [{"for_job": job_id, "attempt": 4}]
    # The text left on every attempt; the gateway delivered it once.
    assert [message["text"] for message in sms_messages(settings, deliver=False)] == [
        "Your application was approved"
    ]


def test_a_permanent_failure_is_dead_at_once(settings: Settings, registry: JobRegistry) -> None:
    with transaction(settings) as db:
        job_id = enqueue(db, kind=BROKEN, payload={}).id
    run_due_jobs(settings, registry)
    job = _job(settings, job_id)
    assert (job.status, job.attempts) == (JobStatus.DEAD, 1)
    assert job.last_error == "PermanentFailure: no such mobile number"


def test_a_job_is_dead_after_its_last_attempt(settings: Settings, registry: JobRegistry) -> None:
    with transaction(settings) as db:
        job_id = enqueue(db, kind=ALWAYS_FAILS, payload={}, max_attempts=2).id
    run_due_jobs(settings, registry)
    assert _job(settings, job_id).status == JobStatus.QUEUED
    run_due_jobs(settings, registry, now=utcnow() + timedelta(hours=1))
    job = _job(settings, job_id)
    assert (job.status, job.attempts, job.last_error) == (
        JobStatus.DEAD,
        2,
        "ProviderDown: still down",
    )
    assert run_due_jobs(settings, registry, now=utcnow() + timedelta(days=1)) == 0


def test_an_unknown_kind_waits_for_a_worker_that_knows_it(
    settings: Settings, registry: JobRegistry
) -> None:
    with transaction(settings) as db:
        job_id = enqueue(db, kind="payments.reconcile", payload={}).id
    run_due_jobs(settings, registry)
    job = _job(settings, job_id)
    assert job.status == JobStatus.QUEUED
    assert job.last_error == "UnknownJobKind: no handler for job kind 'payments.reconcile'"


def test_jobs_retry_brings_a_dead_job_back_and_it_runs(
    settings: Settings, registry: JobRegistry, jobs_cli_runner: CliRunner
) -> None:
    with transaction(settings) as db:
        job_id = send_sms_later(db, to="+923001234567", text="Code 123456", urgent=True).id
    # Nobody ran it within ten minutes: dropped.
    run_due_jobs(settings, registry, now=utcnow() + timedelta(minutes=11))
    assert _job(settings, job_id).status == JobStatus.DEAD

    listed = jobs_cli_runner.invoke(jobs_cli, ["jobs", "list", "--status", "dead"])
    assert listed.exit_code == 0, listed.output
    assert f"{job_id:>8}  sms.send" in listed.output
    assert "expired" in listed.output
    assert "dead 1" in listed.output

    retried = jobs_cli_runner.invoke(jobs_cli, ["jobs", "retry", str(job_id)])
    assert retried.exit_code == 0, retried.output
    job = _job(settings, job_id)
    assert (job.status, job.attempts, job.expires_at) == (JobStatus.QUEUED, 0, None)
    assert run_due_jobs(settings, registry) == 1
    assert _job(settings, job_id).status == JobStatus.DONE
    assert [message["text"] for message in sms_messages(settings, deliver=False)] == ["Code 123456"]

    again = jobs_cli_runner.invoke(jobs_cli, ["jobs", "retry", str(job_id)])
    assert again.exit_code == 1
    assert f"Job {job_id} is done: only a dead or cancelled job can be retried." in again.output
    late_cancel = jobs_cli_runner.invoke(jobs_cli, ["jobs", "cancel", str(job_id)])
    assert late_cancel.exit_code == 1
    assert f"Job {job_id} is done: only a queued job can be cancelled." in late_cancel.output


def test_jobs_cancel_stops_a_queued_job(
    settings: Settings, registry: JobRegistry, jobs_cli_runner: CliRunner
) -> None:
    with transaction(settings) as db:
        job_id = send_sms_later(db, to="+923001234567", text="Reminder", urgent=False).id
    cancelled = jobs_cli_runner.invoke(jobs_cli, ["jobs", "cancel", str(job_id)])
    assert cancelled.exit_code == 0, cancelled.output
    assert "cancelled" in cancelled.output
    assert run_due_jobs(settings, registry) == 0
    assert _job(settings, job_id).status == JobStatus.CANCELLED
    assert sms_messages(settings, deliver=False) == []

    missing = jobs_cli_runner.invoke(jobs_cli, ["jobs", "cancel", "999999"])
    assert missing.exit_code == 1
    assert "There is no job with that number." in missing.output


def test_an_expired_one_time_code_is_dropped_not_sent(
    settings: Settings, registry: JobRegistry
) -> None:
    with transaction(settings) as db:
        code = send_sms_later(db, to="+923001234567", text="Code 654321", urgent=True)
        assert code.priority == Priority.URGENT
        assert code.expires_at is not None
        assert code.expires_at - code.created_at == timedelta(minutes=10)
    assert run_due_jobs(settings, registry, now=utcnow() + timedelta(minutes=10, seconds=1)) == 0
    job = _job(settings, code.id)
    assert (job.status, job.attempts, job.last_error) == (JobStatus.DEAD, 0, "expired")
    assert sms_messages(settings, deliver=False) == []


def test_a_code_goes_out_before_a_thousand_queued_messages(
    settings: Settings, registry: JobRegistry
) -> None:
    with transaction(settings) as db:
        for number in range(1000):
            send_sms_later(db, to="+923001234567", text=f"Notice {number}", urgent=False)
    with transaction(settings) as db:
        send_sms_later(db, to="+923007654321", text="Code 111222", urgent=True)
    assert run_due_jobs(settings, registry, limit=1) == 1
    assert [message["text"] for message in sms_messages(settings, deliver=False)] == ["Code 111222"]
    stats = _stats(settings)
    assert stats.counts[JobStatus.QUEUED] == 1000
    assert stats.counts[JobStatus.DONE] == 1
    assert stats.oldest_queued_age is not None
    assert timedelta(0) <= stats.oldest_queued_age < timedelta(minutes=5)


def _stats(settings: Settings) -> object:
    with transaction(settings) as db:
        return queue_stats(db)


def test_a_job_whose_worker_died_is_taken_by_another_and_the_first_cannot_finish_it(
    settings: Settings, registry: JobRegistry
) -> None:
    with transaction(settings) as db:
        job_id = enqueue(db, kind=RECEIPT, payload={}).id
    lease = timedelta(seconds=30)
    sessions = session_factory(settings)
    with sessions.begin() as db:
        [lost] = claim_jobs(db, worker_id="worker-a", limit=5, lease=lease)
    with sessions.begin() as db:
        # Worker A still holds its lease.
        assert claim_jobs(db, worker_id="worker-b", limit=5, lease=lease) == []
    later = utcnow() + lease + timedelta(seconds=1)
    assert run_due_jobs(settings, registry, worker_id="worker-b", now=later) == 1
    job = _job(settings, job_id)
    assert (job.status, job.attempts, job.leased_by) == (JobStatus.DONE, 2, "worker-b")
    # Worker A comes back from a long pause: its "done" matches nothing and rolls back.
    db: Session
    with sessions() as db:
        assert mark_done(db, lost, worker_id="worker-a") is False
        db.rollback()


def test_every_workers_clock_enqueues_a_slot_once(
    settings: Settings, registry: JobRegistry
) -> None:
    registry.add_schedule(Schedule(name="receipts", kind=RECEIPT, every=timedelta(minutes=5)))
    workers = [Worker(settings, registry, worker_id=f"w{n}") for n in range(3)]
    start = utcnow().replace(minute=0, second=0, microsecond=0) + timedelta(minutes=1)
    for offset in (timedelta(0), timedelta(seconds=30), timedelta(minutes=5)):
        for worker in workers:
            worker.housekeep(now=start + offset)
    with transaction(settings) as db:
        keys = db.scalars(select(Job.idempotency_key).order_by(Job.run_at)).all()
    slot = int(start.timestamp() // 300)
    assert keys == [f"schedule:receipts:{slot}", f"schedule:receipts:{slot + 1}"]


def test_the_outbox_gateway_sends_a_message_id_once_across_processes(tmp_path: Path) -> None:
    settings = Settings(env="development", data_dir=tmp_path)
    gateway = sms_gateway_for(settings)
    gateway.send(to="+923001234567", text="Code 1", message_id="a")
    gateway.send(to="+923001234567", text="Code 1", message_id="a")
    # Another process appended "b", and a writer killed mid-line left a fragment.
    with (tmp_path / "outbox" / "sms.jsonl").open("a", encoding="utf-8") as outbox:
        outbox.write('{"to": "+923001234567", "text": "Code 2", "message_id": "b"}\n{"to": "+9')
    gateway.send(to="+923001234567", text="Code 2", message_id="b")
    gateway.send(to="+923001234567", text="Code 3", message_id="c")
    gateway.send(to="+923001234567", text="No id: always sent")
    gateway.send(to="+923001234567", text="No id: always sent")
    lines = (tmp_path / "outbox" / "sms.jsonl").read_text(encoding="utf-8").splitlines()
    assert lines[2] == '{"to": "+9'
    texts = [line.split('"text": "')[1].split('"')[0] for line in lines if '"text"' in line]
    assert texts == ["Code 1", "Code 2", "Code 3", "No id: always sent", "No id: always sent"]


def test_a_long_job_keeps_its_lease_while_its_worker_lives(
    settings: Settings, registry: JobRegistry
) -> None:
    started, finish = threading.Event(), threading.Event()

    def issue_a_large_register(context: JobContext) -> None:
        started.set()
        finish.wait(20)

    registry.add("test.long", issue_a_large_register)
    with transaction(settings) as db:
        job_id = enqueue(db, kind="test.long", payload={}).id
    worker = Worker(settings, registry, concurrency=1, worker_id="busy", lease=timedelta(seconds=2))
    running = threading.Thread(target=worker.run, kwargs={"handle_signals": False})
    running.start()
    try:
        assert started.wait(20)
        time.sleep(4.5)  # more than two leases
        # The heartbeat kept the lease: another worker finds nothing to take.
        assert run_due_jobs(settings, registry, worker_id="other") == 0
        job = _job(settings, job_id)
        assert (job.status, job.leased_by, job.attempts) == (JobStatus.RUNNING, "busy", 1)
        assert job.lease_until is not None and job.lease_until > utcnow()
    finally:
        finish.set()
        worker.stop()
        running.join(20)
    assert not running.is_alive()
    job = _job(settings, job_id)
    assert (job.status, job.attempts, job.lease_until) == (JobStatus.DONE, 1, None)


def test_old_finished_jobs_are_deleted_but_dead_ones_wait_for_an_operator(
    settings: Settings, registry: JobRegistry
) -> None:
    with transaction(settings) as db:
        sent = send_sms_later(db, to="+923001234567", text="Approved", urgent=False).id
        broken = enqueue(db, kind=BROKEN, payload={}).id
        waiting = enqueue(db, kind=RECEIPT, payload={}, run_at=utcnow() + timedelta(days=30)).id
        cancelled = enqueue(db, kind=RECEIPT, payload={}, run_at=utcnow() + timedelta(days=30))
    with transaction(settings) as db:
        cancel_job(db, cancelled.id)
    run_due_jobs(settings, registry)
    worker = Worker(settings, registry, worker_id="tidy")
    worker.housekeep(now=utcnow() + timedelta(days=1))
    assert _count(settings) == 4
    worker = Worker(settings, registry, worker_id="tidy")
    worker.housekeep(now=utcnow() + timedelta(days=8))
    with _reader(settings) as db:
        left = {job_id: status for job_id, status in db.execute(select(Job.id, Job.status))}
    assert left == {broken: JobStatus.DEAD, waiting: JobStatus.QUEUED}
    assert sent not in left


def test_a_code_does_not_wait_for_busy_threads_to_finish_a_bulk_job(
    settings: Settings, registry: JobRegistry
) -> None:
    busy, finish = threading.Event(), threading.Event()

    def issue_a_large_register(context: JobContext) -> None:
        busy.set()
        finish.wait(20)

    registry.add("test.bulk", issue_a_large_register)
    with transaction(settings) as db:
        enqueue(db, kind="test.bulk", payload={}, priority=Priority.BULK)
    worker = Worker(settings, registry, concurrency=1, worker_id="one-thread")
    running = threading.Thread(target=worker.run, kwargs={"handle_signals": False})
    running.start()
    try:
        assert busy.wait(20)
        with transaction(settings) as db:
            code = send_sms_later(db, to="+923001234567", text="Code 246810", urgent=True)
        # The only job thread is busy; the urgent lane sends the code meanwhile.
        deadline = time.monotonic() + 10
        while _job(settings, code.id).status != JobStatus.DONE:
            assert time.monotonic() < deadline, "the code waited for the bulk job"
            time.sleep(0.02)
        assert not finish.is_set()
        assert [message["text"] for message in sms_messages(settings, deliver=False)] == [
            "Code 246810"
        ]
    finally:
        finish.set()
        worker.stop()
        running.join(20)


@pytest.mark.parametrize("claimed_at_once", [1, 8])
def test_a_worker_runs_one_heavy_job_at_a_time_and_its_other_threads_keep_working(
    settings: Settings, registry: JobRegistry, claimed_at_once: int
) -> None:
    running_now: list[int] = []
    most_at_once = 0
    lock = threading.Lock()

    def sign_a_chunk(context: JobContext) -> None:
        nonlocal most_at_once
        with lock:
            running_now.append(context.job_id)
            most_at_once = max(most_at_once, len(running_now))
        time.sleep(0.3)
        with lock:
            running_now.remove(context.job_id)

    registry.add("test.chunk", sign_a_chunk, heavy=True)
    with transaction(settings) as db:
        chunks = [enqueue(db, kind="test.chunk", payload={"n": n}).id for n in range(4)]
    worker = Worker(
        settings, registry, concurrency=4, worker_id="four-threads", batch_size=claimed_at_once
    )
    running = threading.Thread(target=worker.run, kwargs={"handle_signals": False})
    running.start()
    try:
        deadline = time.monotonic() + 20
        while not running_now:
            assert time.monotonic() < deadline, "no chunk started"
            time.sleep(0.01)
        # While a chunk signs, another thread of the same worker sends a message.
        with transaction(settings) as db:
            text = send_sms_later(db, to="+923001234567", text="Your card is ready", urgent=False)
        while _job(settings, text.id).status != JobStatus.DONE:
            assert time.monotonic() < deadline, "the message waited for the chunks"
            time.sleep(0.01)
        assert running_now, "the message should have gone out while a chunk was running"
        while any(_job(settings, chunk).status != JobStatus.DONE for chunk in chunks):
            assert time.monotonic() < deadline, "the chunks did not all finish"
            time.sleep(0.05)
    finally:
        worker.stop()
        running.join(20)
    # Four threads, four chunks: one at a time all the same. Chunks claimed together were
    # given back unstarted, so each counts one attempt.
    assert most_at_once == 1
    assert [_job(settings, chunk).attempts for chunk in chunks] == [1, 1, 1, 1]


def test_workers_claiming_at_once_never_take_the_same_job(settings: Settings) -> None:
    with transaction(settings) as db:
        expected = {enqueue(db, kind=RECEIPT, payload={"n": n}).id for n in range(300)}
    sessions = session_factory(settings)
    taken: dict[str, list[int]] = {}
    start_together = threading.Barrier(6)

    def claim_until_empty(worker_id: str) -> None:
        mine = taken.setdefault(worker_id, [])
        start_together.wait(10)
        while True:
            with sessions.begin() as db:
                claimed = claim_jobs(db, worker_id=worker_id, limit=7, lease=timedelta(minutes=1))
            if not claimed:
                return
            mine.extend(job.id for job in claimed)

    claimers = [threading.Thread(target=claim_until_empty, args=(f"w{n}",)) for n in range(6)]
    for claimer in claimers:
        claimer.start()
    for claimer in claimers:
        claimer.join(60)
    every_claim = [job_id for ids in taken.values() for job_id in ids]
    assert sorted(every_claim) == sorted(expected)
    assert sum(1 for ids in taken.values() if ids) > 1, "one claimer took everything"


def test_a_worker_with_nothing_due_leaves_sqlites_write_lock_to_the_requests(
    settings: Settings, registry: JobRegistry
) -> None:
    on_sqlite = settings.resolved_database_url.startswith("sqlite")
    claims: list[str] = []

    def note(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        # A claim: the UPDATE that leases jobs (each one takes SQLite's write lock).
        if statement.startswith("UPDATE jobs") and "started_at" in statement:
            claims.append(statement)

    worker = Worker(settings, registry, concurrency=2, worker_id="idle")
    event.listen(Engine, "before_cursor_execute", note)
    running = threading.Thread(target=worker.run, kwargs={"handle_signals": False})
    running.start()
    try:
        time.sleep(0.5)  # its threads look at once, then every 20 ms and more
        claims_while_idle = len(claims)
        with transaction(settings) as db:
            job_id = enqueue(db, kind=RECEIPT, payload={}).id
        deadline = time.monotonic() + 20
        while _job(settings, job_id).status != JobStatus.DONE:
            assert time.monotonic() < deadline, "the job was not run"
            time.sleep(0.02)
    finally:
        worker.stop()
        running.join(20)
        event.remove(Engine, "before_cursor_execute", note)
    # SQLite: it read that nothing was due, and never took the lock to claim nothing.
    # PostgreSQL: a claim takes no lock a request needs (SKIP LOCKED); it claims at once.
    assert (claims_while_idle == 0) is on_sqlite
    assert len(claims) > claims_while_idle
