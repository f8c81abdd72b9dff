"""A 10,000-row register issued by real ``darwaza worker`` processes: the first is killed
with SIGKILL half way, another finishes (two side by side on PostgreSQL), and there are
exactly 10,000 documents, each verifying, none issued twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from darwaza.batches.models import Batch, BatchRow, RowStatus
from darwaza.catalogue import load_catalogue
from darwaza.database import session_factory
from darwaza.documents.models import Document
from darwaza.settings import Settings
from darwaza.verification.publishing import DatabaseTrustSource
from darwaza.verification.verifier import verify_credential
from tests.bulk import graduates_csv
from tests.factories import create_staff

ROWS = 10_000
StartWorker = Callable[[str], subprocess.Popen[bytes]]


def _env(settings: Settings) -> dict[str, str]:
    return os.environ | {
        "DARWAZA_DATABASE_URL": settings.resolved_database_url,
        "DARWAZA_DATA_DIR": str(settings.data_dir),
        "DARWAZA_ENV": "test",
        "DARWAZA_SECRET_KEY": settings.secret_key,
        "DARWAZA_KEY_SEALING_SECRET": settings.key_sealing_secret,
        "DARWAZA_BASE_URL": settings.base_url,
        "DARWAZA_LOG_LEVEL": "WARNING",
    }


def _darwaza(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    command = [str(Path(sys.executable).parent / "darwaza"), *args]
    return subprocess.run(
        command, env=_env(settings), capture_output=True, text=True, timeout=300, check=False
    )


@pytest.fixture
def start_worker(settings: Settings, tmp_path: Path) -> Iterator[StartWorker]:
    started: list[subprocess.Popen[bytes]] = []

    def start(name: str) -> subprocess.Popen[bytes]:
        command = [str(Path(sys.executable).parent / "darwaza"), "worker", "--worker-id", name]
        command += ["--concurrency", "2", "--batch", "1", "--lease-seconds", "3"]
        with (tmp_path / f"{name}.log").open("wb") as log:
            worker = subprocess.Popen(
                command, env=_env(settings), stdout=log, stderr=subprocess.STDOUT
            )
        started.append(worker)
        return worker

    yield start
    for worker in started:
        if worker.poll() is None:
            worker.kill()
            worker.wait()


def _batch(settings: Settings, batch_id: str) -> Batch:
    with session_factory(settings, immediate=False)() as db:
        batch = db.get(Batch, batch_id)
        assert batch is not None
        db.expunge(batch)
        return batch


def _wait_for(condition: Callable[[], bool], *, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"waited {seconds} s for {what}"
        time.sleep(0.05)


def test_a_register_survives_a_killed_worker_and_issues_each_row_exactly_once(
    settings: Settings, db: object, start_worker: StartWorker, tmp_path: Path
) -> None:
    create_staff(db, settings, username="hec.approver")  # type: ignore[arg-type]
    register = tmp_path / "graduates.csv"
    register.write_bytes(graduates_csv(ROWS))
    uploaded = _darwaza(
        settings,
        "documents",
        "bulk",
        str(register),
        "--agency",
        "hec",
        "--type",
        "hec-degree-attestation",
        "--approve-as",
        "hec.approver",
        "--json",
    )
    assert uploaded.returncode == 0, uploaded.stderr
    summary = json.loads(uploaded.stdout)
    batch_id = summary["id"]
    assert summary["state"] == "issuing" and summary["progress"]["valid"] == ROWS

    first = start_worker("first")
    _wait_for(
        lambda: _batch(settings, batch_id).issued_count >= 2_000, seconds=300, what="2,000 rows"
    )
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    issued = _batch(settings, batch_id).issued_count
    assert 0 < issued < ROWS, "the worker was not killed part-way"

    postgres = settings.resolved_database_url.startswith("postgresql")
    replacements = [start_worker(n) for n in (["second", "third"] if postgres else ["second"])]
    _wait_for(
        lambda: _batch(settings, batch_id).state == "done", seconds=600, what="the batch done"
    )
    for worker in replacements:
        worker.send_signal(signal.SIGTERM)
    assert [worker.wait(timeout=30) for worker in replacements] == [0] * len(replacements)

    batch = _batch(settings, batch_id)
    assert (batch.issued_count, batch.failed_count, batch.already_issued_count) == (ROWS, 0, 0)
    with session_factory(settings, immediate=False)() as session:
        assert session.scalar(select(func.count()).select_from(Document)) == ROWS
        assert session.scalar(select(func.count(func.distinct(Document.id)))) == ROWS
        slots = session.scalar(
            select(func.count()).select_from(
                select(Document.status_list_id, Document.status_index).distinct().subquery()
            )
        )
        assert slots == ROWS
        rows = session.scalar(
            select(func.count())
            .select_from(BatchRow)
            .where(BatchRow.batch_id == batch_id, BatchRow.status == RowStatus.ISSUED)
        )
        assert rows == ROWS
        trust = DatabaseTrustSource(
            session, settings=settings, catalogue=load_catalogue(settings.catalogue_dir)
        )
        now = datetime.now(UTC)
        names = set()
        for sd_jwt, qr, claims in session.execute(
            select(Document.sd_jwt, Document.qr_text, Document.claims)
        ):
            assert verify_credential(sd_jwt, trust=trust, now=now).verdict == "valid"
            assert verify_credential(qr, trust=trust, now=now).verdict == "valid"
            names.add(claims["full_name"])
        assert len(names) == ROWS
        some_document = session.scalar(select(Document.id).limit(1))

    proof = _darwaza(settings, "documents", "proof", str(some_document))
    assert proof.returncode == 0, proof.stderr
    assert json.loads(proof.stdout)["matches"] is True
    verified = _darwaza(settings, "audit", "verify")
    assert verified.returncode == 0, verified.stderr
    assert "Merkle roots of 1 finished batches match" in verified.stdout
