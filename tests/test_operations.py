"""What operators see: /metrics for allowed scrapers only, request ids, JSON logs, /readyz."""

from __future__ import annotations

import gc
import json
import logging
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import fastapi.routing
import httpx
import pytest
from fastapi.testclient import TestClient

from darwaza.app import READINESS_CHECKS, ROUTERS, create_app
from darwaza.database import engine_for, pool_limits
from darwaza.logs import REQUEST_ID, JsonFormatter, RequestIdFilter
from darwaza.settings import Settings
from tests.servers import darwaza_serve, server_environment

SCRAPER_TOKEN = "scrape-me-0123456789abcdef0123456789"


@pytest.fixture
def observed(settings: Settings) -> Iterator[TestClient]:
    configured = settings.model_copy(
        update={"metrics_allow": "10.9.0.0/16, 192.0.2.7", "metrics_token": SCRAPER_TOKEN}
    )
    with TestClient(create_app(configured), base_url="http://127.0.0.1:8000") as client:
        yield client


def test_metrics_are_not_public_by_default(app_client: TestClient) -> None:
    assert app_client.get("/metrics").status_code == 404
    assert (
        app_client.get("/metrics", headers={"Authorization": "Bearer anything"}).status_code == 404
    )


def test_a_scraper_with_the_token_reads_requests_verdicts_pool_and_queue(
    observed: TestClient,
) -> None:
    assert observed.get("/healthz").status_code == 200
    observed.post("/api/v1/verify", json={"credential": "DZ1:not-a-document"})
    assert observed.get("/metrics").status_code == 404  # no token, address not listed
    wrong = observed.get("/metrics", headers={"Authorization": "Bearer wrong"})
    assert wrong.status_code == 404
    scraped = observed.get("/metrics", headers={"Authorization": f"Bearer {SCRAPER_TOKEN}"})
    assert scraped.status_code == 200
    assert scraped.headers["content-type"].startswith("text/plain")
    text = scraped.text
    assert 'darwaza_http_requests_total{method="GET",route="/healthz",status="200"}' in text
    assert (
        'darwaza_http_request_duration_seconds_bucket{le="0.02",method="GET",route="/healthz"}'
        in text
    )
    assert 'darwaza_verifications_total{format="compact_qr",verdict="malformed"}' in text
    assert 'darwaza_db_pool_connections{state="in_use"}' in text
    assert 'darwaza_jobs{status="queued"}' in text
    assert "darwaza_jobs_oldest_queued_age_seconds" in text


def test_routes_are_counted_by_template_not_by_path(observed: TestClient) -> None:
    observed.get("/status-lists/some-unguessable-id")
    scraped = observed.get("/metrics", headers={"Authorization": f"Bearer {SCRAPER_TOKEN}"}).text
    assert 'route="/status-lists/{status_list_id}"' in scraped
    assert "some-unguessable-id" not in scraped


def test_a_scraper_on_an_allowed_address_needs_no_token(settings: Settings) -> None:
    configured = settings.model_copy(update={"metrics_allow": "10.9.0.0/16"})
    app = create_app(configured)
    with TestClient(app, client=("10.9.4.2", 40000)) as inside:
        assert inside.get("/metrics").status_code == 200
    with TestClient(app, client=("10.10.4.2", 40000)) as outside:
        assert outside.get("/metrics").status_code == 404


def test_a_request_id_is_carried_in_and_out(app_client: TestClient) -> None:
    given = app_client.get("/healthz", headers={"X-Request-ID": "lb-7f3a.42"})
    assert given.headers["x-request-id"] == "lb-7f3a.42"
    made = app_client.get("/healthz").headers["x-request-id"]
    assert len(made) == 32
    # Anything but a plain token is replaced, so logs cannot be forged through it.
    forged = app_client.get("/healthz", headers={"X-Request-ID": "x\ny"}).headers["x-request-id"]
    assert forged != "x\ny" and len(forged) == 32


def test_json_logs_carry_the_request_id() -> None:
    record = logging.LogRecord("darwaza.access", logging.INFO, __file__, 1, "GET %s", ("/",), None)
    token = REQUEST_ID.set("abc123")
    try:
        RequestIdFilter().filter(record)
    finally:
        REQUEST_ID.reset(token)
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "GET /"
    assert line["request_id"] == "abc123"
    assert line["level"] == "INFO"
    assert line["logger"] == "darwaza.access"


def test_log_format_setting_accepts_text_and_json_only(settings: Settings) -> None:
    assert settings.log_format == "text"
    assert Settings(env="development", log_format="json").log_format == "json"
    with pytest.raises(ValueError):
        Settings(env="development", log_format="xml")  # type: ignore[arg-type]


