"""What every request carries: settings, database session, language, person, CSRF.

The request boundary owns the transaction: it commits when the handler returns and
rolls back when it raises.

Dependencies that only read the request are ``async``: FastAPI runs a plain ``def``
dependency in the thread pool, and each such hop costs more than the work. Database work
(a commit, a rollback) never runs on the event loop: it goes to the thread pool, and
only when the session has a transaction to end.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import hashlib
import hmac
import inspect
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

import anyio
import anyio.to_thread
from fastapi import Depends, Request
from fastapi.routing import APIRoute
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from darwaza.database import (
    SQLITE_BUSY_SECONDS,
    read_session_factory,
    session_factory,
    transaction,
)
from darwaza.errors import CsrfFailed, ServiceBusy
from darwaza.i18n import LANGUAGES, normalise_language
from darwaza.settings import Settings
from darwaza.web.middleware import WRITE_AGAIN

T = TypeVar("T")

SESSION_COOKIE = "dz_session"
CSRF_COOKIE = "dz_csrf"
LANGUAGE_COOKIE = "dz_lang"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MAX_FORM_FIELDS = 200
MAX_FORM_FILES = 20
MAX_FORM_FIELD_BYTES = 64 * 1024


async def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


# The open sessions of the request being served, for its sync endpoint to commit.
_REQUEST_SESSIONS: contextvars.ContextVar[list[Session] | None] = contextvars.ContextVar(
    "darwaza_request_sessions", default=None
)


async def _one_transaction(request: Request, session: Session) -> AsyncIterator[Session]:
    # Making a session does no I/O; ending one does only if it began a transaction (a
    # sync endpoint has usually committed it already, see `commit_in_the_endpoint`).
    # The list lives in this run's request state: a GET run again as a writer (see
    # WriteAgainMiddleware) starts from fresh state, so its endpoint never sees the
    # first run's session, whose rollback may still be under way.
    opened: list[Session] | None = getattr(request.state, "open_sessions", None)
    if opened is None:
        opened = []
        request.state.open_sessions = opened
    _REQUEST_SESSIONS.set(opened)
    opened.append(session)
    try:
        yield session
    except BaseException:
        if session.in_transaction():
            await anyio.to_thread.run_sync(_rollback, session, limiter=_ENDINGS)
        else:
            session.close()
        raise
    finally:
        opened.remove(session)
    if session.in_transaction():
        await anyio.to_thread.run_sync(_commit, session, limiter=_ENDINGS)
    else:
        session.close()


def commit_in_the_endpoint(endpoint: Callable[..., T]) -> Callable[..., T]:
    """A sync endpoint that commits its request's transactions before it leaves its thread.

    Without it FastAPI hands the endpoint's result back to the event loop, and the
    request boundary hops to a thread once more only to commit; on SQLite the write lock
    stayed held for that round trip, and for the loop's turns on the way. The request
    boundary still closes the sessions, and rolls back if the endpoint raised (or the
    commit failed). FastAPI builds the response after the commit.
    """

    @functools.wraps(endpoint)
    def run(*args: Any, **kwargs: Any) -> T:
        result = endpoint(*args, **kwargs)
        for session in _REQUEST_SESSIONS.get() or ():
            if session.in_transaction():
                session.commit()
        return result

    return run


class CommittingRoute(APIRoute):
    """Every page and API route: a sync endpoint commits in its own thread
    (see `commit_in_the_endpoint`); an async one leaves it to the request boundary."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if inspect.isfunction(endpoint) and not (
            inspect.iscoroutinefunction(endpoint)
            or inspect.isgeneratorfunction(endpoint)
            or inspect.isasyncgenfunction(endpoint)
        ):
            endpoint = commit_in_the_endpoint(endpoint)
        super().__init__(path, endpoint, **kwargs)


# Ending a transaction has threads of its own: a session holding a connection must never
# wait for a request thread while those threads wait for its connection.
_ENDINGS = anyio.CapacityLimiter(64)


def _commit(session: Session) -> None:
    try:
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def _rollback(session: Session) -> None:
    try:
        session.rollback()
    finally:
        session.close()


GATE_KEY = "darwaza.gate"


