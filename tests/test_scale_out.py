"""Past one machine: app nodes that share only the database and an object store; reads
that never wait for writers; a pool that answers 503 instead of hanging; a replica that
falls back to the primary."""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
import httpx
import pytest
from moto.server import ThreadedMotoServer
from sqlalchemy import text
from sqlalchemy.orm import Session

from darwaza.database import PoolLimits, build_engine, engine_for
from darwaza.settings import Settings
from tests.factories import create_document
from tests.journeys import PDF_BYTES, latest_code, register_sim
from tests.servers import darwaza_serve, free_port, server_environment

CITIZEN = {"cnic": "35202-7778889-1", "full_name": "Node Tester", "mobile": "03007778889"}


def _citizen_token(base: str, settings: Settings) -> dict[str, str]:
    asked = httpx.post(f"{base}/api/v1/auth/sign-up", json=CITIZEN, timeout=30)
    assert asked.status_code == 202, asked.text
    code = latest_code(settings, "+923007778889")
    confirmed = httpx.post(
        f"{base}/api/v1/auth/confirm",
        json={"challenge_token": asked.json()["challenge_token"], "code": code},
        timeout=30,
    )
    assert confirmed.status_code == 200, confirmed.text
    return {"Authorization": f"Bearer {confirmed.json()['session_token']}"}


def test_two_app_nodes_share_an_attachment_through_the_object_store(
    settings: Settings, tmp_path: Path
) -> None:
    port = free_port()
    s3 = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    s3.start()
    try:
        endpoint = f"http://127.0.0.1:{port}"
        boto3.client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id="test",
            aws_secret_access_key="test",
            region_name="us-east-1",
        ).create_bucket(Bucket="darwaza-files")
        storage = {
            "storage_url": "s3://darwaza-files",
            "storage_endpoint": endpoint,
            "storage_access_key_id": "test",
            "storage_secret_access_key": "test",
            "otp_resend_cooldown_seconds": "0",
        }
        node_a_data, node_b_data = tmp_path / "node-a", tmp_path / "node-b"
        env_a = server_environment(settings, node_a_data, **storage)
        env_b = server_environment(settings, node_b_data, **storage)
        with darwaza_serve(env_a) as node_a, darwaza_serve(env_b) as node_b:
            citizen = _citizen_token(node_a, settings.model_copy(update={"data_dir": node_a_data}))
            started = httpx.post(
                f"{node_a}/api/v1/applications",
                headers=citizen,
                json={"service_id": "hec-degree-attestation"},
                timeout=30,
            )
            application = started.json()["id"]
            uploaded = httpx.post(
                f"{node_a}/api/v1/applications/{application}/attachments",
                headers=citizen,
                data={"requirement": "degree"},
                files={"file": ("degree.pdf", PDF_BYTES, "application/pdf")},
                timeout=30,
            )
            assert uploaded.status_code == 201, uploaded.text
            attachment = uploaded.json()["id"]
            fetched = httpx.get(
                f"{node_b}/api/v1/applications/{application}/attachments/{attachment}",
                headers=citizen,
                timeout=30,
            )
        assert fetched.status_code == 200
        assert fetched.content == PDF_BYTES
        # Neither node kept the file on its own disk: the object store has it.
        assert (
            not list((node_a_data / "files").rglob("*.*"))
            if (node_a_data / "files").exists()
            else True
        )
        listed = boto3.client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id="test",
            aws_secret_access_key="test",
            region_name="us-east-1",
        ).list_objects_v2(Bucket="darwaza-files")
        assert [item["Key"].split("/")[0] for item in listed["Contents"]] == ["attachments"]
    finally:
        s3.stop()


