"""``darwaza worker`` as a real process: killed with SIGKILL half way, its
jobs are finished by others and every text goes out exactly once; stopped with SIGTERM,
it finishes what it holds, gives back the rest and exits 0."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from darwaza.database import session_factory, transaction
from darwaza.jobs import Job, JobStatus
from darwaza.notifications.jobs import send_sms_later
from darwaza.settings import Settings

StartWorker = Callable[..., subprocess.Popen[bytes]]


@pytest.fixture
def start_worker(settings: Settings, tmp_path: Path) -> Iterator[StartWorker]:
    """Start worker processes on the test database; any still running are killed after."""
    started: list[subprocess.Popen[bytes]] = []

    def start(name: str, *, concurrency: int = 4, batch: int = 4) -> subprocess.Popen[bytes]:
        env = os.environ | {
            "DARWAZA_DATABASE_URL": settings.resolved_database_url,
            "DARWAZA_DATA_DIR": str(settings.data_dir),
            "DARWAZA_ENV": "test",
            "DARWAZA_SECRET_KEY": settings.secret_key,
            "DARWAZA_KEY_SEALING_SECRET": settings.key_sealing_secret,
            "DARWAZA_LOG_LEVEL": "WARNING",
        }
        command = [str(Path(sys.executable).parent / "darwaza"), "worker", "--worker-id", name]
        command += ["--concurrency", str(concurrency), "--batch", str(batch)]
        # A short lease, so a killed worker's jobs come back quickly.
        command += ["--lease-seconds", "3"]
        with (tmp_path / f"{name}.log").open("wb") as log:
            worker = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        if worker.poll() is None:
            worker.kill()
            worker.wait()


def _queue_texts(settings: Settings, count: int) -> list[str]:
    ids = [f"notice-{number:05d}" for number in range(count)]
    with transaction(settings) as db:
        for message_id in ids:
            send_sms_later(
                db,
                to="+923001234567",
                text=f"Notice {message_id}",
                urgent=False,
                message_id=message_id,
            )
    return ids


def _sent_ids(settings: Settings) -> list[str]:
    path = settings.outbox_dir / "sms.jsonl"
    if not path.exists():
        return []
    ids = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            ids.append(json.loads(line)["message_id"])
        except ValueError:
            continue  # a line cut short by SIGKILL
    return ids


def _counts(settings: Settings) -> Counter[JobStatus]:
    with session_factory(settings, immediate=False)() as db:
        # Only the texts: the clock's scheduled jobs (payments reconciliation) run beside them.
        rows = db.execute(
            select(Job.status, func.count()).where(Job.kind == "sms.send").group_by(Job.status)
        ).all()
    return Counter({JobStatus(status): count for status, count in rows})


def _wait_for(condition: Callable[[], bool], *, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"waited {seconds} s for {what}"
        time.sleep(0.02)


def test_a_worker_killed_half_way_loses_nothing_and_doubles_nothing(
    settings: Settings, start_worker: StartWorker
) -> None:
    ids = _queue_texts(settings, 2000)
    first = start_worker("first")
    _wait_for(lambda: len(_sent_ids(settings)) >= 300, seconds=120, what="300 texts")
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    counts = _counts(settings)
    assert 0 < counts[JobStatus.DONE] < 2000, "the worker was not killed part-way"
    stranded = counts[JobStatus.RUNNING]

    # On PostgreSQL two replacements claim side by side (SKIP LOCKED); SQLite has one writer.
    postgres = settings.resolved_database_url.startswith("postgresql")
    replacements = [
        start_worker(name) for name in (["second", "third"] if postgres else ["second"])
    ]
    _wait_for(lambda: _counts(settings)[JobStatus.DONE] == 2000, seconds=240, what="every job done")
    for worker in replacements:
        worker.send_signal(signal.SIGTERM)
    assert [worker.wait(timeout=30) for worker in replacements] == [0] * len(replacements)

    sent = Counter(_sent_ids(settings))
    assert sorted(sent) == ids, "a text was lost"
    assert [message_id for message_id, times in sent.items() if times > 1] == [], "sent twice"
    assert _counts(settings) == Counter({JobStatus.DONE: 2000})
    with session_factory(settings, immediate=False)() as db:
        retried = db.scalar(select(func.count()).select_from(Job).where(Job.attempts > 1))
    # The jobs the killed worker held were claimed again once its lease ran out (a job
    # could also be retried if a heartbeat was starved for a whole lease on a busy machine).
    assert retried >= stranded


def test_sigterm_finishes_the_jobs_in_hand_gives_back_the_rest_and_exits_0(
    settings: Settings, start_worker: StartWorker
) -> None:
    _queue_texts(settings, 1000)
    worker = start_worker("stopping", concurrency=4, batch=20)
    _wait_for(lambda: len(_sent_ids(settings)) >= 100, seconds=120, what="100 texts")
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=30) == 0

    counts = _counts(settings)
    assert counts[JobStatus.RUNNING] == 0
    assert counts[JobStatus.DONE] + counts[JobStatus.QUEUED] == 1000
    assert counts[JobStatus.QUEUED] > 0, "the worker finished everything before the signal"
    assert len(_sent_ids(settings)) == len(set(_sent_ids(settings))) == counts[JobStatus.DONE]
    with session_factory(settings, immediate=False)() as db:
        given_back = db.execute(
            select(Job.attempts, Job.leased_by, Job.lease_until)
            .where(Job.status == JobStatus.QUEUED)
            .distinct()
        ).all()
    # Given back as if never claimed: no attempt counted, no lease.
    assert given_back == [(0, None, None)]