def test_readiness_reports_each_check_and_fails_when_one_fails(
    app_client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert app_client.get("/readyz").json() == {"status": "ok", "checks": {"database": "ok"}}

    def storage_down(settings: Settings) -> None:
        raise OSError("bucket unreachable")

    monkeypatch.setitem(READINESS_CHECKS, "storage", storage_down)
    answer = app_client.get("/readyz")
    assert answer.status_code == 503
    assert answer.json() == {
        "status": "unavailable",
        "checks": {"database": "ok", "storage": "unavailable"},
    }


def test_with_two_worker_processes_every_scrape_counts_what_both_answered(
    settings: Settings, tmp_path: Path
) -> None:
    data_dir = tmp_path / "node"
    env = server_environment(settings, data_dir, METRICS_TOKEN=SCRAPER_TOKEN)
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    scraper = {"Authorization": f"Bearer {SCRAPER_TOKEN}"}
    counted = 'darwaza_http_requests_total{method="GET",route="/healthz",status="200"}'
    with darwaza_serve(env, workers=2) as base:
        # New connections, several at once, so both workers answer some.
        with ThreadPoolExecutor(max_workers=8) as pool:
            answers = list(pool.map(lambda _: httpx.get(f"{base}/healthz").status_code, range(40)))
        assert answers == [200] * 40
        for _ in range(4):
            scraped = httpx.get(f"{base}/metrics", headers=scraper).text
            totals = [line for line in scraped.splitlines() if line.startswith(counted)]
            assert totals == [f"{counted} 40.0"]
        assert list((data_dir / "metrics").iterdir())  # the workers' figures, while serving
    assert not list((data_dir / "metrics").iterdir())  # and gone when the server stops


def test_routes_are_prepared_at_start_so_no_request_pays_for_it(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # FastAPI prepares a route (its parameters' and models' validators) the first time a
    # request passes it; that cost 160 ms on a fresh worker's first request, with every
    # request behind it waiting. This counts the preparations FastAPI does, and when.
    prepared: list[str] = []
    original = fastapi.routing._populate_api_route_state

    def counting(*args: object, **kwargs: object) -> object:
        prepared.append("route")
        return original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(fastapi.routing, "_populate_api_route_state", counting)
    with TestClient(create_app(settings), base_url="http://127.0.0.1:8000") as client:
        at_start = len(prepared)
        assert at_start > 100, "every API route is prepared before the server listens"
        for path in ("/api/v1/services", "/verify", "/", "/healthz", "/no/such/page"):
            client.get(path)
        answer = client.post("/api/v1/onebill/bill-inquiry", json={"Consumer_Number": "1"})
        assert answer.status_code == 200
        assert len(prepared) == at_start, "a request prepared a route itself"


def test_a_fresh_server_opens_its_database_connections_before_the_first_request(
    settings: Settings,
) -> None:
    if settings.resolved_database_url.startswith("sqlite"):
        pytest.skip("SQLite opens a file: there is nothing to open ahead")
    engine = engine_for(settings.resolved_database_url, pool=pool_limits(settings))
    engine.dispose()
    assert engine.pool.checkedin() == 0  # type: ignore[attr-defined]
    with TestClient(create_app(settings), base_url="http://127.0.0.1:8000"):
        # Opened in the lifespan, before uvicorn would listen; back in the pool, idle.
        assert engine.pool.checkedin() == settings.database_pool_size  # type: ignore[attr-defined]


def test_a_server_keeps_what_it_built_at_start_out_of_full_collections(
    settings: Settings,
) -> None:
    # Under load, full collections walked every object a worker built at start and
    # stopped it for 100-130 ms every few seconds (bench/payments.py's slowest answers).
    with TestClient(create_app(settings), base_url="http://127.0.0.1:8000"):
        assert gc.get_freeze_count() == 0, "an application in a test process freezes nothing"
    try:
        with TestClient(
            create_app(settings, serving=True), base_url="http://127.0.0.1:8000"
        ) as client:
            frozen = gc.get_freeze_count()
            assert frozen > 50_000, "the modules, catalogue and routes are frozen at start"
            # What a full collection still walks: what was made after the start.
            assert len(gc.get_objects()) < frozen / 10
            assert client.get("/healthz").status_code == 200
    finally:
        gc.unfreeze()


def test_no_route_shadows_another_routers_so_their_order_is_free() -> None:
    # The routers are ordered by how often they are called; that must change no answer.
    routers = [router for router, _pages in ROUTERS]
    routes = [
        (index, route)
        for index, router in enumerate(routers)
        for route in router.routes
        if isinstance(route, fastapi.routing.APIRoute)
    ]

    assert len(routes) > 100

    def example(path: str) -> str:
        return re.sub(r"\{[^}]+\}", "x1", path)

    shadowed = [
        f"{first.path} and {second.path}"
        for index, first in routes
        for other, second in routes
        if index < other
        and first.methods & second.methods
        and (
            first.path_regex.match(example(second.path))
            or second.path_regex.match(example(first.path))
        )
    ]
    assert not shadowed
