"""On PostgreSQL a server keeps documents' statuses in memory, and hears every change:
a document changed by anyone (another server, a job, an operator's SQL) is never checked
against the old copy, and a server that cannot hear reads the database again."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import psycopg
import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from darwaza.agencies.keys import rotate_agency_key
from darwaza.app import create_app
from darwaza.audit.actors import Actor
from darwaza.catalogue import load_catalogue
from darwaza.crypto.jws import parse_compact_jws
from darwaza.database import engine_for
from darwaza.documents.models import Document
from darwaza.documents.service import status_list_url
from darwaza.documents.statuses import (
    CHANNEL,
    PUBLISHED,
    StatusMemory,
    StatusSource,
    _trigger_present,
)
from darwaza.settings import Settings
from darwaza.verification.publishing import status_list_token, trust_bundle_token
from tests.factories import create_document
from tests.journeys import statements, wait_until

CHANGES = ("revoked", "valid", "suspended", "valid", "revoked")


def _postgres_only(settings: Settings) -> None:
    if settings.resolved_database_url.startswith("sqlite"):
        pytest.skip("statuses are kept in memory on PostgreSQL, which tells of changes")


@pytest.fixture
def listening_client(settings: Settings) -> Iterator[tuple[TestClient, StatusMemory]]:
    _postgres_only(settings)
    app = create_app(settings)
    with TestClient(app, base_url="http://127.0.0.1:8000") as client:
        memory: StatusMemory = app.state.status_memory
        wait_until(lambda: memory.listening.listening)
        yield client, memory


@pytest.fixture
def document(db: Session, settings: Settings) -> Document:
    return create_document(
        db,
        settings,
        holder_cnic="3520277777771",
        agency_id="hec",
        document_type="hec-degree-attestation",
        claims={
            "full_name": "Sana Mir",
            "degree_title": "BSc",
            "university": "NUST",
            "programme": "Civil Engineering",
            "year_of_completion": 2021,
        },
    )


def _lookups(source: StatusSource) -> float:
    return REGISTRY.get_sample_value("darwaza_status_lookups_total", {"source": source}) or 0.0


def _checked(client: TestClient, document: Document) -> tuple[str, bool]:
    answer = client.post("/api/v1/verify", json={"credential": document.qr_text})
    assert answer.status_code == 200
    return answer.json()["verdict"], answer.json()["status_checked"]


def _changed_elsewhere(settings: Settings, document: Document, status: str) -> None:
    """A change as another server, a job or an operator makes it: on its own connection."""
    with engine_for(settings.resolved_database_url).begin() as connection:
        connection.execute(
            text("UPDATE documents SET status = :status WHERE id = :id"),
            {"status": status, "id": document.id},
        )
        connection.execute(
            text("UPDATE status_lists SET version = version + 1 WHERE id = :shard"),
            {"shard": document.status_list_id},
        )


@contextmanager
def _heard(memory: StatusMemory, subject: str) -> Iterator[None]:
    """The block makes a change elsewhere; after it, this server has heard of it.

    PostgreSQL delivers a notification a moment after the commit (well under a
    millisecond on a quiet host, longer on a loaded one); until it arrives the server
    answers as a server that read a moment earlier would.
    """
    before = memory.changes_heard(subject)
    yield
    wait_until(lambda: memory.changes_heard(subject) != before)


def test_a_held_shard_is_checked_without_a_statement(
    listening_client: tuple[TestClient, StatusMemory], document: Document
) -> None:
    client, _memory = listening_client
    before = {source: _lookups(source) for source in StatusSource}
    with statements() as first:
        assert _checked(client, document) == ("valid", True)
    assert any("FROM status_lists" in statement for statement in first)
    with statements() as second:
        assert _checked(client, document) == ("valid", True)
    assert second == []
    # What an operator sees in /metrics: one shard read, then an answer from memory.
    assert {source: _lookups(source) - before[source] for source in StatusSource} == {
        StatusSource.SHARD: 1,
        StatusSource.MEMORY: 1,
        StatusSource.DATABASE: 0,
    }


def test_a_change_made_elsewhere_is_heard_before_the_next_check(
    listening_client: tuple[TestClient, StatusMemory], document: Document, settings: Settings
) -> None:
    client, memory = listening_client
    assert _checked(client, document) == ("valid", True)
    for status in CHANGES:
        with _heard(memory, document.status_list_id):
            _changed_elsewhere(settings, document, status)
        assert _checked(client, document) == (status, True)
        # Answered again from memory, the shard read once after the change.
        with statements() as sent:
            assert _checked(client, document) == (status, True)
        assert sent == []
    assert memory.listening.listening


def test_a_server_that_stops_hearing_forgets_and_reads_until_it_hears_again(
    listening_client: tuple[TestClient, StatusMemory], document: Document, settings: Settings
) -> None:
    client, memory = listening_client
    assert _checked(client, document) == ("valid", True)
    losses = REGISTRY.get_sample_value("darwaza_status_memory_losses_total") or 0.0
    with engine_for(settings.resolved_database_url).connect() as admin:
        listeners = (
            admin.execute(
                text("SELECT pid FROM pg_stat_activity WHERE query = :listen"),
                {"listen": f'LISTEN "{CHANNEL}"'},
            )
            .scalars()
            .all()
        )
        assert listeners
        for pid in listeners:
            # Ended as a restart or a proxy's timeout would; the wait is for it to be gone.
            admin.execute(text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid})
    # Made while nobody listens: its notice is lost.
    _changed_elsewhere(settings, document, "revoked")
    with statements() as sent:
        assert _checked(client, document) == ("revoked", True)
    assert any("FROM status_lists" in statement for statement in sent)
    assert not memory.listening.listening
    assert REGISTRY.get_sample_value("darwaza_status_memory_losses_total") == losses + 1
    wait_until(lambda: memory.listening.listening)
    assert _checked(client, document) == ("revoked", True)
    with statements() as sent:
        assert _checked(client, document) == ("revoked", True)
    assert sent == []


def test_statuses_are_read_for_each_check_where_memory_is_off(
    settings: Settings, document: Document
) -> None:
    _postgres_only(settings)
    app = create_app(settings.model_copy(update={"status_memory": False}))
    with TestClient(app, base_url="http://127.0.0.1:8000") as client:
        assert app.state.status_memory is None
        assert _checked(client, document) == ("valid", True)
        with statements() as sent:
            assert _checked(client, document) == ("valid", True)
        assert any("FROM status_lists" in statement for statement in sent)


def test_sqlite_keeps_no_statuses_in_memory(app_client: TestClient, settings: Settings) -> None:
    if not settings.resolved_database_url.startswith("sqlite"):
        pytest.skip("SQLite's own behaviour")
    app = app_client.app
    assert app.state.status_memory is None  # type: ignore[attr-defined]


def test_a_status_list_is_served_from_memory_and_a_change_elsewhere_is_heard(
    listening_client: tuple[TestClient, StatusMemory],
    document: Document,
    settings: Settings,
    db: Session,
) -> None:
    client, memory = listening_client
    path = f"/status-lists/{document.status_list_id}"
    first = client.get(path)
    with statements() as sent:
        again = client.get(path)
    assert sent == []  # from memory, on the event loop
    assert again.status_code == first.status_code == 200
    assert again.text == first.text and again.headers["etag"] == first.headers["etag"]
    before = first.text
    for status in CHANGES:
        with _heard(memory, document.status_list_id):
            _changed_elsewhere(settings, document, status)
        changed = client.get(path)
        # The list as the database holds it now (signing is deterministic), never the
        # copy from before the change; then kept again.
        db.rollback()
        fresh = status_list_token(db, settings=settings, status_list_id=document.status_list_id)
        assert changed.text == fresh != before
        before = fresh
        with statements() as sent:
            assert client.get(path).text == fresh
        assert sent == []
    assert memory.listening.listening


def _published(client: TestClient) -> tuple[str, str, str]:
    """What verifiers download besides status lists: the bundle, HEC's keys, its metadata."""
    answers = [
        client.get(path)
        for path in (
            "/trust-bundle",
            "/agencies/hec/jwks.json",
            "/.well-known/jwt-vc-issuer/agencies/hec",
        )
    ]
    assert [answer.status_code for answer in answers] == [200, 200, 200]
    bundle, jwks, metadata = (answer.text for answer in answers)
    return bundle, jwks, metadata


