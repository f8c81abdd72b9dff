"""Test set-up: a real database migrated once per run, emptied after each test.

SQLite by default; PostgreSQL when ``DARWAZA_TEST_DATABASE_URL`` names one (its public
schema is dropped and rebuilt from the migrations at the start of the run).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from darwaza.agencies.service import sync_agencies
from darwaza.app import create_app
from darwaza.catalogue import load_catalogue
from darwaza.database import engine_for, session_factory
from darwaza.migrate import upgrade_database
from darwaza.models import Base
from darwaza.settings import Settings
from tests.journeys import TEST_SECRET


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = os.environ.get("DARWAZA_TEST_DATABASE_URL", "")
    if url:
        settings = Settings(env="development", database_url=url)
        engine = engine_for(settings.resolved_database_url)
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        return settings.resolved_database_url
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'darwaza-test.db'}"


@pytest.fixture(scope="session")
def migrated(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    settings = Settings(
        env="development", database_url=database_url, data_dir=tmp_path_factory.mktemp("data")
    )
    upgrade_database(settings)
    return database_url


@pytest.fixture
def settings(migrated: str, tmp_path: Path) -> Iterator[Settings]:
    configured = Settings(
        env="test",
        database_url=migrated,
        data_dir=tmp_path / "data",
        secret_key=TEST_SECRET,
        key_sealing_secret=TEST_SECRET + "-sealing",
        otp_resend_cooldown_seconds=0,
        base_url="http://127.0.0.1:8000",
        # Messages must not depend on the hour the suite runs; tests of quiet hours set them.
        quiet_hours="",
    )
    yield configured
    engine = engine_for(configured.resolved_database_url)
    with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(table.delete())


@pytest.fixture
def db(settings: Settings) -> Iterator[Session]:
    # Deferred transactions: the test's own reads must not hold SQLite's write lock
    # while the application under test writes.
    session = session_factory(settings, immediate=False)()
    # The catalogue's agencies exist before a test creates staff for them.
    sync_agencies(session, catalogue=load_catalogue(settings.catalogue_dir))
    session.commit()
    try:
        yield session
        session.commit()
    finally:
        session.close()


@pytest.fixture
def app_client(settings: Settings) -> Iterator[TestClient]:
    app = create_app(settings)
    with TestClient(app, base_url="http://127.0.0.1:8000") as client:
        yield client


@pytest.fixture
def make_client(settings: Settings) -> Iterator[object]:
    """A factory of independent browsers (each with its own cookies) on one app."""
    app = create_app(settings)
    clients: list[TestClient] = []

    def new_client() -> TestClient:
        client = TestClient(app, base_url="http://127.0.0.1:8000")
        client.__enter__()
        clients.append(client)
        return client

    yield new_client
    for client in clients:
        client.__exit__(None, None, None)