class SessionGate:
    """Requests queue on the event loop for the database, never on a thread.

    A request keeps its session across several hops to the thread pool. If more requests
    held sessions than the pool has connections, threads would wait for connections held
    by requests that are waiting for threads. So at most ``permits`` requests per process
    hold sessions (half the pool: a request may hold a primary and a read session), and
    the rest wait here, costing no thread, or are answered 503 after ``seconds``.

    On SQLite there is one writer: writers also queue for one write transaction per
    process, taken after the permit (always in that order). Across processes SQLite's
    busy timeout orders them.
    """

    def __init__(self, *, permits: int, one_writer: bool, seconds: float) -> None:
        self._permits = asyncio.Semaphore(permits)
        # A semaphore of one, not a Lock: its ``locked()`` also counts those already
        # waiting, so a turn that looks free is taken at once (see ``_take``).
        self._writer = asyncio.Semaphore(1) if one_writer else None
        self._seconds = seconds

    async def _take(self, turn: asyncio.Semaphore) -> None:
        if not turn.locked():
            # Free now, with no one waiting for it: taken at once, no timer to set.
            await turn.acquire()
            return
        try:
            await asyncio.wait_for(turn.acquire(), self._seconds)
        except TimeoutError:
            raise ServiceBusy() from None

    @contextlib.asynccontextmanager
    async def admitted(self, request: Request, *, writing: bool) -> AsyncIterator[None]:
        held: set[str] = request.scope.setdefault(GATE_KEY, set())
        taken: list[str] = []
        try:
            if "permit" not in held:
                await self._take(self._permits)
                held.add("permit")
                taken.append("permit")
            if writing and self._writer is not None and "writer" not in held:
                await self._take(self._writer)
                held.add("writer")
                taken.append("writer")
            yield
        finally:
            for name in reversed(taken):
                held.discard(name)
                if name == "writer" and self._writer is not None:
                    self._writer.release()
                else:
                    self._permits.release()