def _kids(jwks: str) -> set[str]:
    return {key["kid"] for key in json.loads(jwks)["keys"]}


def test_the_trust_bundle_and_keys_are_served_from_memory_and_changes_elsewhere_are_heard(
    listening_client: tuple[TestClient, StatusMemory],
    document: Document,
    settings: Settings,
    db: Session,
) -> None:
    client, memory = listening_client
    catalogue = load_catalogue(settings.catalogue_dir)
    # The first bundle makes a key for each agency that has none: heard as a change, so
    # the next request reads again, and keeps what it read.
    made = _published(client)
    first = _published(client)
    assert first[1:] == made[1:]
    with statements() as sent:
        assert _published(client) == first
    assert sent == []  # from memory, on the event loop

    def fresh_bundle() -> str:
        db.rollback()
        return trust_bundle_token(db, settings=settings, catalogue=catalogue)

    # A key rotated by another server: the new key is published once heard, beside the old
    # one (its document is in use), in the bundle and the agency's keys.
    with _heard(memory, PUBLISHED), Session(engine_for(settings.resolved_database_url)) as other:
        operator = Actor.operator()
        new_kid = rotate_agency_key(other, settings=settings, agency_id="hec", actor=operator)
        other.commit()
    rotated = _published(client)
    assert rotated[0] == fresh_bundle() != first[0]
    assert _kids(rotated[1]) == {document.kid, new_kid}
    assert json.loads(rotated[2])["jwks"] == json.loads(rotated[1])
    with statements() as sent:
        assert _published(client) == rotated
    assert sent == []

    # A shard added by an operator's SQL: the bundle lists it once heard.
    with _heard(memory, PUBLISHED), engine_for(settings.resolved_database_url).begin() as sql:
        sql.execute(
            text(
                "INSERT INTO status_lists (id, agency_id, capacity, allocated, version,"
                " created_at, updated_at) VALUES ('added-by-sql', 'hec', 8, 0, 0, now(), now())"
            )
        )
    bundle = _published(client)[0]
    assert bundle == fresh_bundle() != rotated[0]
    assert status_list_url(settings, "added-by-sql") in bundle_listing(bundle)
    with statements() as sent:
        assert _published(client)[0] == bundle
    assert sent == []
    # A slot given out or a status changed sends the shard's id only: the bundle is kept.
    with _heard(memory, document.status_list_id):
        _changed_elsewhere(settings, document, "revoked")
    with statements() as sent:
        assert _published(client)[0] == bundle
    assert sent == []
    assert memory.listening.listening