def test_a_read_never_waits_for_the_sqlite_write_lock(
    settings: Settings, db: Session, app_client: object
) -> None:
    if not settings.resolved_database_url.startswith("sqlite"):
        pytest.skip("PostgreSQL readers never wait for writers")
    from fastapi.testclient import TestClient

    assert isinstance(app_client, TestClient)
    document = create_document(
        db,
        settings,
        holder_cnic="35202-1212121-3",
        claims={
            "full_name": "Lock Free",
            "father_name": "Reader",
            "gender": "Male",
            "date_of_birth": "1990-01-01",
        },
    )
    status_list = app_client.get(f"/status-lists/{document.status_list_id}")
    assert status_list.status_code == 200
    # Another process holds SQLite's one write lock (a long write), and keeps it.
    writer = sqlite3.connect(settings.resolved_database_url.removeprefix("sqlite:///"))
    writer.isolation_level = None
    writer.execute("BEGIN IMMEDIATE")
    try:
        answers: list[int] = []

        def read() -> None:
            answers.append(
                app_client.post("/api/v1/verify", json={"credential": document.qr_text}).status_code
            )
            answers.append(app_client.get(f"/status-lists/{document.status_list_id}").status_code)
            answers.append(app_client.get("/services/hec-degree-attestation").status_code)

        reader = threading.Thread(target=read)
        reader.start()
        reader.join(timeout=8)  # a writer would wait up to the 15 s busy timeout
        assert not reader.is_alive(), "a read waited for the write lock"
        assert answers == [200, 200, 200]
    finally:
        writer.execute("ROLLBACK")
        writer.close()


def test_a_replica_that_is_down_falls_back_to_the_primary(settings: Settings, db: Session) -> None:
    from fastapi.testclient import TestClient

    from darwaza.app import create_app

    document = create_document(
        db,
        settings,
        holder_cnic="35202-3434343-5",
        claims={
            "full_name": "Replica Gone",
            "father_name": "Primary",
            "gender": "Female",
            "date_of_birth": "1991-02-02",
        },
    )
    nowhere = f"postgresql://postgres@127.0.0.1:{free_port()}/darwaza_replica"
    with TestClient(
        create_app(settings.model_copy(update={"database_replica_url": nowhere}))
    ) as app:
        answer = app.post("/api/v1/verify", json={"credential": document.qr_text})
        listed = app.get(f"/status-lists/{document.status_list_id}")
    assert answer.status_code == 200 and answer.json()["verdict"] == "valid"
    assert listed.status_code == 200


def test_two_hundred_writers_on_a_small_pool_are_served_without_a_hang(
    settings: Settings, tmp_path: Path
) -> None:
    # Five connections, fifty callers at once: requests wait their turn for the database
    # on the event loop (never on a thread holding nothing), so they are served.
    env = server_environment(
        settings,
        tmp_path / "data",
        database_pool_size="5",
        database_max_overflow="0",
        database_pool_timeout_seconds="1",
        otp_codes_per_address="100000",
        otp_resend_cooldown_seconds="0",
        sms_per_minute="100000",
    )
    register_sim(
        settings.model_copy(update={"data_dir": tmp_path / "data"}),
        cnic="35202-1000000-1",
        mobile="03001000000",
    )
    with darwaza_serve(env) as base:

        def sign_up(number: int) -> int:
            try:
                return httpx.post(
                    f"{base}/api/v1/auth/sign-up",
                    json={
                        "cnic": f"3520{number + 2000000:09d}",
                        "full_name": f"Person {number}",
                        "mobile": f"0300{number + 2000000:07d}",
                    },
                    timeout=60,
                ).status_code
            except httpx.HTTPError as error:
                return -1 if isinstance(error, httpx.TimeoutException) else -2

        with ThreadPoolExecutor(max_workers=50) as pool:
            answers = list(pool.map(sign_up, range(200)))
        still_there = httpx.get(f"{base}/healthz", timeout=10).status_code
    assert set(answers) <= {202, 503}, sorted(set(answers))
    # All of them, but for a few 503s a very slow machine may give (never a hang).
    assert answers.count(202) >= 180, answers.count(503)
    assert still_there == 200


