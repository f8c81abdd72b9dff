"""The composition root: the one place that knows every domain and wires them into the app."""

from __future__ import annotations

import gc
import hmac
import ipaddress
import logging
import os
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress
from pathlib import Path
from typing import Any

import anyio
from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Metric, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException
from starlette.middleware.gzip import GZipMiddleware

from darwaza.agencies.service import sync_agencies
from darwaza.applications import api as applications_api
from darwaza.applications import console as applications_console
from darwaza.applications import views as applications_views
from darwaza.audit import api as audit_api
from darwaza.batches import api as batches_api
from darwaza.batches import console as batches_console
from darwaza.catalogue import api as catalogue_api
from darwaza.catalogue import views as catalogue_views
from darwaza.catalogue.catalogue import Catalogue
from darwaza.catalogue.loading import load_catalogue
from darwaza.database import engine_for, fill_pool, transaction
from darwaza.documents import api as documents_api
from darwaza.documents import console as documents_console
from darwaza.documents.statuses import kept_in_memory
from darwaza.errors import NotFound
from darwaza.identity import account as identity_account
from darwaza.identity import admin as identity_admin
from darwaza.identity import api as identity_api
from darwaza.identity import inbox as identity_inbox
from darwaza.identity import passkey_routes
from darwaza.identity import views as identity_views
from darwaza.identity.dependencies import get_principal
from darwaza.jobs.queue import queue_stats
from darwaza.metrics import default_registry
from darwaza.notifications.templates import load_templates
from darwaza.payments import api as payments_api
from darwaza.payments import views as payments_views
from darwaza.settings import Settings, get_settings
from darwaza.verification import api as verification_api
from darwaza.verification import views as verification_views
from darwaza.wallet import api as wallet_api
from darwaza.wallet import views as wallet_views
from darwaza.web.context import session_gate_for
from darwaza.web.errors import install_error_handlers, too_large
from darwaza.web.manifest import web_manifest
from darwaza.web.middleware import (
    AccessLogMiddleware,
    BodyLimitMiddleware,
    PageETagMiddleware,
    SecurityHeadersMiddleware,
    WriteAgainMiddleware,
)
from darwaza.web.static_files import HashedStaticFiles, service_worker_source

log = logging.getLogger("darwaza")

STATIC_DIR = Path(__file__).parent / "web" / "static"
FORM_OVERHEAD_BYTES = 64 * 1024  # the form fields around the largest file

# Every router, in the order FastAPI tries them, and whether it serves pages. Pages show
# who is signed in, in the header, in their language: each page learns its viewer,
# whether or not the route itself needs the person.
#
# FastAPI tries routers one after another, route by route (5-10 us a route here), and
# the public pages came after 90 to 130 routes. So what the whole country calls comes
# first: checking documents (the API and its public files), the banks' 1Bill calls, and
# the pages anyone opens (home, services, verify). No route of one router matches
# another's (tested), so the order changes no answer, only how soon it is found.
_API, _PAGES = False, True
ROUTERS: tuple[tuple[APIRouter, bool], ...] = (
    (verification_api.router, _API),
    (payments_api.router, _API),
    (verification_views.public, _API),
    (catalogue_views.router, _PAGES),
    (verification_views.router, _PAGES),
    (catalogue_api.router, _API),
    (identity_api.router, _API),
    (identity_inbox.api, _API),
    (applications_api.router, _API),
    (documents_api.router, _API),
    (batches_api.router, _API),
    (wallet_api.router, _API),
    (audit_api.router, _API),
    (identity_views.router, _PAGES),
    (identity_account.router, _PAGES),
    (identity_inbox.pages, _PAGES),
    (identity_admin.router, _PAGES),
    (passkey_routes.router, _PAGES),
    (applications_views.router, _PAGES),
    (documents_console.router, _PAGES),
    (batches_console.router, _PAGES),
    (applications_console.router, _PAGES),
    (wallet_views.router, _PAGES),
    (payments_views.router, _PAGES),
)


def _include_routers(app: FastAPI) -> None:
    for router, pages in ROUTERS:
        app.include_router(router, dependencies=[Depends(get_principal)] if pages else None)


