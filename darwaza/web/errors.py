"""How errors reach people: one JSON envelope for the API, a page or a redirect otherwise."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Scope

from darwaza.errors import (
    DarwazaError,
    Message,
    NotFound,
    NotSignedIn,
    PayloadTooLarge,
    ServiceBusy,
)
from darwaza.i18n import N_, translate
from darwaza.web.context import request_language
from darwaza.web.middleware import WRITE_AGAIN
from darwaza.web.templating import render

STAFF_PATHS = ("/console", "/admin", "/audit")
PAGE_TITLES = {
    404: N_("Page not found"),
    403: N_("This form has expired"),
    409: N_("That cannot be done now"),
    413: N_("That is too large"),
    429: N_("Please slow down"),
    503: N_("Please try again in a moment"),
}


# What programs fetch (issuer metadata, key sets, status lists, the trust bundle): their
# OpenAPI promises the JSON error envelope, never an HTML page.
MACHINE_PATHS = (
    "/api/",
    "/.well-known/",
    "/status-lists/",
    "/trust-bundle",
    "/transparency/",
)


def is_api(path: str) -> bool:
    """Routes answered with JSON: the API, the files verifiers fetch, the passkey calls."""
    if path.startswith(MACHINE_PATHS) or "passkey" in path:
        return True
    return path.startswith("/agencies/") and path.endswith("/jwks.json")


def error_body(language: str, error: DarwazaError) -> dict[str, object]:
    """The one shape of every API error, in the reader's language."""
    return {
        "error": {
            "code": error.code,
            "message": translate(language, error.message.msgid, error.message.params),
            "fields": {
                name: {"code": "invalid", "message": translate(language, m.msgid, m.params)}
                for name, m in error.fields.items()
            },
        }
    }


def error_json(request: Request, error: DarwazaError) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if error.status_code == 401 else None
    return JSONResponse(
        error_body(request_language(request), error),
        status_code=error.status_code,
        headers=headers,
    )


def error_page(request: Request, error: DarwazaError) -> Response:
    if isinstance(error, NotSignedIn):
        staff = request.url.path.startswith(STAFF_PATHS)
        location = "/console/sign-in" if staff else "/sign-in"
        if not staff and request.method == "GET":
            # Come back to the page asked for once signed in.
            wanted = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            location += "?" + urlencode({"next": wanted})
        return Response(status_code=303, headers={"Location": location})
    language = request_language(request)
    title = PAGE_TITLES.get(error.status_code, N_("There is a problem"))
    return render(
        request,
        "error.html",
        {
            "title": translate(language, title),
            "message": translate(language, error.message.msgid, error.message.params),
        },
        status_code=error.status_code,
    )


def error_response(request: Request, error: DarwazaError) -> Response:
    """JSON for the API, a page for people."""
    return error_json(request, error) if is_api(request.url.path) else error_page(request, error)


def too_large(scope: Scope) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """The 413 a body limit answers, before any route has run."""
    request = Request(scope)
    language = request_language(request)
    error = PayloadTooLarge()
    if is_api(request.url.path):
        body = json.dumps(error_body(language, error), ensure_ascii=False).encode()
        content_type = b"application/json"
    else:
        body = translate(language, error.message.msgid).encode()
        content_type = b"text/plain; charset=utf-8"
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    return 413, headers, body


async def darwaza_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, DarwazaError)
    return error_response(request, error)


async def validation_error(request: Request, exc: Exception) -> Response:
    """FastAPI's own input checks, in the same envelope and language as ours."""
    assert isinstance(exc, RequestValidationError)
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
    return error_response(request, error)


async def pool_exhausted(request: Request, exc: Exception) -> Response:
    """No database connection came free in time: answer 503 at once, with a hint to retry."""
    if isinstance(exc, OperationalError):
        if "database is locked" not in str(exc.orig):
            raise exc  # a real failure: the server error page, and the log
        if request.method in ("GET", "HEAD") and not request.scope.get(WRITE_AGAIN):
            raise exc  # a read that had to write: it runs again as a writer
    response = error_response(request, ServiceBusy())
    response.headers["Retry-After"] = "1"
    return response


async def http_error(request: Request, exc: Exception) -> Response:
    """Starlette's errors (unknown route, wrong method) as ours."""
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 404:
        error: DarwazaError = NotFound()
    else:
        error = DarwazaError()
        error.status_code = exc.status_code
        error.code = "http_error"
    return error_response(request, error)


def install_error_handlers(app: FastAPI) -> None:
    """Every error a person can meet, answered in their language."""
    app.add_exception_handler(DarwazaError, darwaza_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(PoolTimeout, pool_exhausted)
    # SQLite's one writer was busy past the busy timeout: the same answer, try again.
    app.add_exception_handler(OperationalError, pool_exhausted)
