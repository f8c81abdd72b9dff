"""A citizen's session is looked up before the request's transaction begins (on SQLite,
where a writer's transaction holds the one write lock), and the endpoint still reads the
citizen within its own transaction."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, select

from darwaza.clock import utcnow
from darwaza.database import transaction
from darwaza.identity.models import UserSession
from darwaza.settings import Settings
from tests.test_api import api_sign_up

CNIC, MOBILE = "35202-6667778-1", "03006667778"


def _sqlite_file(settings: Settings) -> str:
    url = settings.resolved_database_url
    if not url.startswith("sqlite:///"):
        pytest.skip("the one write lock is SQLite's")
    return url.removeprefix("sqlite:///")


@contextmanager
def _session_looks(note: Callable[[Any], object]) -> Iterator[None]:
    """Call ``note(dbapi_connection)`` after each read of a session row."""

    def after(_conn: Any, cursor: Any, statement: str, *_args: Any) -> None:
        if "FROM user_sessions" in statement:
            note(cursor.connection)

    event.listen(Engine, "after_cursor_execute", after)
    try:
        yield
    finally:
        event.remove(Engine, "after_cursor_execute", after)


def test_a_citizens_session_is_read_outside_the_write_transaction(
    app_client: TestClient, settings: Settings
) -> None:
    _sqlite_file(settings)
    headers = api_sign_up(app_client, settings, CNIC, MOBILE)
    in_a_transaction: list[bool] = []
    with _session_looks(lambda connection: in_a_transaction.append(connection.in_transaction)):
        started = app_client.post(
            "/api/v1/applications", json={"service_id": "hec-degree-attestation"}, headers=headers
        )
    assert started.status_code == 201, started.text
    # Read once, by a reader holding no transaction, so no lock: the write lock is taken
    # by the endpoint's own transaction, not for the sign-in.
    assert in_a_transaction == [False]


def test_the_endpoint_reads_the_citizen_again_within_its_own_transaction(
    app_client: TestClient, settings: Settings
) -> None:
    database = _sqlite_file(settings)
    headers = api_sign_up(app_client, settings, CNIC, MOBILE)
    renamed: list[bool] = []

    def rename_after_the_look(_connection: Any) -> None:
        # Another connection renames the citizen between the sign-in's look and the
        # endpoint: the endpoint must answer with the row as it is now.
        if not renamed:
            other = sqlite3.connect(database, timeout=5, isolation_level=None)
            try:
                other.execute("UPDATE citizens SET full_name = 'Sana Mirza Khan'")  # the only one
            finally:
                other.close()
            renamed.append(True)

    with _session_looks(rename_after_the_look):
        me = app_client.get("/api/v1/auth/me", headers=headers)
    assert renamed
    assert me.status_code == 200
    assert me.json()["full_name"] == "Sana Mirza Khan"


def test_a_session_in_use_is_noted_and_one_ended_is_refused(
    app_client: TestClient, settings: Settings
) -> None:
    headers = api_sign_up(app_client, settings, CNIC, MOBILE)
    with transaction(settings) as db:
        session = db.scalars(select(UserSession)).one()
        session.last_seen_at = utcnow() - timedelta(minutes=5)
    started = app_client.post(
        "/api/v1/applications", json={"service_id": "hec-degree-attestation"}, headers=headers
    )
    assert started.status_code == 201, started.text
    with transaction(settings) as db:
        noted = db.scalars(select(UserSession)).one().last_seen_at
    assert utcnow() - noted < timedelta(minutes=1)
    assert app_client.post("/api/v1/auth/sign-out", headers=headers).status_code == 204
    refused = app_client.get("/api/v1/auth/me", headers=headers)
    assert refused.status_code == 401
