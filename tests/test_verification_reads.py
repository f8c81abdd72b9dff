"""A document checked as text takes no write lock: checks never queue behind a writer."""

from __future__ import annotations

import sqlite3

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, event
from sqlalchemy.orm import Session

from darwaza.database import engine_for, pool_limits, read_session_factory, transaction
from darwaza.settings import Settings
from tests.factories import create_document

DEGREE_CLAIMS = {
    "full_name": "Sana Mir",
    "degree_title": "BSc",
    "university": "NUST",
    "programme": "Civil Engineering",
    "year_of_completion": 2021,
}


def test_a_qr_is_checked_while_another_transaction_holds_the_write_lock(
    app_client: TestClient, settings: Settings, db: Session
) -> None:
    url = settings.resolved_database_url
    if not url.startswith("sqlite:///"):
        pytest.skip("the write lock is SQLite's")
    document = create_document(
        db,
        settings,
        holder_cnic="3520255555551",
        agency_id="hec",
        document_type="hec-degree-attestation",
        claims=DEGREE_CLAIMS,
    )
    # Warm the key cache and the first request's work outside the lock.
    assert (
        app_client.post("/api/v1/verify", json={"credential": document.qr_text}).json()["verdict"]
        == "valid"
    )
    writer = sqlite3.connect(url.removeprefix("sqlite:///"), timeout=1, isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")
        answer = app_client.post("/api/v1/verify", json={"credential": document.qr_text})
        writer.execute("ROLLBACK")
    finally:
        writer.close()
    assert answer.status_code == 200
    assert answer.json()["verdict"] == "valid"
    assert answer.json()["status_checked"] is True


def _in_a_transaction(connection: Connection) -> bool:
    dbapi = connection.connection.dbapi_connection
    if isinstance(dbapi, sqlite3.Connection):
        return dbapi.in_transaction
    return not dbapi.autocommit  # type: ignore[union-attr]


def test_a_qr_check_reads_its_status_on_its_own_and_every_other_session_keeps_its_transaction(
    app_client: TestClient, settings: Settings, db: Session
) -> None:
    document = create_document(
        db,
        settings,
        holder_cnic="3520255555552",
        agency_id="hec",
        document_type="hec-degree-attestation",
        claims=DEGREE_CLAIMS,
    )
    url = settings.resolved_database_url
    # The readers' engine (on PostgreSQL, the one engine for all).
    engine = engine_for(url, immediate=False, pool=pool_limits(settings))
    status_reads: list[bool] = []

    def note(conn: Connection, _cursor: object, statement: str, *_args: object) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "FROM status_lists" in statement:
            status_reads.append(_in_a_transaction(conn))

    event.listen(engine, "before_cursor_execute", note)
    try:
        answer = app_client.post("/api/v1/verify", json={"credential": document.qr_text})
    finally:
        event.remove(engine, "before_cursor_execute", note)
    assert answer.json()["verdict"] == "valid" and answer.json()["status_checked"] is True
    # One statement on its own: no BEGIN before it, no ROLLBACK after it (on PostgreSQL
    # one round trip instead of three; on SQLite two statements fewer).
    assert status_reads == [False]
    # The same pooled connections serve readers and writers again, inside transactions.
    for _ in range(pool_limits(settings).size + 1):
        reader = read_session_factory(settings)()
        try:
            assert _in_a_transaction(reader.connection())
        finally:
            reader.close()
        with transaction(settings) as session:
            assert _in_a_transaction(session.connection())
