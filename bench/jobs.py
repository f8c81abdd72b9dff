"""How fast the job queue runs on this machine (prints figures; not a test).

Trivial jobs per second through the queue with two worker processes, on SQLite and on
PostgreSQL, and how long a one-time code waits behind 10,000 other queued texts.

.venv/bin/python bench/jobs.py [--jobs 20000] [--postgres postgresql://postgres@127.0.0.1:5432]

The PostgreSQL database ``darwaza_bench_jobs`` is created if missing; its jobs table is
emptied before each run.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psycopg
from sqlalchemy import delete, func, select, text

from darwaza.database import session_factory, transaction
from darwaza.jobs import Job, JobContext, JobRegistry, JobStatus, enqueue
from darwaza.migrate import upgrade_database
from darwaza.notifications.jobs import register_notification_jobs, send_sms_later
from darwaza.settings import Settings

NOTHING = "bench.nothing"
VACUUM_EVERY = 0.0
BENCH_DATABASE = "darwaza_bench_jobs"


def _nothing(context: JobContext) -> None:
    """A job with no work: what is left is the queue's own cost."""


def bench_registry() -> JobRegistry:
    """The workers' registry: texts, and the trivial job (``--registry bench.jobs:...``)."""
    registry = JobRegistry()
    register_notification_jobs(registry)
    registry.add(NOTHING, _nothing)
    return registry


def start_workers(
    settings: Settings, count: int, concurrency: int, batch: int
) -> list[subprocess.Popen[bytes]]:
    env = os.environ | {
        "DARWAZA_DATABASE_URL": settings.resolved_database_url,
        "DARWAZA_DATA_DIR": str(settings.data_dir),
        "DARWAZA_ENV": "development",
        "DARWAZA_LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
    }
    command = [str(Path(sys.executable).parent / "darwaza"), "worker", "--registry"]
    command += ["bench.jobs:bench_registry", "--concurrency", str(concurrency)]
    command += ["--batch", str(batch)]
    return [
        subprocess.Popen([*command, "--worker-id", f"bench-{n}"], env=env) for n in range(count)
    ]


def stop(workers: list[subprocess.Popen[bytes]]) -> None:
    for worker in workers:
        worker.send_signal(signal.SIGTERM)
    for worker in workers:
        worker.wait(timeout=60)


def count_done(settings: Settings) -> int:
    with session_factory(settings, immediate=False)() as db:
        return (
            db.scalar(select(func.count()).select_from(Job).where(Job.status == JobStatus.DONE))
            or 0
        )


def wait_until_done(settings: Settings, total: int) -> None:
    while count_done(settings) < total:
        time.sleep(0.2)


def empty_queue(settings: Settings) -> None:
    with transaction(settings) as db:
        if db.get_bind().dialect.name == "postgresql":
            # No dead rows from an earlier run (autovacuum may be off on a test server).
            db.execute(text("TRUNCATE jobs"))
        else:
            db.execute(delete(Job))