def session_gate_for(settings: Settings) -> SessionGate:
    """The gate of one process, sized from its connection pool."""
    capacity = settings.database_pool_size + settings.database_max_overflow
    return SessionGate(
        permits=max(1, capacity // 2),
        one_writer=settings.resolved_database_url.startswith("sqlite"),
        seconds=SQLITE_BUSY_SECONDS,
    )


def database_turn(
    request: Request, *, writing: bool
) -> contextlib.AbstractAsyncContextManager[None]:
    """Wait on the event loop for this request's turn at the database (see `SessionGate`)."""
    gate: SessionGate | None = getattr(request.app.state, "session_gate", None)
    if gate is None:
        return contextlib.nullcontext()
    return gate.admitted(request, writing=writing)


async def get_db(request: Request) -> AsyncIterator[Session]:
    """One transaction per request.

    A request that changes something takes SQLite's write lock when its transaction
    begins. A GET does not, so reads never wait for writers; the rare GET that writes
    (a look recorded, a session's last use) and meets a newer write is run again as a
    writer (see :class:`~darwaza.web.middleware.WriteAgainMiddleware`).
    """
    reading = request.method in SAFE_METHODS and not request.scope.get(WRITE_AGAIN)
    settings = request.app.state.settings
    async with database_turn(request, writing=not reading):
        async for session in _one_transaction(
            request, session_factory(settings, immediate=not reading)()
        ):
            yield session


async def in_one_read_transaction(
    request: Request, settings: Settings, work: Callable[[Session], T]
) -> T:
    """Run ``work`` in one transaction for reads that may be a few seconds stale, in one
    hop to the thread pool: on the read replica when one is configured and well, else on
    the primary without SQLite's write lock (a GET run again as a writer, see
    :class:`~darwaza.web.middleware.WriteAgainMiddleware`, takes it). For the public
    routes verifiers call most, where a session solved as a dependency would cost more
    than the work."""
    writing = bool(request.scope.get(WRITE_AGAIN))

    def run() -> T:
        factory = session_factory(settings) if writing else read_session_factory(settings)
        with factory() as db, db.begin():
            return work(db)

    async with database_turn(request, writing=writing):
        return await run_in_threadpool(run)


async def in_one_transaction(
    request: Request, settings: Settings, work: Callable[[Session], T]
) -> T:
    """Run ``work`` in one transaction, in one hop to the thread pool: for hot endpoints
    (the biller API) where the request boundary's own session would cost two hops."""

    def run() -> T:
        with transaction(settings) as db:
            return work(db)

    async with database_turn(request, writing=True):
        return await run_in_threadpool(run)


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
# "function" scope: the transaction commits before the response is sent, so a failed
# commit is an error the client sees, and the next request sees what this one wrote.
DbDep = Annotated[Session, Depends(get_db, scope="function")]


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


def calls_the_api(request: Request) -> bool:
    """Whether the request is for the JSON API (``/api/...``) rather than a page."""
    # The path from the scope, as the router read it: building ``request.url`` costs more.
    return str(request.scope["path"]).startswith("/api/")


def client_address(request: Request) -> str:
    """The caller's network address (as the trusted proxy reports it), for throttling."""
    return request.client.host if request.client else ""


@dataclass(frozen=True)
class Viewer:
    """Plain facts about the signed-in person for page chrome, safe after the session ends.

    The sign-in dependency puts one on ``request.state.viewer``; pages and the language
    choice read it from there.
    """

    kind: str
    display_name: str
    language: str | None
    role: str = "citizen"
    identity_proven: bool = True
    # In-app messages not yet read: the count on the bell in the header.
    unread: int = 0


def request_language(request: Request) -> str:
    """The reader's language: chosen switch, then account, then browser, then English."""
    chosen = request.cookies.get(LANGUAGE_COOKIE)
    if chosen in LANGUAGES:
        return chosen
    viewer = getattr(request.state, "viewer", None)
    if viewer is not None and viewer.language:
        return normalise_language(viewer.language)
    for part in request.headers.get("accept-language", "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGUAGES:
            return code
    default: str = request.app.state.settings.default_language
    return default


async def _request_language(request: Request) -> str:
    return request_language(request)


LanguageDep = Annotated[str, Depends(_request_language)]


def csrf_token_for(request: Request) -> str:
    """The token forms must send back; derived from a per-browser random cookie.

    The cookie alone is useless to an attacker's page: the token is an HMAC of it under
    the server secret and has to be in the form body or a header.
    """
    seed = getattr(request.state, "csrf_seed", None) or request.cookies.get(CSRF_COOKIE)
    if not seed:
        seed = secrets.token_urlsafe(24)
        request.state.csrf_seed = seed
        request.state.set_csrf_cookie = True
    secret = request.app.state.settings.secret_key.encode()
    return hmac.new(secret, f"csrf:{seed}".encode(), hashlib.sha256).hexdigest()


async def csrf_protect(request: Request) -> None:
    """Refuse an unsafe request without a valid CSRF token.

    Requests authenticated by a bearer token, and API calls without a session cookie,
    carry no ambient credentials, so they need no token; everything else does.
    """
    if request.method not in UNSAFE_METHODS or bearer_token(request):
        return
    if calls_the_api(request) and SESSION_COOKIE not in request.cookies:
        return  # an API call carrying no cookie has no ambient authority to abuse
    # Never from the address: a token in a URL is kept in logs, history and Referer
    # headers. A form carries it as a field; a script sends the header.
    sent = request.headers.get(CSRF_HEADER)
    form = None if sent else await _submitted_form(request)
    if form is not None:
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if not _csrf_token_matches(request, sent):
        if form is not None:
            await form.close()
        raise CsrfFailed()


def _csrf_token_matches(request: Request, sent: str | None) -> bool:
    seed = request.cookies.get(CSRF_COOKIE)
    if not seed or not sent:
        return False
    secret = request.app.state.settings.secret_key.encode()
    expected = hmac.new(secret, f"csrf:{seed}".encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, sent)


async def _submitted_form(request: Request) -> FormData | None:
    # The page gets the same parsed form (Starlette keeps it on the request) and closes
    # its files. A form with files is read whole before its token is checked, no more
    # than the body limit lets in: as much as an anonymous form with files (a document's
    # picture on /verify) may send anyway.
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        return None
    return await read_submitted_form(request)


async def read_submitted_form(request: Request) -> FormData:
    """The submitted form, within the limits of any page's form."""
    return await request.form(
        max_files=MAX_FORM_FILES, max_fields=MAX_FORM_FIELDS, max_part_size=MAX_FORM_FIELD_BYTES
    )


CSRF_PROTECTED = [Depends(csrf_protect)]
"""Every page and API router carries this: unsafe requests need a CSRF token."""
