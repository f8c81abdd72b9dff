"""The request's transaction: a sync endpoint commits in its own thread, before FastAPI
builds the response; an error rolls everything back."""

from __future__ import annotations

import sqlite3

import pytest
from fastapi import APIRouter
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field, field_validator
from sqlalchemy import func, select, text

from darwaza.app import create_app
from darwaza.audit.models import AuditEvent
from darwaza.settings import Settings
from darwaza.web.context import CommittingRoute, DbDep


def _sqlite_write_lock_is_free(settings: Settings) -> bool:
    probe = sqlite3.connect(settings.resolved_database_url.removeprefix("sqlite:///"), timeout=0)
    try:
        probe.execute("BEGIN IMMEDIATE")
        probe.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        probe.close()


def test_the_write_lock_is_free_while_the_response_is_built(settings: Settings) -> None:
    if not settings.resolved_database_url.startswith("sqlite"):
        pytest.skip("the one write lock is SQLite's")

    class Answer(BaseModel):
        written: bool
        # Looked at as FastAPI checks the endpoint's answer against this model.
        lock_free_while_answering: bool = Field(default=False, validate_default=True)

        @field_validator("lock_free_while_answering", mode="after")
        @classmethod
        def look(cls, _value: bool) -> bool:
            return _sqlite_write_lock_is_free(settings)

    router = APIRouter(route_class=CommittingRoute)

    @router.post("/test/write", response_model=Answer)
    def write(db: DbDep) -> object:
        db.execute(text("SELECT 1"))  # begins the write transaction: the lock is taken
        return {"written": True}

    app = create_app(settings)
    app.include_router(router)
    with TestClient(app) as client:
        answer = client.post("/test/write")
    assert answer.status_code == 200
    assert answer.json() == {"written": True, "lock_free_while_answering": True}


def test_an_endpoint_that_fails_after_writing_leaves_nothing_behind(settings: Settings) -> None:
    router = APIRouter(route_class=CommittingRoute)

    @router.post("/test/write-then-fail")
    def write_then_fail(db: DbDep) -> dict[str, str]:
        db.execute(
            text(
                "INSERT INTO audit_events (at, actor_kind, actor_id, action, object_type,"
                " object_id) VALUES (CURRENT_TIMESTAMP, 'system', 'test', 'test.fail',"
                " 'test', 'x')"
            )
        )
        raise RuntimeError("after the write")

    @router.get("/test/events")
    def events(db: DbDep) -> int:
        return int(db.scalar(select(func.count()).select_from(AuditEvent)) or 0)

    app = create_app(settings)
    app.include_router(router)
    with TestClient(app, raise_server_exceptions=False) as client:
        before = client.get("/test/events").json()
        failed = client.post("/test/write-then-fail")
        assert failed.status_code == 500
        assert client.get("/test/events").json() == before


def test_every_router_of_the_domains_commits_in_its_endpoints() -> None:
    # A router made without the route class would still work, only slower: say so here.
    from darwaza.app import ROUTERS

    plain = [
        route.path
        for router, _pages in ROUTERS
        for route in router.routes
        if isinstance(route, APIRoute) and not isinstance(route, CommittingRoute)
    ]
    assert plain == []
