"""Pure ASGI middleware every request passes: the access log, body limits, security headers.

Pure ASGI (no ``BaseHTTPMiddleware``) keeps the cost per request small and lets a body
be counted while it streams in, whether or not the client sent ``Content-Length``.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Callable, Iterable

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

access_logger = logging.getLogger("darwaza.access")

# Share links carry their secret in the path; logs keep only the route.
SHARE_TOKEN_IN_PATH = re.compile(r"(/s/|/api/v1/shares/)[^/]+")

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "font-src 'self'; connect-src 'self'; media-src 'self' blob:; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
NO_STORE_PREFIXES = ("/applications", "/console", "/api/v1")


class AccessLogMiddleware:
    """One line per request, with share-link secrets taken out of the path."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_logged(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_logged)
        finally:
            access_logger.info(
                "%s %s %s %.1fms",
                scope["method"],
                SHARE_TOKEN_IN_PATH.sub(r"\1…", scope["path"]),
                status,
                (time.perf_counter() - started) * 1000,
            )


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
