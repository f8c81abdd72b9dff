"""Pure ASGI middleware every request passes: the access log, body limits, security headers.

Pure ASGI (no ``BaseHTTPMiddleware``) keeps the cost per request small and lets a body
be counted while it streams in, whether or not the client sent ``Content-Length``.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import time
from collections.abc import Callable, Iterable

from sqlalchemy.exc import DBAPIError
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from darwaza.logs import REQUEST_ID
from darwaza.metrics import HTTP_LATENCY, HTTP_REQUESTS

access_logger = logging.getLogger("darwaza.access")

# Share links carry their secret in the path; logs keep only the route.
SHARE_TOKEN_IN_PATH = re.compile(r"(/s/|/api/v1/shares/)[^/]+")
REQUEST_ID_FORM = re.compile(rb"[A-Za-z0-9._:-]{1,128}")

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "font-src 'self'; connect-src 'self'; media-src 'self' blob:; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
NO_STORE_PREFIXES = ("/applications", "/console", "/api/v1")


class AccessLogMiddleware:
    """One line per request, with share-link secrets taken out of the path.

    It also gives the request its id (``X-Request-ID`` from the caller when it is a
    plain token, a new one otherwise), sent back on the answer and carried by every log
    line written meanwhile, and counts the request by route template, not by path, so
    identifiers in paths never become metric labels.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        request_id = _request_id(scope)
        token = REQUEST_ID.set(request_id)

        async def send_logged(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                request_id_header = (b"x-request-id", request_id.encode("ascii"))
                message["headers"] = [*message.get("headers", ()), request_id_header]
            await send(message)

        try:
            await self.app(scope, receive, send_logged)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            HTTP_REQUESTS.labels(template, scope["method"], str(status)).inc()
            HTTP_LATENCY.labels(template, scope["method"]).observe(elapsed)
            access_logger.info(
                "%s %s %s %.1fms",
                scope["method"],
                SHARE_TOKEN_IN_PATH.sub(r"\1…", scope["path"]),
                status,
                elapsed * 1000,
            )
            REQUEST_ID.reset(token)


def _request_id(scope: Scope) -> str:
    """The caller's ``X-Request-ID`` if it is a plain token of at most 128 characters."""
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            given: bytes = value
            if REQUEST_ID_FORM.fullmatch(given):
                return given.decode("ascii")
            break
    return secrets.token_hex(16)


class BodyTooLarge(Exception):
    """The request body went past the limit while it was being read."""


Refusal = Callable[[Scope], tuple[int, list[tuple[bytes, bytes]], bytes]]
"""Builds the 413 answer for a request: status, headers and body."""


class BodyLimitMiddleware:
    """Refuse request bodies over ``limit`` bytes with 413, counting as the body streams.

    A declared ``Content-Length`` over the limit is refused before anything is read; a
    chunked body is cut off at the limit. Whatever the application answers after that
    is replaced by the 413, so no route can turn it into another error.
    """

    def __init__(self, app: ASGIApp, *, limit: int, refusal: Refusal) -> None:
        self.app = app
        self.limit = limit
        self.refusal = refusal

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.limit:
            await self._refuse(scope, send)
            return
        received = 0
        exceeded = False
        started = False

        async def counted_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    exceeded = True
                    raise BodyTooLarge()
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded:
                if not started:
                    started = True
                    await self._refuse(scope, send)
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except BodyTooLarge:
            pass
        except Exception:
            if not exceeded:
                raise
        if exceeded and not started:
            await self._refuse(scope, send)

    async def _refuse(self, scope: Scope, send: Send) -> None:
        status, headers, body = self.refusal(scope)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


class SecurityHeadersMiddleware:
    """A strict Content-Security-Policy and the other headers every answer carries."""

    def __init__(self, app: ASGIApp, *, https: bool) -> None:
        self.app = app
        self.https = https

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        no_store = scope["path"].startswith(NO_STORE_PREFIXES)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self._headers(no_store):
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _headers(self, no_store: bool) -> Iterable[tuple[str, str]]:
        yield "Content-Security-Policy", CONTENT_SECURITY_POLICY
        yield "X-Content-Type-Options", "nosniff"
        yield "Referrer-Policy", "same-origin"
        yield "X-Frame-Options", "DENY"
        yield "Permissions-Policy", "camera=(self), geolocation=(), microphone=()"
        if self.https:
            yield "Strict-Transport-Security", "max-age=63072000; includeSubDomains"
        if no_store:
            yield "Cache-Control", "no-store"


WRITE_AGAIN = "darwaza.write_again"
_WRITE_CONFLICTS = ("database is locked", "read-only transaction", "read only transaction")


def _is_write_conflict(error: BaseException) -> bool:
    """A read transaction that tried to write: SQLite's stale snapshot, a read-only replica."""
    return isinstance(error, DBAPIError) and any(
        sign in str(error.orig).lower() for sign in _WRITE_CONFLICTS
    )


class WriteAgainMiddleware:
    """Run a GET again as a writer when its read transaction found it had to write.

    Reads begin without SQLite's write lock (and may go to a replica). Should one write
    after all and collide, nothing has been sent yet: the request runs once more with
    ``scope["darwaza.write_again"]`` set, and its transaction then takes the lock (and the
    primary). A GET has no body, so running it again is safe.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        started = False
        # What the first run learns (its signed-in person, its session) dies with it.
        fresh_state = dict(scope.get("state", {}))

        async def tracked_send(message: Message) -> None:
            nonlocal started
            started = True
            await send(message)

        try:
            await self.app(scope, receive, tracked_send)
        except Exception as error:
            if started or not _is_write_conflict(error):
                raise
            access_logger.info("a read had to write; running %s again as a writer", scope["path"])
            await self.app({**scope, "state": fresh_state, WRITE_AGAIN: True}, receive, send)


class PageETagMiddleware:
    """A weak ETag on HTML pages, and 304 when the browser already holds the same page.

    The page is still rendered, but a phone that comes back to an unchanged page (the home
    page, a service's page) downloads a few hundred bytes of headers instead of the page.
    Answers that must not be stored, or that set a cookie, are passed through untouched.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        chunks: list[bytes] = []
        passing = False

        async def send_tagged(message: Message) -> None:
            nonlocal start, passing
            if passing:
                await send(message)
                return
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if (
                    message["status"] != 200
                    or not headers.get("content-type", "").startswith("text/html")
                    or "no-store" in headers.get("cache-control", "")
                    or "set-cookie" in headers
                    or "etag" in headers
                ):
                    passing = True
                    await send(message)
                    return
                start = message
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            assert start is not None
            body = b"".join(chunks)
            etag = 'W/"' + hashlib.sha256(body).hexdigest()[:20] + '"'
            headers = MutableHeaders(scope=start)
            headers["ETag"] = etag
            # Pages carry the reader's name and form tokens: this browser only, checked each time.
            headers.setdefault("Cache-Control", "private, no-cache")
            if etag in _if_none_match(scope):
                del headers["content-length"]
                start["status"] = 304
                await send(start)
                await send({"type": "http.response.body", "body": b""})
                return
            await send(start)
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, send_tagged)


def _if_none_match(scope: Scope) -> list[str]:
    for name, value in scope["headers"]:
        if name == b"if-none-match":
            return [tag.strip() for tag in value.decode("latin-1").split(",")]
    return []