def _lifespan(
    settings: Settings, catalogue: Catalogue, *, freeze_start_up_heap: bool
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        app.state.session_gate = session_gate_for(settings)
        # Threads that run requests and database connections are sized together, so a
        # request waits for a connection briefly or is answered 503, never hangs.
        limiter = anyio.to_thread.current_default_thread_limiter()
        limiter.total_tokens = settings.request_threads or (
            settings.database_pool_size + settings.database_max_overflow
        )
        try:
            with transaction(settings) as session:
                sync_agencies(session, catalogue=catalogue)
        except SQLAlchemyError:
            log.exception(
                "could not bring agencies in step with the catalogue; run `darwaza db upgrade`"
            )
        # Before the first request, not during it: uvicorn listens once this returns.
        try:
            await anyio.to_thread.run_sync(fill_pool, settings)
        except SQLAlchemyError:
            log.warning("could not open the database pool ahead: requests open it as they go")
        await _prepare_routes(app)
        if freeze_start_up_heap:
            _freeze_start_up_heap()
        async with kept_in_memory(settings) as status_memory:
            app.state.status_memory = status_memory
            yield

    return lifespan


def _freeze_start_up_heap() -> None:
    """Keep what a server built at start out of the garbage collector's full passes.

    The modules, the catalogue, the routes and the models are a few hundred thousand
    objects that live as long as the process. A full collection walked every one of
    them, stopping the worker for 100-130 ms every few seconds under load: the slowest
    answers of a benchmark run, at the moments the collector ran. Frozen, they are
    never walked again, and a full pass walks only what requests made since.
    """
    gc.collect()  # what is garbage already goes, rather than being kept for good
    gc.freeze()


async def _prepare_routes(app: FastAPI) -> None:
    """Have FastAPI prepare every route before the first request, not during it.

    FastAPI works out a route's parameters and models when a request first passes it,
    and a fresh worker's first request paid that for all of them (160 ms here), with
    every request behind it waiting. A path no route takes passes them all: it is asked
    once, of the router alone (no middleware, nothing logged or counted).
    """
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/.well-known/darwaza/no-such-page",
        "raw_path": b"/.well-known/darwaza/no-such-page",
        "root_path": "",
        "query_string": b"",
        "headers": [],
        "app": app,
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(_message: Any) -> None:
        return None

    with suppress(HTTPException):  # the router's "not found", as intended
        await app.router(scope, receive, send)


def _add_middleware(app: FastAPI, settings: Settings) -> None:
    # Added innermost first: the access log sees every answer, the 413 included.
    app.add_middleware(SecurityHeadersMiddleware, https=settings.secure_cookies)
    app.add_middleware(PageETagMiddleware)
    # Text answers go out gzipped (a page is a fifth of its size); level 6 spares the CPU.
    app.add_middleware(GZipMiddleware, minimum_size=500, compresslevel=6)
    app.add_middleware(
        BodyLimitMiddleware,
        limit=settings.max_upload_bytes + FORM_OVERHEAD_BYTES,
        refusal=too_large,
    )
    app.add_middleware(WriteAgainMiddleware)
    app.add_middleware(AccessLogMiddleware)


def _add_platform_routes(app: FastAPI, settings: Settings) -> None:
    @app.get("/sw.js", include_in_schema=False)
    def service_worker() -> Response:
        """The service worker, served from the root so it may keep wallet pages offline."""
        return Response(
            service_worker_source(),
            media_type="text/javascript",
            headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/"},
        )

    @app.get("/manifest.webmanifest", include_in_schema=False)
    def manifest() -> Response:
        """What a phone needs to install Darwaza as an app."""
        return Response(
            web_manifest(),
            media_type="application/manifest+json",
            headers={"Cache-Control": "public, max-age=86400"},
        )

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        """For browsers that ask for the icon at the root whatever the page says."""
        return Response(
            (STATIC_DIR / "icons" / "favicon.ico").read_bytes(),
            media_type="image/x-icon",
            headers={"Cache-Control": "public, max-age=604800"},
        )

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        """The process is alive."""
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    def readyz() -> Response:
        """Each dependency answers: the database, and whatever else registered a check."""
        checks: dict[str, str] = {}
        for name, check in READINESS_CHECKS.items():
            try:
                check(settings)
                checks[name] = "ok"
            except Exception:  # any failure means not ready; the reason goes to the log only
                log.exception("readiness check %s failed", name)
                checks[name] = "unavailable"
        ready = all(state == "ok" for state in checks.values())
        return JSONResponse(
            {"status": "ok" if ready else "unavailable", "checks": checks},
            status_code=200 if ready else 503,
        )

    @app.get("/metrics", include_in_schema=False)
    def metrics(request: Request) -> Response:
        """Prometheus metrics, for the scrapers ``DARWAZA_METRICS_ALLOW`` or ``_TOKEN`` admit."""
        if not may_scrape(request, settings):
            raise NotFound()
        registry = scrape_registry()
        registry.register(PlatformGauges(settings))
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


def _database_answers(settings: Settings) -> None:
    with engine_for(settings.resolved_database_url).connect() as connection:
        connection.execute(text("SELECT 1"))


# Readiness checks by name; object storage adds its own here when it is configured.
READINESS_CHECKS: dict[str, Callable[[Settings], None]] = {"database": _database_answers}


def may_scrape(request: Request, settings: Settings) -> bool:
    """True for a scraper whose address ``metrics_allow`` lists or that shows ``metrics_token``.

    The address is the peer's (or the trusted proxy's report of it, as for throttling).
    """
    if settings.metrics_token:
        offered = request.headers.get("authorization", "")
        expected = f"Bearer {settings.metrics_token}"
        if hmac.compare_digest(offered.encode(), expected.encode()):
            return True
    if settings.metrics_allow and request.client is not None:
        try:
            address = ipaddress.ip_address(request.client.host)
        except ValueError:
            return False
        for entry in settings.metrics_allow.split(","):
            if entry.strip() and address in ipaddress.ip_network(entry.strip(), strict=False):
                return True
    return False


def scrape_registry() -> CollectorRegistry:
    """A registry for one scrape: every worker's figures in multiprocess mode, else ours."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]  # untyped upstream
        return registry
    registry = CollectorRegistry()
    registry.register(_Forward(default_registry()))
    return registry


class _Forward(Collector):
    """The process registry's metrics, seen through a per-scrape registry."""

    def __init__(self, source: CollectorRegistry) -> None:
        self.source = source

    def collect(self) -> Iterator[Metric]:
        yield from self.source.collect()


class PlatformGauges(Collector):
    """Figures read at scrape time: the database pool and the job queue."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def collect(self) -> Iterator[Metric]:
        pool = engine_for(self.settings.resolved_database_url).pool
        in_use = GaugeMetricFamily(
            "darwaza_db_pool_connections", "Database connections of this process.", labels=["state"]
        )
        checked_out = getattr(pool, "checkedout", None)
        checked_in = getattr(pool, "checkedin", None)
        size = getattr(pool, "size", None)
        if callable(checked_out) and callable(checked_in):
            in_use.add_metric(["in_use"], float(checked_out()))
            in_use.add_metric(["idle"], float(checked_in()))
        if callable(size):
            in_use.add_metric(["pool_size"], float(size()))
        yield in_use
        depth = GaugeMetricFamily("darwaza_jobs", "Background jobs by status.", labels=["status"])
        age = GaugeMetricFamily(
            "darwaza_jobs_oldest_queued_age_seconds",
            "How long the oldest due, queued job has waited (0 when none waits).",
        )
        try:
            with transaction(self.settings) as session:
                stats = queue_stats(session)
        except SQLAlchemyError:
            log.exception("could not read the job queue for metrics")
            return
        for status, count in stats.counts.items():
            depth.add_metric([str(status)], float(count))
        waited = stats.oldest_queued_age
        age.add_metric([], waited.total_seconds() if waited is not None else 0.0)
        yield depth
        yield age


def create_app(settings: Settings | None = None, *, serving: bool = False) -> FastAPI:
    """Build the application. It refuses to start on an invalid catalogue or message template.

    ``serving``: the process exists to serve this one application (``darwaza.asgi``), so
    what it builds at start is frozen out of the garbage collector's full passes. Tests,
    which build many applications in one process, leave it off.
    """
    settings = settings or get_settings()
    catalogue = load_catalogue(settings.catalogue_dir)
    load_templates(settings.notification_templates_dir)
    app = FastAPI(
        title="Darwaza",
        version="1",
        description="One door to every public service: the JSON API of Darwaza.",
        lifespan=_lifespan(settings, catalogue, freeze_start_up_heap=serving),
        docs_url=None,  # Swagger UI needs third-party and inline scripts the CSP refuses
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.catalogue = catalogue
    _add_middleware(app, settings)
    install_error_handlers(app)
    _add_platform_routes(app, settings)
    _include_routers(app)
    app.mount("/static", HashedStaticFiles(directory=STATIC_DIR), name="static")
    return app
