"""PostgreSQL's ``LISTEN``, heard on the event loop.

A server that keeps something of the database in memory must hear of every change to
it, or it answers from a stale copy. :class:`Listening` holds one connection that
listens on a channel; the event loop reads it as notifications arrive (and whenever a
caller asks, so one that arrived a moment ago is heard before an answer is given from
memory). Hearing is proven, not assumed: every few seconds it sends a probe of its own
through another connection and must hear it back. A connection that is lost, or a probe
not heard (a pooler in transaction mode, where ``LISTEN`` silently hears nothing), ends
the listening: the owner is told to forget everything it kept, and listening starts
again from a new connection.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import threading
from collections.abc import Callable
from contextlib import suppress

import anyio
import psycopg
from sqlalchemy import Engine, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

log = logging.getLogger("darwaza.listening")

_PROBE = "probe:"


class NotReady(Exception):
    """The database is not set up to send what is listened for (a migration not run)."""


class _Opening:
    """A connection opened in a thread, handed to the loop, or closed by the thread if
    the loop stopped waiting for it (a server shutting down as it connected)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._abandoned = False
        self.connection: psycopg.Connection[object] | None = None

    def hand_over(self, connection: psycopg.Connection[object]) -> None:
        with self._lock:
            if not self._abandoned:
                self.connection = connection
                return
        connection.close()

    def abandon(self) -> None:
        with self._lock:
            self._abandoned = True
            connection, self.connection = self.connection, None
        if connection is not None:
            connection.close()


class Listening:
    """Notifications on ``channel``, each payload handed to ``heard`` on the event loop.

        ``listening`` is true only while notifications are known to arrive: from the moment
        a probe sent after ``LISTEN`` is heard until the connection is lost or a probe goes
        unheard. ``lost`` is called as it ends. ``ready`` is asked, on the new connection,
    whether the database sends the notifications at all. Run :meth:`keep_listening` as a task.
    """

    def __init__(
        self,
        engine: Engine,
        channel: str,
        *,
        heard: Callable[[str], None],
        lost: Callable[[], None],
        ready: Callable[[psycopg.Connection[object]], bool] = lambda _connection: True,
        probe_seconds: float = 2.0,
        retry_seconds: float = 2.0,
    ) -> None:
        self._engine = engine  # for probes: any connection to the same database but this one
        self._channel = channel
        self._heard = heard
        self._lost = lost
        self._ready = ready
        self._probe_seconds = probe_seconds
        self._retry_seconds = retry_seconds
        self._connection: psycopg.Connection[object] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._proven = False
        self._probe = ""
        self._probe_heard = asyncio.Event()
        self._ended = asyncio.Event()

    @property
    def listening(self) -> bool:
        return self._connection is not None and self._proven

    def drain(self) -> bool:
        """Hear every notification that has arrived (no wait); whether still listening.

        ``False`` at once on any other loop or thread than the one that listens.
        """
        connection = self._connection
        if connection is None or not self._on_own_loop():
            return False
        try:
            # Twice: a connection the server ends sends its last words, then closes, and
            # libpq sees the close only on the read after the one that found the words.
            connection.pgconn.consume_input()
            connection.pgconn.consume_input()
            while (notice := connection.pgconn.notifies()) is not None:
                self._hear(notice.extra.decode())
        except psycopg.Error:
            log.warning("the connection listening on %s was lost", self._channel)
            self._end()
        return self.listening

    def _on_own_loop(self) -> bool:
        """Whether this is the loop that listens (the connection is that loop's alone)."""
        try:
            return asyncio.get_running_loop() is self._loop
        except RuntimeError:
            return False

    def _hear(self, payload: str) -> None:
        if not payload.startswith(_PROBE):
            self._heard(payload)
        elif payload == self._probe:
            self._proven = True
            self._probe_heard.set()

    def _end(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        self._proven = False
        self._lost()
        self._ended.set()
        with suppress(OSError, ValueError, RuntimeError, psycopg.Error):  # the socket may be gone
            if self._loop is not None:
                self._loop.remove_reader(connection.fileno())
        connection.close()

    async def keep_listening(self) -> None:
        """Listen, prove it, and listen again after a loss, until cancelled."""
        try:
            while True:
                try:
                    await self._listen_once()
                except (psycopg.Error, SQLAlchemyError, OSError, NotReady) as error:
                    log.warning("could not listen on %s: %s", self._channel, error)
                self._end()
                await asyncio.sleep(self._retry_seconds)
        finally:
            self._end()

    async def _listen_once(self) -> None:
        opening = _Opening()
        try:
            await anyio.to_thread.run_sync(self._connect, opening)
        except BaseException:  # cancelled while connecting, too: the thread closes its own
            opening.abandon()
            raise
        connection = opening.connection
        assert connection is not None
        self._loop = asyncio.get_running_loop()
        self._connection = connection
        self._ended = asyncio.Event()
        self._loop.add_reader(connection.fileno(), self.drain)
        while self._connection is connection:
            if not await self._probe_answered():
                if self._connection is connection:
                    log.warning("a probe on %s went unheard; listening again", self._channel)
                return
            with anyio.move_on_after(self._probe_seconds):
                await self._ended.wait()

    async def _probe_answered(self) -> bool:
        """Send a probe through another connection: whether it is heard in time.

        What was kept stays in use while a probe is on its way; one not heard ends it.
        """
        self._probe = f"{_PROBE}{secrets.token_hex(8)}"
        self._probe_heard = asyncio.Event()
        await anyio.to_thread.run_sync(self._notify, self._probe)
        with anyio.move_on_after(self._probe_seconds):
            await self._probe_heard.wait()
        return self._probe_heard.is_set()

    def _connect(self, opening: _Opening) -> None:
        url = make_url(self._engine.url).set(drivername="postgresql")
        connection: psycopg.Connection[object] = psycopg.connect(
            url.render_as_string(hide_password=False), autocommit=True
        )
        try:
            if not self._ready(connection):
                raise NotReady(f"the database does not send notices on {self._channel}")
            connection.execute(f'LISTEN "{self._channel}"')
        except BaseException:
            connection.close()
            raise
        opening.hand_over(connection)

    def _notify(self, payload: str) -> None:
        with self._engine.connect() as connection:
            connection.execute(select(func.pg_notify(self._channel, payload)))
            connection.commit()