@pytest.mark.parametrize("first_run_ends_slowly", [False, True])
def test_a_read_that_has_to_write_after_another_write_runs_again_and_records_once(
    settings: Settings,
    db: Session,
    make_client: object,
    caplog: pytest.LogCaptureFixture,
    first_run_ends_slowly: bool,
) -> None:
    if not settings.resolved_database_url.startswith("sqlite"):
        pytest.skip("the stale-snapshot collision is SQLite's")
    from sqlalchemy import event, func, select

    from darwaza.audit.models import AuditEvent
    from darwaza.database import engine_for, pool_limits
    from tests.factories import create_staff
    from tests.journeys import STAFF_PASSWORD, sign_in_officer

    document = create_document(
        db,
        settings,
        holder_cnic="35202-5656565-7",
        claims={
            "full_name": "Busy Snapshot",
            "father_name": "Writer",
            "gender": "Male",
            "date_of_birth": "1989-03-03",
        },
    )
    officer = create_staff(db, settings, username="nadra.reader", agency_id="nadra")
    browser = make_client()  # type: ignore[operator]
    sign_in_officer(browser, settings, officer, STAFF_PASSWORD)
    reads = engine_for(settings.resolved_database_url, immediate=False, pool=pool_limits(settings))
    collided = []

    def write_from_elsewhere(conn: object, cursor: object, statement: str, *args: object) -> None:
        # Right after the page's first read, another process commits a write: the page's
        # snapshot is now stale, and its own write (the look it records) must collide.
        if collided or not statement.lstrip().upper().startswith("SELECT"):
            return
        collided.append(True)
        other = sqlite3.connect(settings.resolved_database_url.removeprefix("sqlite:///"))
        other.execute("UPDATE agencies SET name_en = name_en || '.' WHERE id = 'nadra'")
        other.commit()
        other.close()

    slowed: list[bool] = []

    def end_slowly(_conn: object) -> None:
        # The first run's rollback takes a while: the second run must not touch its session
        # meanwhile (the second run starts before the first run's dependencies end).
        if not slowed:
            slowed.append(True)
            time.sleep(0.3)

    caplog.set_level(logging.INFO, logger="darwaza.access")
    event.listen(reads, "after_cursor_execute", write_from_elsewhere)
    if first_run_ends_slowly:
        event.listen(reads, "rollback", end_slowly)
    try:
        page = browser.get(f"/console/documents/{document.id}")
    finally:
        event.remove(reads, "after_cursor_execute", write_from_elsewhere)
        if first_run_ends_slowly:
            event.remove(reads, "rollback", end_slowly)
    assert slowed == ([True] if first_run_ends_slowly else [])
    assert collided
    assert page.status_code == 200
    assert "a read had to write; running /console/documents/" in caplog.text
    db.commit()
    looks = db.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.action == "document.viewed", AuditEvent.object_id == document.id)
    )
    assert looks == 1


def _postgres_only(settings: Settings) -> str:
    url = settings.resolved_database_url
    if url.startswith("sqlite"):
        pytest.skip("the pool's pings are PostgreSQL's")
    return url


def test_a_connection_cut_while_idle_is_replaced_before_a_request_meets_it(
    settings: Settings,
) -> None:
    url = _postgres_only(settings)
    engine = build_engine(url, pool=PoolLimits(size=1, overflow=0, ping_after_idle_seconds=0.2))
    try:
        with engine.connect() as connection:
            backend = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
        # As a database restart, a failover or a proxy's idle timeout would: the
        # connection is cut while it waits in the pool.
        with engine_for(url).connect() as admin:
            assert admin.execute(text("SELECT pg_terminate_backend(:pid, 2000)"), {"pid": backend})
        time.sleep(0.3)
        with engine.connect() as connection:
            assert connection.execute(text("SELECT pg_backend_pid()")).scalar_one() != backend
    finally:
        engine.dispose()


def test_a_connection_handed_back_moments_ago_is_not_pinged_again(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = _postgres_only(settings)
    engine = build_engine(url, pool=PoolLimits(size=1, overflow=0, ping_after_idle_seconds=60))
    pings: list[object] = []
    real_ping = engine.dialect.do_ping

    def counted_ping(dbapi_connection: object) -> bool:
        pings.append(dbapi_connection)
        return real_ping(dbapi_connection)

    monkeypatch.setattr(engine.dialect, "do_ping", counted_ping)
    try:
        for _ in range(5):
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        assert pings == [], "busy connections cost a round trip each"
        monkeypatch.setattr(time, "monotonic", lambda: 10.0**9)  # a long quiet spell later
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        assert len(pings) == 1
    finally:
        engine.dispose()
