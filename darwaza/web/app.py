"""The ASGI application: pages, the JSON API, static files, health checks."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from darwaza.agencies.service import sync_agencies
from darwaza.audit.trail import checkpoint_now
from darwaza.catalogue.loading import load_catalogue
from darwaza.database import engine_for, transaction
from darwaza.errors import DarwazaError, Message, NotFound, NotSignedIn, PayloadTooLarge
from darwaza.i18n import N_, translate
from darwaza.settings import Settings, get_settings
from darwaza.web.context import request_language
from darwaza.web.templating import render

log = logging.getLogger("darwaza")
access_logger = logging.getLogger("darwaza.access")
# Share links carry their secret in the path; logs keep only the route.
SHARE_TOKEN_IN_PATH = re.compile(r"(/s/|/api/v1/shares/)[^/]+")

STATIC_DIR = Path(__file__).parent / "static"

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "font-src 'self'; connect-src 'self'; media-src 'self' blob:; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def _is_api(request: Request) -> bool:
    path = request.url.path
    return path.startswith("/api/") or "passkey" in path


def _error_json(request: Request, error: DarwazaError) -> JSONResponse:
    language = request_language(request)
    body = {
        "error": {
            "code": error.code,
            "message": translate(language, error.message.msgid, error.message.params),
            "fields": {
                name: {"code": "invalid", "message": translate(language, m.msgid, m.params)}
                for name, m in error.fields.items()
            },
        }
    }
    headers = {"WWW-Authenticate": "Bearer"} if error.status_code == 401 else None
    return JSONResponse(body, status_code=error.status_code, headers=headers)


def _error_page(request: Request, error: DarwazaError) -> Response:
    if isinstance(error, NotSignedIn):
        staff_paths = ("/console", "/admin", "/audit")
        target = "/console/sign-in" if request.url.path.startswith(staff_paths) else "/sign-in"
        return Response(status_code=303, headers={"Location": target})
    language = request_language(request)
    titles = {
        404: N_("Page not found"),
        403: N_("This form has expired"),
        409: N_("That cannot be done now"),
        413: N_("That is too large"),
        429: N_("Please slow down"),
    }
    return render(
        request,
        "error.html",
        {
            "title": translate(language, titles.get(error.status_code, N_("There is a problem"))),
            "message": translate(language, error.message.msgid, error.message.params),
        },
        status_code=error.status_code,
    )


async def sign_audit_checkpoints(settings: Settings) -> None:
    """Sign the audit trail's head at the configured interval, for as long as the app runs."""
    while True:
        await asyncio.sleep(settings.audit_checkpoint_minutes * 60)
        try:
            await asyncio.to_thread(checkpoint_now, settings)
        except SQLAlchemyError:
            log.exception("could not sign an audit checkpoint")


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the application. It refuses to start on an invalid catalogue."""
    settings = settings or get_settings()
    catalogue = load_catalogue(settings.catalogue_dir)

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
            asyncio.create_task(sign_audit_checkpoints(settings))
            if settings.audit_checkpoint_minutes
            else None
        )
        yield
        if signer is not None:
            signer.cancel()

    app = FastAPI(
        title="Darwaza",
        version="1",
        description="One door to every public service: the JSON API of Darwaza.",
        lifespan=lifespan,
        docs_url=None,  # Swagger UI needs third-party and inline scripts the CSP refuses
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.catalogue = catalogue

    @app.middleware("http")
    async def access_log(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        """One line per request, with share-link secrets taken out of the path."""
        started = time.perf_counter()
        response = await call_next(request)
        access_logger.info(
            "%s %s %s %.1fms",
            request.method,
            SHARE_TOKEN_IN_PATH.sub(r"\1…", request.url.path),
            response.status_code,
            (time.perf_counter() - started) * 1000,
        )
        return response

    @app.middleware("http")
    async def security_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > settings.max_upload_bytes + 64 * 1024:
            error = PayloadTooLarge()
            response: Response = (
                _error_json(request, error)
                if _is_api(request)
                else PlainTextResponse(
                    translate(request_language(request), error.message.msgid), status_code=413
                )
            )
        else:
            response = await call_next(request)
        headers = response.headers
        headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Permissions-Policy", "camera=(self), geolocation=(), microphone=()")
        if settings.secure_cookies:
            headers.setdefault("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
        if request.url.path.startswith(("/applications", "/console", "/api/v1")):
            headers.setdefault("Cache-Control", "no-store")
        return response

    @app.exception_handler(DarwazaError)
    async def darwaza_error(request: Request, error: DarwazaError) -> Response:
        return _error_json(request, error) if _is_api(request) else _error_page(request, error)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        fields: dict[str, Message] = {}
        for problem in exc.errors():
            location = [str(part) for part in problem.get("loc", ()) if part != "body"]
            name = ".".join(location) or "body"
            if problem.get("type") == "json_invalid":
                fields["body"] = Message(N_("The request body is not valid JSON."))
            elif problem.get("type") == "missing":
                fields[name] = Message(N_("This is required."))
            else:
                fields[name] = Message(N_("This value is not valid."))
        error = DarwazaError(N_("Some answers need your attention."), fields=fields)
        error.status_code = 422
        error.code = "invalid_input"
        return _error_json(request, error) if _is_api(request) else _error_page(request, error)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            error: DarwazaError = NotFound()
        else:
            error = DarwazaError()
            error.status_code = exc.status_code
            error.code = "http_error"
        return _error_json(request, error) if _is_api(request) else _error_page(request, error)

    @app.get("/sw.js", include_in_schema=False)
    def service_worker() -> Response:
        """The service worker, served from the root so it may keep wallet pages offline."""
        return Response(
            (STATIC_DIR / "js" / "sw.js").read_bytes(),
            media_type="text/javascript",
            headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/"},
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

    from darwaza.applications import api as applications_api
    from darwaza.applications import console
    from darwaza.applications import views as application_views
    from darwaza.catalogue import api as catalogue_api
    from darwaza.catalogue import views as catalogue_views
    from darwaza.documents import api as documents_api
    from darwaza.documents import console as documents_console
    from darwaza.identity import account as identity_account
    from darwaza.identity import admin as identity_admin
    from darwaza.identity import api as identity_api
    from darwaza.identity import passkey_routes
    from darwaza.identity import views as identity_views
    from darwaza.verification import api as verification_api
    from darwaza.verification import views as verification_views
    from darwaza.wallet import api as wallet_api
    from darwaza.wallet import views as wallet_views

    for router in (
        catalogue_api.router,
        identity_api.router,
        applications_api.router,
        documents_api.router,
        verification_api.router,
        wallet_api.router,
        verification_views.public,
        identity_views.router,
        identity_account.router,
        identity_admin.router,
        passkey_routes.router,
        catalogue_views.router,
        application_views.router,
        documents_console.router,
        console.router,
        wallet_views.router,
        verification_views.router,
    ):
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