def bundle_listing(bundle: str) -> list[str]:
    """Every status list URL the bundle lists (read, not verified: the signature is the
    same deterministic one the database's copy gives, compared above)."""
    payload = parse_compact_jws(bundle).payload
    return [uri for issuer in payload["issuers"] for uri in issuer.get("status_list_uris", [])]


def test_a_database_without_every_notice_keeps_nothing_in_memory(settings: Settings) -> None:
    """A server started on a database where migration 0019 has not run would keep the
    bundle and keys without hearing them change: it does not listen at all."""
    _postgres_only(settings)
    url = make_url(settings.resolved_database_url).set(drivername="postgresql")
    with psycopg.connect(url.render_as_string(hide_password=False)) as connection:
        assert _trigger_present(connection)
        connection.execute("DROP TRIGGER signing_keys_changed ON signing_keys")
        assert not _trigger_present(connection)
        connection.rollback()
        assert _trigger_present(connection)


def test_a_burst_of_requests_for_what_is_not_kept_reads_it_once(
    listening_client: tuple[TestClient, StatusMemory], document: Document
) -> None:
    client, memory = listening_client
    _published(client)  # keys made for agencies that had none (a change), then kept
    kept = _published(client)[0]
    memory.forget(PUBLISHED)  # as when a key is rotated: every request now misses
    start = threading.Barrier(8)

    def download() -> str:
        start.wait()
        answer = client.get("/trust-bundle")
        assert answer.status_code == 200
        return answer.text

    with statements() as sent, ThreadPoolExecutor(8) as downloads:
        bundles = list(downloads.map(lambda _: download(), range(8)))
    assert bundles == [kept] * 8
    # One request read the keys and shards; the seven others waited and found it kept.
    assert sum("FROM signing_keys" in statement for statement in sent) == 2  # root, published
    assert sum("FROM status_lists" in statement for statement in sent) == 1


def test_a_burst_of_checks_of_a_shard_not_held_reads_it_once(
    listening_client: tuple[TestClient, StatusMemory], document: Document
) -> None:
    client, memory = listening_client
    assert _checked(client, document) == ("valid", True)
    memory.forget(document.status_list_id)  # as when one of its documents changes
    start = threading.Barrier(8)

    def check() -> tuple[str, bool]:
        start.wait()
        return _checked(client, document)

    with statements() as sent, ThreadPoolExecutor(8) as checks:
        verdicts = list(checks.map(lambda _: check(), range(8)))
    assert verdicts == [("valid", True)] * 8
    # One check read the shard; the seven others waited and found it held.
    assert sum("FROM status_lists" in statement for statement in sent) == 1
