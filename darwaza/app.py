"""The composition root: the one place that knows every domain and wires them into the app."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

from fastapi import APIRouter, Depends, FastAPI, Response
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from starlette.middleware.gzip import GZipMiddleware

from darwaza.agencies.keys import sign_audit_checkpoint
from darwaza.agencies.service import sync_agencies
from darwaza.applications import api as applications_api
from darwaza.applications import console as applications_console
from darwaza.applications import views as applications_views
from darwaza.audit import api as audit_api
from darwaza.audit.trail import sequence_all
from darwaza.catalogue import api as catalogue_api
from darwaza.catalogue import views as catalogue_views
from darwaza.catalogue.catalogue import Catalogue
from darwaza.catalogue.loading import load_catalogue
from darwaza.database import engine_for, transaction
from darwaza.documents import api as documents_api
from darwaza.documents import console as documents_console
from darwaza.identity import account as identity_account
from darwaza.identity import admin as identity_admin
from darwaza.identity import api as identity_api
from darwaza.identity import passkey_routes
from darwaza.identity import views as identity_views
from darwaza.identity.dependencies import get_principal
from darwaza.settings import Settings, get_settings
from darwaza.verification import api as verification_api
from darwaza.verification import views as verification_views
from darwaza.wallet import api as wallet_api
from darwaza.wallet import views as wallet_views
from darwaza.web.errors import install_error_handlers, too_large
from darwaza.web.manifest import web_manifest
from darwaza.web.middleware import (
    AccessLogMiddleware,
    BodyLimitMiddleware,
    PageETagMiddleware,
    SecurityHeadersMiddleware,
)
from darwaza.web.static_files import HashedStaticFiles, service_worker_source

log = logging.getLogger("darwaza")

STATIC_DIR = Path(__file__).parent / "web" / "static"
FORM_OVERHEAD_BYTES = 64 * 1024  # the form fields around the largest file

API_ROUTERS: tuple[APIRouter, ...] = (
    catalogue_api.router,
    identity_api.router,
    applications_api.router,
    documents_api.router,
    verification_api.router,
    wallet_api.router,
    verification_views.public,
    audit_api.router,
)
# Pages show who is signed in, in the header, in their language: each page learns its
# viewer, whether or not the route itself needs the person.
PAGE_ROUTERS: tuple[APIRouter, ...] = (
    identity_views.router,
    identity_account.router,
    identity_admin.router,
    passkey_routes.router,
    catalogue_views.router,
    applications_views.router,
    documents_console.router,
    applications_console.router,
    wallet_views.router,
    verification_views.router,
)


async def keep_the_audit_trail(settings: Settings) -> None:
    """Chain new audit events every few seconds and sign a checkpoint at its interval."""
    loop = asyncio.get_running_loop()
    next_checkpoint = loop.time() + settings.audit_checkpoint_minutes * 60
    while True:
        await asyncio.sleep(settings.audit_sequence_seconds)
        signing = bool(settings.audit_checkpoint_minutes) and loop.time() >= next_checkpoint
        try:
            await asyncio.to_thread(_keep_trail, settings, signing)
        except SQLAlchemyError:
            log.exception("could not chain or sign the audit trail")
        if signing:
            next_checkpoint = loop.time() + settings.audit_checkpoint_minutes * 60


def _keep_trail(settings: Settings, signing: bool) -> None:
    with transaction(settings) as session:
        if signing:
            sign_audit_checkpoint(session, settings=settings)
        else:
            sequence_all(session)


def _lifespan(
    settings: Settings, catalogue: Catalogue
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        try:
            with transaction(settings) as session:
                sync_agencies(session, catalogue=catalogue)
        except SQLAlchemyError:
            log.exception(
                "could not bring agencies in step with the catalogue; run `darwaza db upgrade`"
            )
        signer = (
            asyncio.create_task(keep_the_audit_trail(settings))
            if settings.audit_sequence_seconds
            else None
        )
        yield
        if signer is not None:
            signer.cancel()

    return lifespan


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
        """The database answers."""
        try:
            with engine_for(settings.resolved_database_url).connect() as connection:
                connection.execute(text("SELECT 1"))
        except Exception:  # any failure means not ready; the reason goes to the log only
            log.exception("readiness check failed")
            return JSONResponse({"status": "unavailable"}, status_code=503)
        return JSONResponse({"status": "ok"})


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the application. It refuses to start on an invalid catalogue."""
    settings = settings or get_settings()
    catalogue = load_catalogue(settings.catalogue_dir)
    app = FastAPI(
        title="Darwaza",
        version="1",
        description="One door to every public service: the JSON API of Darwaza.",
        lifespan=_lifespan(settings, catalogue),
        docs_url=None,  # Swagger UI needs third-party and inline scripts the CSP refuses
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.catalogue = catalogue
    _add_middleware(app, settings)
    install_error_handlers(app)
    _add_platform_routes(app, settings)
    for router in API_ROUTERS:
        app.include_router(router)
    for router in PAGE_ROUTERS:
        app.include_router(router, dependencies=[Depends(get_principal)])
    app.mount("/static", HashedStaticFiles(directory=STATIC_DIR), name="static")
    return app
