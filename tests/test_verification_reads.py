"""A document checked as text takes no write lock: checks never queue behind a writer."""

from __future__ import annotations

import json
import sqlite3

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, event
from sqlalchemy.orm import Session

from darwaza.database import engine_for, pool_limits, read_session_factory, transaction
from darwaza.documents.models import Document
from darwaza.settings import Settings
from darwaza.verification.api import VerifyRead, verification_json
from darwaza.verification.verdicts import Verdict, VerificationResult
from tests.factories import create_document

DEGREE_CLAIMS = {
    "full_name": "Sana Mir",
    "degree_title": "BSc",
    "university": "NUST",
    "programme": "Civil Engineering",
    "year_of_completion": 2021,
}


def _a_degree(db: Session, settings: Settings, holder_cnic: str) -> Document:
    return create_document(
        db,
        settings,
        holder_cnic=holder_cnic,
        agency_id="hec",
        document_type="hec-degree-attestation",
        claims=DEGREE_CLAIMS,
    )


def test_a_qr_is_checked_while_another_transaction_holds_the_write_lock(
    app_client: TestClient, settings: Settings, db: Session
) -> None:
    url = settings.resolved_database_url
    if not url.startswith("sqlite:///"):
        pytest.skip("the write lock is SQLite's")
    document = _a_degree(db, settings, "3520255555551")
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
    document = _a_degree(db, settings, "3520255555552")
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


@pytest.mark.parametrize("language", ["en", "ur"])
def test_the_verify_answer_is_exactly_what_its_documented_model_writes(
    app_client: TestClient, settings: Settings, db: Session, language: str
) -> None:
    # The route writes its answer itself (it is the one the country calls); this holds it
    # to the shape, order and formats the OpenAPI document promises.
    document = _a_degree(db, settings, "3520255555553")
    for credential, verdict in ((document.qr_text, "valid"), ("not a document", "malformed")):
        answer = app_client.post(
            "/api/v1/verify",
            json={"credential": credential},
            headers={"Accept-Language": language},
        )
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "application/json"
        assert answer.json()["verdict"] == verdict
        modelled = VerifyRead.model_validate_json(answer.content)
        assert answer.content == modelled.model_dump_json().encode()
        shown = [modelled.verdict_label, *modelled.reasons]
        if modelled.issuer is not None:
            shown.append(modelled.issuer.name)
        # Every sentence in the reader's language: Urdu is written in Arabic script.
        assert all(_in_urdu(text) == (language == "ur") for text in shown)


def _in_urdu(text: str) -> bool:
    return any("\u0600" <= character <= "\u06ff" for character in text)


def test_a_claim_too_large_for_orjson_is_still_answered_as_the_model_writes_it() -> None:
    # JSON allows any integer, and a signed document may hold one past 64 bits.
    result = VerificationResult(verdict=Verdict.VALID, claims={"register_number": 2**70})
    written = verification_json(result, "en")
    assert json.loads(written)["claims"] == {"register_number": 2**70}
    assert written == VerifyRead.model_validate_json(written).model_dump_json().encode()