class Vacuum(threading.Thread):
    """VACUUM the jobs table every few seconds, as autovacuum would with the table's settings
    recommended for production (this test server runs with autovacuum off)."""

    def __init__(self, server_url: str, every: float) -> None:
        super().__init__(daemon=True)
        self.url, self.every, self.done = server_url, every, threading.Event()

    def run(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as connection:
            while not self.done.wait(self.every):
                connection.execute("VACUUM jobs")


def trivial_jobs(settings: Settings, jobs: int, concurrency: int, batch: int) -> None:
    empty_queue(settings)
    started = time.perf_counter()
    with transaction(settings) as db:
        for number in range(jobs):
            enqueue(db, kind=NOTHING, payload={"n": number})
    enqueued = time.perf_counter() - started
    workers = start_workers(settings, 2, concurrency, batch)
    vacuum = None
    if VACUUM_EVERY and settings.resolved_database_url.startswith("postgresql"):
        vacuum = Vacuum(settings.resolved_database_url.replace("+psycopg", ""), VACUUM_EVERY)
        vacuum.start()
    try:
        wait_until_done(settings, jobs)
    finally:
        stop(workers)
        if vacuum is not None:
            vacuum.done.set()
    with session_factory(settings, immediate=False)() as db:
        first, last = db.execute(select(func.min(Job.finished_at), func.max(Job.finished_at))).one()
    seconds = (last - first).total_seconds()
    print(f"  enqueue, one transaction        {jobs / enqueued:>10,.0f} jobs/s")
    print(
        f"  2 workers x {concurrency} threads, batch {batch:<3} {(jobs - 1) / seconds:>10,.0f} "
        f"trivial jobs/s ({jobs:,} jobs in {seconds:.1f} s)"
    )


def code_wait(settings: Settings, backlog: int, codes: int, concurrency: int, batch: int) -> None:
    empty_queue(settings)
    with transaction(settings) as db:
        for number in range(backlog):
            send_sms_later(db, to="+923001234567", text=f"Notice {number}", urgent=False)
    workers = start_workers(settings, 2, concurrency, batch)
    try:
        # Codes start once both workers are busy, so starting them up is not counted.
        while count_done(settings) < min(200, backlog // 2):
            time.sleep(0.05)
        for number in range(codes):
            with transaction(settings) as db:
                send_sms_later(db, to="+923007654321", text=f"Code {number:06d}", urgent=True)
            time.sleep(0.02)
        with session_factory(settings, immediate=False)() as db:
            waiting = db.scalar(
                select(func.count()).select_from(Job).where(Job.status == JobStatus.QUEUED)
            )
        wait_until_done(settings, backlog + codes)
    finally:
        stop(workers)
    with session_factory(settings, immediate=False)() as db:
        rows = db.execute(
            select(Job.created_at, Job.started_at, Job.finished_at).where(Job.priority == 0)
        ).all()
    waits = [(started - created).total_seconds() * 1000 for created, started, _ in rows]
    sent = [(finished - created).total_seconds() * 1000 for created, _, finished in rows]
    print(
        f"  code SMS waiting in the queue:  p50 {percentile(waits, 50):.0f} ms, "
        f"p99 {percentile(waits, 99):.0f} ms; enqueued to sent: p50 "
        f"{percentile(sent, 50):.0f} ms, p99 {percentile(sent, 99):.0f} ms"
    )
    print(
        f"  ({codes} codes, one every 20 ms; {waiting:,} other texts still queued after the last)"
    )


def percentile(values: list[float], percent: int) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(len(ordered) * percent / 100) - 1))]


def ensure_postgres(server: str) -> str:
    with psycopg.connect(f"{server}/postgres", autocommit=True) as connection:
        exists = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (BENCH_DATABASE,)
        ).fetchone()
        if not exists:
            connection.execute(f"CREATE DATABASE {BENCH_DATABASE}")
    return f"{server}/{BENCH_DATABASE}"


def run(label: str, settings: Settings, args: argparse.Namespace) -> None:
    upgrade_database(settings)
    print(label)
    trivial_jobs(settings, args.jobs, args.concurrency, args.batch)
    code_wait(settings, args.backlog, args.codes, args.concurrency, args.batch)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--backlog", type=int, default=10_000)
    parser.add_argument("--codes", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432")
    parser.add_argument("--only", choices=["sqlite", "postgres"])
    parser.add_argument(
        "--vacuum-every", type=float, default=0.0, help="seconds between VACUUMs (PostgreSQL)"
    )
    args = parser.parse_args()
    global VACUUM_EVERY
    VACUUM_EVERY = args.vacuum_every
    with tempfile.TemporaryDirectory() as data_dir:
        if args.only != "postgres":
            run("SQLite", Settings(env="development", data_dir=Path(data_dir) / "sqlite"), args)
        if args.only != "sqlite":
            url = ensure_postgres(args.postgres)
            run(
                "PostgreSQL",
                Settings(env="development", database_url=url, data_dir=Path(data_dir) / "pg"),
                args,
            )


if __name__ == "__main__":
    main()
