"""A document checked as text takes no write lock and never makes the event loop wait:
checks never queue behind a writer, nor other requests behind a check; the public pages
need no request thread at all."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import Connection, Engine, event
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.orm import Session

from darwaza.agencies.keys import root_key, rotate_agency_key
from darwaza.app import create_app
from darwaza.audit.actors import Actor
from darwaza.catalogue import load_catalogue
from darwaza.clock import utcnow
from darwaza.database import (
    SQLITE_BUSY_SECONDS,
    engine_for,
    never_waiting_reader,
    pool_limits,
    read_session_factory,
    transaction,
)
from darwaza.documents.models import Document
from darwaza.documents.service import issuer_url, status_list_url
from darwaza.settings import Settings
from darwaza.verification import views as verification_views
from darwaza.verification.api import VerifyRead, verification_json
from darwaza.verification.publishing import _PUBLISHED_KEYS, root_key_thumbprint
from darwaza.verification.trust_bundle import verify_trust_bundle
from darwaza.verification.verdicts import Verdict, VerificationResult
from tests.factories import create_document
from tests.journeys import wait_until

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


def _on_the_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def test_a_qr_check_reads_its_status_on_its_own_and_every_other_session_keeps_its_transaction(
    app_client: TestClient, settings: Settings, db: Session
) -> None:
    document = _a_degree(db, settings, "3520255555552")
    # (in a transaction, on the event loop) for each read of a status, on any engine
    status_reads: list[tuple[bool, bool]] = []

    def note(conn: Connection, _cursor: object, statement: str, *_args: object) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "FROM status_lists" in statement:
            status_reads.append((_in_a_transaction(conn), _on_the_event_loop()))

    event.listen(Engine, "before_cursor_execute", note)
    try:
        answer = app_client.post("/api/v1/verify", json={"credential": document.qr_text})
    finally:
        event.remove(Engine, "before_cursor_execute", note)
    assert answer.json()["verdict"] == "valid" and answer.json()["status_checked"] is True
    # One statement on its own: no BEGIN before it, no ROLLBACK after it (on PostgreSQL
    # one round trip instead of three; on SQLite two statements fewer). SQLite's read,
    # which never waits for a lock, is made on the event loop; PostgreSQL's, a round
    # trip, in a thread.
    on_sqlite = settings.resolved_database_url.startswith("sqlite")
    assert status_reads == [(False, on_sqlite)]
    # The pooled connections serve readers and writers again, inside transactions.
    for _ in range(pool_limits(settings).size + 1):
        reader = read_session_factory(settings)()
        try:
            assert _in_a_transaction(reader.connection())
        finally:
            reader.close()
        with transaction(settings) as session:
            assert _in_a_transaction(session.connection())


@dataclass
class StuckCheck:
    """A verification waiting in a request thread for a database held by another."""

    answers: list[Response]
    refusals: list[tuple[bool, float]]  # (on the event loop, seconds after the request)
    thread: threading.Thread


@contextmanager
def _a_check_stuck_behind_an_exclusive_lock(
    client: TestClient, settings: Settings, db: Session, qr_text: str
) -> Iterator[StuckCheck]:
    """Hold the SQLite database exclusively and send a QR to check; yields once the read
    on the event loop was refused and the check waits in a thread. On leaving, the lock
    is let go and the check answers."""
    url = settings.resolved_database_url
    db.commit()
    db.close()
    # A connection in exclusive locking mode keeps every other reader out, even in WAL
    # mode (the one case, with a log's recovery, where SQLite makes a reader wait). It
    # can only take the database while no other connection has it open.
    for engine in (
        engine_for(url),
        engine_for(url, immediate=False, pool=pool_limits(settings)),
        engine_for(url, pool=pool_limits(settings)),
        never_waiting_reader(settings),
    ):
        assert engine is not None
        engine.dispose()
    holder = sqlite3.connect(url.removeprefix("sqlite:///"), timeout=0, isolation_level=None)
    holder.execute("PRAGMA locking_mode=EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    refused = threading.Event()
    stuck = StuckCheck([], [], threading.Thread(target=lambda: None))

    def note_refusal(context: ExceptionContext) -> None:
        if "locked" in str(context.original_exception) and not refused.is_set():
            stuck.refusals.append((_on_the_event_loop(), time.monotonic() - started))
            refused.set()

    event.listen(Engine, "handle_error", note_refusal)
    stuck.thread = threading.Thread(
        target=lambda: stuck.answers.append(
            client.post("/api/v1/verify", json={"credential": qr_text})
        )
    )
    started = time.monotonic()
    try:
        stuck.thread.start()
        assert refused.wait(timeout=10)
        yield stuck
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        stuck.thread.join(timeout=20)
        event.remove(Engine, "handle_error", note_refusal)
    assert stuck.answers[0].status_code == 200
    assert stuck.answers[0].json()["verdict"] == "valid"
    assert stuck.answers[0].json()["status_checked"] is True


def test_a_check_that_sqlite_would_make_wait_waits_in_a_thread_not_on_the_event_loop(
    app_client: TestClient, settings: Settings, db: Session
) -> None:
    if not settings.resolved_database_url.startswith("sqlite:///"):
        pytest.skip("reads on the event loop are SQLite's")
    document = _a_degree(db, settings, "3520255555554")
    with _a_check_stuck_behind_an_exclusive_lock(app_client, settings, db, document.qr_text) as (
        stuck
    ):
        # The read on the event loop was refused at once, not after SQLite's 15 s wait
        # for a lock; the check now waits in a thread.
        on_the_loop, after = stuck.refusals[0]
        assert on_the_loop and after < SQLITE_BUSY_SECONDS / 3
        # Meanwhile the event loop serves others: this answer comes while the lock is held.
        assert app_client.get("/healthz").status_code == 200
        assert stuck.thread.is_alive() and not stuck.answers


def test_the_public_pages_need_no_request_thread(settings: Settings, db: Session) -> None:
    # With one request thread, taken by a check stuck behind the database, a visitor
    # without a session still gets the start page, the services and a service: they are
    # rendered on the event loop, and nobody signed in costs no database read.
    if not settings.resolved_database_url.startswith("sqlite:///"):
        pytest.skip("the stuck check uses SQLite's exclusive lock")
    document = _a_degree(db, settings, "3520255555556")
    one_thread = settings.model_copy(update={"request_threads": 1})
    with (
        TestClient(create_app(one_thread), base_url="http://127.0.0.1:8000") as client,
        _a_check_stuck_behind_an_exclusive_lock(client, settings, db, document.qr_text) as stuck,
    ):
        for path, shown in (
            ("/", "Darwaza"),
            ("/services", "Degree attestation"),
            ("/services/hec-degree-attestation", "Sign in to apply"),
        ):
            page = client.get(path)
            assert page.status_code == 200
            assert shown in page.text
        assert stuck.thread.is_alive() and not stuck.answers


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


def test_the_verify_page_reads_the_root_key_as_a_check_does(
    app_client: TestClient, settings: Settings, db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A new platform's first look at the page makes the root key (a write, in a thread);
    # after that the page reads it on the event loop where that cannot wait (SQLite),
    # whenever what it read last is older than ROOT_THUMBPRINT_SECONDS.
    first = app_client.get("/verify")
    monkeypatch.setattr(verification_views, "ROOT_THUMBPRINT_SECONDS", 0.0)
    reads: list[bool] = []  # on the event loop, for each read of the root key

    def note(_conn: Connection, _cursor: object, statement: str, *_args: object) -> None:
        if "FROM signing_keys" in statement and "purpose" in statement:
            reads.append(_on_the_event_loop())

    event.listen(Engine, "before_cursor_execute", note)
    try:
        second = app_client.get("/verify")
    finally:
        event.remove(Engine, "before_cursor_execute", note)
    pinned = f'data-root-thumbprint="{root_key_thumbprint(db, settings=settings)}"'
    assert first.status_code == second.status_code == 200
    assert pinned in first.text and pinned in second.text
    assert reads == [settings.resolved_database_url.startswith("sqlite")]


def test_a_status_list_signed_already_is_served_from_the_event_loop(
    app_client: TestClient, settings: Settings, db: Session
) -> None:
    # The first request signs the shard's token (in a thread); after that, where the
    # shard's version can be read without waiting (SQLite), the token this process signed
    # for that version is found on the event loop. On PostgreSQL the server keeps the
    # token in memory while it hears of every change (tests/test_status_memory.py): no
    # statement at all.
    on_sqlite = settings.resolved_database_url.startswith("sqlite")
    if not on_sqlite:
        memory = app_client.app.state.status_memory  # type: ignore[attr-defined]
        wait_until(lambda: memory.listening.listening)
    document = _a_degree(db, settings, "3520277777771")
    path = f"/status-lists/{document.status_list_id}"
    first = app_client.get(path)
    reads: list[bool] = []  # on the event loop, for each read of the shard

    def note(_conn: Connection, _cursor: object, statement: str, *_args: object) -> None:
        if "FROM status_lists" in statement:
            reads.append(_on_the_event_loop())

    event.listen(Engine, "before_cursor_execute", note)
    try:
        second = app_client.get(path)
    finally:
        event.remove(Engine, "before_cursor_execute", note)
    assert first.status_code == second.status_code == 200
    assert second.text == first.text and second.headers["etag"] == first.headers["etag"]
    assert reads == ([True] if on_sqlite else [])


def test_the_trust_bundle_reads_every_agency_at_once(
    app_client: TestClient, settings: Settings, db: Session
) -> None:
    # Verifiers download the bundle often. However many agencies there are, it reads the
    # root key, every agency's published keys and every status list shard: three
    # statements, not three for each agency (43 for the 14 agencies of the catalogue).
    document = _a_degree(db, settings, "3520288888881")
    app_client.get("/trust-bundle")  # a new platform's first look makes the keys
    selects: list[str] = []

    def note(_conn: Connection, _cursor: object, statement: str, *_args: object) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            selects.append(statement)

    event.listen(Engine, "before_cursor_execute", note)
    try:
        answer = app_client.get("/trust-bundle")
    finally:
        event.remove(Engine, "before_cursor_execute", note)
    db.commit()  # a fresh look at what the requests wrote
    root = root_key(db, settings=settings).private_key.public_key()
    bundle = verify_trust_bundle(answer.text, root, utcnow())
    agencies = load_catalogue(settings.catalogue_dir).agencies
    assert {issuer.issuer for issuer in bundle.issuers} == {
        issuer_url(settings, agency_id) for agency_id in agencies
    }
    hec = bundle.issuer(issuer_url(settings, "hec"))
    assert hec is not None and hec.key_for(document.kid) is not None
    assert status_list_url(settings, document.status_list_id) in hec.status_list_uris
    assert len(agencies) > 3 and len(selects) == 3


def test_a_retired_key_is_published_while_a_document_it_signed_is_in_use(
    settings: Settings, db: Session
) -> None:
    document = _a_degree(db, settings, "3520299999991")
    old_kid = document.kid
    rotate_agency_key(db, settings=settings, agency_id="hec", actor=Actor.operator())
    db.commit()
    # Read from the database on each request: a server's memory on PostgreSQL keeps the
    # keys for the signing period (tests/test_status_memory.py), so a document whose
    # expiry moves here would not be seen within it.
    app = create_app(settings.model_copy(update={"status_memory": False}))
    with TestClient(app, base_url="http://127.0.0.1:8000") as client:

        def published() -> set[str]:
            keys = client.get("/agencies/hec/jwks.json").json()["keys"]
            return {key["kid"] for key in keys}

        def expiring(when: datetime | None) -> None:
            document.expires_at = when
            db.commit()

        for expires_at, kept in (
            (utcnow() + timedelta(days=30), True),  # not expired yet
            (utcnow() - timedelta(days=1), False),  # expired: nothing it signed is in use
            (None, True),  # never expires
        ):
            expiring(expires_at)
            assert (old_kid in published()) is kept
            assert len(published()) == 1 + kept
    if settings.resolved_database_url.startswith("sqlite"):
        # Found through the index, not by reading every document (0018). PostgreSQL's
        # plan depends on the table's size: bench/seed_scale.py's figures show it.
        connection = db.connection()
        compiled = _PUBLISHED_KEYS.compile(dialect=connection.dialect)
        values = compiled.construct_params({"now": "2026-12-01 00:00:00"})
        plan = connection.exec_driver_sql(
            f"EXPLAIN QUERY PLAN {compiled}",
            tuple(values[name] for name in compiled.positiontup or ()),
        ).all()
        probes = [row for row in plan if "documents" in str(row)]
        assert len(probes) == 2, plan
        assert all("ix_documents_kid_expiry" in str(row) for row in probes), plan


def test_an_agency_that_has_issued_nothing_publishes_a_key_made_once(
    app_client: TestClient,
) -> None:
    first = app_client.get("/agencies/fbr/jwks.json")
    again = app_client.get("/.well-known/jwt-vc-issuer/agencies/fbr")
    assert first.status_code == again.status_code == 200
    [key] = first.json()["keys"]
    assert again.json()["jwks"]["keys"] == [key]
    assert app_client.get("/agencies/no-such-agency/jwks.json").status_code == 404
