"""How fast a register becomes signed documents on this machine (prints figures; not a test).

File -> check (in a worker) -> approval -> signed documents (SD-JWT and QR, status slots)
with N worker processes, on SQLite or PostgreSQL. Prints rows per second end to end and
for the issuing alone, the workers' peak RSS (VmHWM) and the time per chunk (each chunk
is one job).

.venv/bin/python bench/bulk_issuance.py [--rows 20000] [--workers 2] [--concurrency 8]
    [--postgres postgresql://postgres@127.0.0.1:5432] [--profile]

The PostgreSQL database ``darwaza_bench_bulk`` is dropped and made again for each run.
``--profile`` issues one chunk in this process under cProfile and prints the top entries.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
from peers import es256_signatures_per_second
from sqlalchemy import select

from darwaza.agencies.service import sync_agencies
from darwaza.audit.actors import Actor
from darwaza.batches import checking, service
from darwaza.batches.issuing import issue_chunk
from darwaza.batches.models import Batch
from darwaza.catalogue import Catalogue, load_catalogue
from darwaza.database import session_factory, transaction
from darwaza.jobs import Job
from darwaza.migrate import upgrade_database
from darwaza.settings import Settings

BENCH_DATABASE = "darwaza_bench_bulk"
HEADER = "cnic,full_name,degree_title,programme,university,year_of_completion\n"


def write_register(path: Path, rows: int) -> None:
    with path.open("w", encoding="utf-8") as out:
        out.write(HEADER)
        for n in range(1, rows + 1):
            out.write(
                f"35202{n:07d}3,Graduate {n},BS Computer Science,Computer Science,"
                "University of the Punjab,2024\n"
            )


def settings_for(args: argparse.Namespace, data_dir: Path) -> Settings:
    if not args.postgres:
        return Settings(env="development", data_dir=data_dir)
    base = args.postgres.rstrip("/")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {BENCH_DATABASE}")
        connection.execute(f"CREATE DATABASE {BENCH_DATABASE}")
    return Settings(env="development", data_dir=data_dir, database_url=f"{base}/{BENCH_DATABASE}")


def wait_until_working(settings: Settings, worker_ids: list[str]) -> None:
    """Until every worker has claimed a job (its clock's first ones), at most a minute."""
    sessions = session_factory(settings, immediate=False)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with sessions() as db:
            # A finished job keeps the name of the worker that ran it.
            seen = set(db.scalars(select(Job.leased_by).where(Job.leased_by.in_(worker_ids))))
        if seen == set(worker_ids):
            return
        time.sleep(0.1)
    raise SystemExit("the workers did not start within a minute")


def peak_rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def upload(settings: Settings, catalogue: Catalogue, register: Path, *, check_now: bool) -> str:
    with transaction(settings) as db, register.open("rb") as source:
        batch = checking.upload_register(
            db,
            settings=settings,
            catalogue=catalogue,
            agency_id="hec",
            document_type_id="hec-degree-attestation",
            source=source,
            file_name=register.name,
            actor=Actor.staff("bench-uploader"),
            check_now=check_now,
        )
        return batch.id


def wait_for(
    settings: Settings, batch_id: str, state: str, workers: list[subprocess.Popen[bytes]]
) -> float:
    """Until the batch reaches ``state``; returns the workers' peak RSS meanwhile (MB)."""
    sessions = session_factory(settings, immediate=False)
    peak = 0.0
    while True:
        with sessions() as db:
            now = db.scalar(select(Batch.state).where(Batch.id == batch_id))
        peak = max([peak, *(peak_rss_mb(w.pid) for w in workers)])
        if now == state:
            return peak
        if any(w.poll() is not None for w in workers):
            raise SystemExit("a worker died")
        time.sleep(0.2)


def profile_one_chunk(settings: Settings, catalogue: Catalogue, batch_id: str) -> None:
    """Issue one chunk in this process under cProfile and print the top entries."""
    with transaction(settings) as db:
        batch = service.agency_batch(db, agency_id="hec", batch_id=batch_id, lock=True)
        service.approve_batch(db, batch=batch, actor=Actor.staff("bench-approver"))
    profiler = cProfile.Profile()
    with transaction(settings) as db:
        profiler.enable()
        issue_chunk(
            db, settings=settings, catalogue=catalogue, batch_id=batch_id, first_row=2, last_row=501
        )
        profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(25)
    print(out.getvalue())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=8)  # the worker's own default
    parser.add_argument("--postgres", default="")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="darwaza-bench-bulk-"))
    settings = settings_for(args, data_dir)
    upgrade_database(settings)
    catalogue = load_catalogue(settings.catalogue_dir)
    with transaction(settings) as db:
        sync_agencies(db, catalogue=catalogue)
    register = data_dir / "graduates.csv"
    write_register(register, args.rows)
    database = "PostgreSQL" if args.postgres else "SQLite"
    print(f"{args.rows} rows, {args.workers} workers x {args.concurrency} threads, {database}")

    if args.profile:
        batch_id = upload(settings, catalogue, register, check_now=True)
        profile_one_chunk(settings, catalogue, batch_id)
        return

    env = os.environ | {
        "DARWAZA_DATABASE_URL": settings.resolved_database_url,
        "DARWAZA_DATA_DIR": str(settings.data_dir),
        "DARWAZA_ENV": "development",
        "DARWAZA_LOG_LEVEL": "WARNING",
    }
    command = [str(Path(sys.executable).parent / "darwaza"), "worker"]
    command += ["--concurrency", str(args.concurrency)]
    workers = [
        subprocess.Popen([*command, "--worker-id", f"bulk-{n}"], env=env)
        for n in range(args.workers)
    ]
    wait_until_working(settings, [f"bulk-{n}" for n in range(args.workers)])

    # As the console and the API do it: the file is kept, a worker checks every row.
    started = time.perf_counter()
    batch_id = upload(settings, catalogue, register, check_now=False)
    peak = wait_for(settings, batch_id, "checked", workers)
    checked = time.perf_counter()
    rate = args.rows / (checked - started)
    print(f"upload and check: {checked - started:.1f} s ({rate:.0f} rows/s)")

    approved = time.perf_counter()
    with transaction(settings) as db:
        batch = service.agency_batch(db, agency_id="hec", batch_id=batch_id, lock=True)
        service.approve_batch(db, batch=batch, actor=Actor.staff("bench-approver"))
    peak = max(peak, wait_for(settings, batch_id, "done", workers))
    finished = time.perf_counter()
    peak = max([peak, *(peak_rss_mb(w.pid) for w in workers)])
    for worker in workers:
        worker.send_signal(signal.SIGTERM)
    for worker in workers:
        worker.wait(timeout=60)
    with session_factory(settings, immediate=False)() as db:
        finished_batch = db.get(Batch, batch_id)
        assert finished_batch is not None
        batch = finished_batch
        chunks = [
            (job.finished_at - job.started_at).total_seconds()
            for job in db.scalars(select(Job).where(Job.kind == service.ISSUE_CHUNK_JOB))
            if job.finished_at and job.started_at
        ]
    issuing = finished - approved
    print(f"issued {batch.issued_count}, failed {batch.failed_count}")
    rate = batch.issued_count / issuing
    reference = es256_signatures_per_second()
    # Each document is two signatures; the machine has os.cpu_count() cores for all of it.
    print(f"issuing: {issuing:.1f} s, {rate:.0f} documents/s")
    print(
        f"peer, same run: raw ES256 {reference:.0f} signatures/s per core; "
        f"issuing is {2 * rate / (reference * (os.cpu_count() or 1)):.2f}x the machine's "
        "signing capacity (two signatures per document)"
    )
    # Upload and check, then approval to the last document: the workers' start-up is not
    # a register's cost (they run all the time).
    end_to_end = (checked - started) + issuing
    print(f"end to end: {end_to_end:.1f} s, {args.rows / end_to_end:.0f} rows/s")
    print(f"peak worker RSS: {peak:.0f} MB")
    if chunks:
        chunks.sort()
        print(
            f"time per chunk of {batch.chunk_size}: median {statistics.median(chunks):.2f} s, "
            f"p95 {chunks[int(len(chunks) * 0.95) - 1]:.2f} s, {len(chunks)} chunks"
        )


if __name__ == "__main__":
    main()
