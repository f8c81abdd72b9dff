"""The database: engine, sessions and the declarative base shared by every domain."""

from __future__ import annotations

import functools
import logging
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

import filelock
from sqlalchemy import (
    Connection,
    DateTime,
    Engine,
    MetaData,
    String,
    Table,
    create_engine,
    event,
    text,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DisconnectionError, OperationalError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from darwaza.settings import Settings, get_settings

log = logging.getLogger("darwaza.database")

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back as an aware UTC datetime.

    SQLite has no time zones; PostgreSQL does. This type makes both behave the same.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use an aware UTC datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


E = TypeVar("E", bound=StrEnum)
T = TypeVar("T")


class StrEnumType(TypeDecorator[E]):
    """A state or role stored as its text value and read back as its :class:`StrEnum` member.

    The column is a plain ``VARCHAR(length)``: adding a member needs no migration, and a
    value the enum does not know fails loudly when read.
    """

    impl = String
    cache_ok = True

    def __init__(self, enum_class: type[E], length: int) -> None:
        super().__init__(length)
        self.enum_class = enum_class

    def process_bind_param(self, value: E | str | None, dialect: Any) -> str | None:
        return None if value is None else self.enum_class(value).value

    def process_result_value(self, value: str | None, dialect: Any) -> E | None:
        return None if value is None else self.enum_class(value)


class Base(DeclarativeBase):
    """Declarative base of every table; the schema itself comes from migrations."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def table_of(model: type[Base]) -> Table:
    """A model's table, for Core statements over many rows (no ORM work per row)."""
    table = model.__table__
    assert isinstance(table, Table)
    return table


def new_public_id() -> str:
    """An unguessable public identifier (122 random bits)."""
    return str(uuid.uuid4())


# How long a writer waits for SQLite's write lock before the request is answered 503.
SQLITE_BUSY_SECONDS = 15


def _sqlite_configuration(lock_wait_seconds: float) -> Callable[[Any, Any], None]:
    def configure(dbapi_connection: Any, _record: Any) -> None:
        # WAL lets readers and one writer work at once across the server's workers; the
        # busy timeout makes a second writer wait instead of failing with "database is
        # locked".
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={int(lock_wait_seconds * 1000)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return configure


# Beside the database file: the lock SQLite's writers in every process wait for.
WRITERS_LOCK_SUFFIX = "-writers"
# How often a writer waiting for its turn looks again.
TURN_LOOK_SECONDS = 0.001


def _open_turns_file(path: str) -> int:
    """The writers' turns file, readable by its owner alone: whoever can open it can hold
    every writer's turn. A file an earlier version made open to others is closed to them."""
    turns = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    found = os.fstat(turns)
    if found.st_uid == os.getuid() and found.st_mode & 0o077:
        os.fchmod(turns, 0o600)
    return turns


class _QueuedWriterConnection(sqlite3.Connection):
    """A SQLite connection whose write transactions first wait for their turn at a file lock.

    SQLite makes a writer that finds the database locked sleep and look again, in sleeps
    that grow to 100 ms; meanwhile a process whose writers keep coming takes the lock again
    and again, and the sleeping writer of another process (with its process's whole queue
    of writers behind it) can wait a second or more. Here a writer first waits for a lock
    on a file beside the database, shared by every process, which it looks at every
    millisecond, and takes SQLite's write lock only once it holds that one: a turn passes
    on within about a millisecond of a commit. It is not a strict queue, but no writer
    sleeps through many turns. SQLite's own lock still keeps writers apart; this one only
    shares the turns out.

    The connection opens the file once and each look is one ``flock`` on it
    (``filelock.lock_descriptor``): a process whose writer waits spends about a third of
    the CPU it spent when every look opened, locked and closed the file (`filelock.FileLock`),
    and under load one process or another is nearly always waiting.
    """

    def __init__(self, database: str, *args: Any, **kwargs: Any) -> None:
        super().__init__(database, *args, **kwargs)
        self._turn_seconds = float(kwargs.get("timeout", SQLITE_BUSY_SECONDS))
        self._turn_file: int | None = _open_turns_file(f"{database}{WRITERS_LOCK_SUFFIX}")
        self._holds_turn = False

    def queue_to_write(self) -> None:
        """Wait for this connection's turn to write; raise "database is locked" if it
        does not come within the busy timeout, as SQLite itself would."""
        assert self._turn_file is not None, "the connection is closed"
        deadline = time.monotonic() + self._turn_seconds
        while not filelock.lock_descriptor(self._turn_file, blocking=False):
            if time.monotonic() >= deadline:
                raise OperationalError(
                    "BEGIN IMMEDIATE", None, sqlite3.OperationalError("database is locked")
                )
            time.sleep(TURN_LOOK_SECONDS)
        self._holds_turn = True

    def _done_writing(self) -> None:
        if self._holds_turn and self._turn_file is not None:
            self._holds_turn = False
            filelock.unlock_descriptor(self._turn_file)

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self._done_writing()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self._done_writing()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._done_writing()
            if self._turn_file is not None:
                os.close(self._turn_file)
                self._turn_file = None


def _database_file(url: str) -> bool:
    """Whether a SQLite URL names a file (not a database in memory)."""
    path = url.removeprefix("sqlite:///").partition("?")[0]
    return url.startswith("sqlite:///") and path not in ("", ":memory:")


def _begin_immediate(conn: Any) -> None:
    # SQLite upgrades a read transaction to a write one lazily and fails with "database is
    # locked" if another writer got there first. Taking the write lock at BEGIN makes
    # concurrent requests queue instead: for the file lock of _QueuedWriterConnection,
    # then (for writers that do not take it, such as another program) on the busy timeout.
    connection = conn.connection.dbapi_connection
    queued = isinstance(connection, _QueuedWriterConnection)
    if queued:
        connection.queue_to_write()
    try:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    except BaseException:
        if queued:
            connection.rollback()
        raise


_BY_STATEMENT = "darwaza_by_statement"


def _begin_unless_by_statement(conn: Any) -> None:
    # A reader's snapshot across its statements. Work that reads one statement at a time
    # (see read_engine) needs none: without BEGIN, SQLite runs each statement on its own.
    if not conn.get_execution_options().get(_BY_STATEMENT):
        conn.exec_driver_sql("BEGIN")


@dataclass(frozen=True)
class PoolLimits:
    """How many connections a process keeps, and how long a request waits for one.

    Sized together with the request threads (see ``DARWAZA_REQUEST_THREADS``): a request
    that cannot get a connection within ``timeout`` seconds is answered 503 at once
    instead of hanging. ``statement_seconds`` bounds one statement on PostgreSQL, and a
    transaction left idle is ended by the server after twice that. A connection that sat
    in the pool longer than ``ping_after_idle_seconds`` is checked before it is handed out
    (see :func:`_ping_if_idle`).
    """

    size: int = 10
    overflow: int = 10
    timeout: float = 3.0
    statement_seconds: int = 15
    ping_after_idle_seconds: float = 5.0


def pool_limits(settings: Settings) -> PoolLimits:
    """The pool the settings describe."""
    return PoolLimits(
        size=settings.database_pool_size,
        overflow=settings.database_max_overflow,
        timeout=settings.database_pool_timeout_seconds,
        statement_seconds=settings.database_statement_timeout_seconds,
    )


def build_engine(
    url: str,
    *,
    immediate: bool = True,
    pool: PoolLimits = PoolLimits(),
    lock_wait_seconds: float = SQLITE_BUSY_SECONDS,
    autocommit: bool = False,
) -> Engine:
    """Create an engine for ``url`` with the settings each backend needs.

    On SQLite, ``immediate`` makes every transaction take the write lock when it begins
    (see :func:`_begin_immediate`); a reader that never writes does without, so reads
    never queue behind writers. ``lock_wait_seconds`` is how long a statement waits for a
    lock SQLite holds elsewhere before failing with "database is locked". On PostgreSQL,
    ``autocommit`` runs each statement on its own (see :func:`read_engine`).
    """
    if url.startswith("sqlite"):
        # A file database gets the same pool limits as PostgreSQL: a request that cannot
        # get a connection in time is answered 503 (see ``PoolLimits``), never left waiting.
        sized = (
            {"pool_size": pool.size, "max_overflow": pool.overflow, "pool_timeout": pool.timeout}
            if url.startswith("sqlite:///")
            else {}
        )
        connecting: dict[str, Any] = {"check_same_thread": False, "timeout": lock_wait_seconds}
        if immediate and _database_file(url):
            connecting["factory"] = _QueuedWriterConnection
        engine = create_engine(url, connect_args=connecting, **sized)
        event.listen(engine, "connect", _sqlite_configuration(lock_wait_seconds))

        @event.listens_for(engine, "connect")
        def _no_pysqlite_begin(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None

        if immediate:
            event.listen(engine, "begin", _begin_immediate)
        else:
            event.listen(engine, "begin", _begin_unless_by_statement)
        return engine
    milliseconds = pool.statement_seconds * 1000
    options = (
        f"-c statement_timeout={milliseconds} "
        f"-c idle_in_transaction_session_timeout={2 * milliseconds}"
    )
    # An autocommit connection holds no transaction to end when it is handed back, so the
    # pool's rollback on return is left out with it.
    per_statement: dict[str, Any] = (
        {"isolation_level": "AUTOCOMMIT", "pool_reset_on_return": None} if autocommit else {}
    )
    engine = create_engine(
        url,
        pool_size=pool.size,
        max_overflow=pool.overflow,
        pool_timeout=pool.timeout,
        connect_args={"options": options, "connect_timeout": 5},
        **per_statement,
    )
    _ping_if_idle(engine, after_seconds=pool.ping_after_idle_seconds)
    return engine


_IDLE_SINCE = "darwaza.idle_since"


def _ping_if_idle(engine: Engine, *, after_seconds: float) -> None:
    """Check a pooled connection before use only if it sat idle for ``after_seconds``.

    SQLAlchemy's ``pool_pre_ping`` checks every checkout: a round trip added to every
    request. A connection handed back moments ago (the usual case under load) is as
    alive as the last statement it ran; one that sat idle may have been cut by a
    restart, a failover or a proxy, and is checked, and replaced if dead (the pool
    tries again with a new connection), so no request meets a dead one.
    """

    @event.listens_for(engine, "connect")
    def _opened(_dbapi_connection: Any, record: Any) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkin")
    def _returned(_dbapi_connection: Any, record: Any) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get(_IDLE_SINCE, 0.0)
        if time.monotonic() - idle_since < after_seconds:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_connection)
        except Exception as error:
            raise DisconnectionError("the connection did not answer a ping") from error
        if not alive:
            raise DisconnectionError("the connection did not answer a ping")


def engine_for(url: str, *, immediate: bool = True, pool: PoolLimits = PoolLimits()) -> Engine:
    """One engine per database URL, SQLite locking style and pool, per process."""
    if not url.startswith("sqlite"):
        immediate = True  # PostgreSQL reads take no lock either way: one pool serves both
    return _engine(url, immediate, pool)


@functools.cache
def _engine(url: str, immediate: bool, pool: PoolLimits) -> Engine:
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    return build_engine(url, immediate=immediate, pool=pool)


def fill_pool(settings: Settings) -> int:
    """Open the pool's connections now and hand them back; how many were opened.

    A fresh server (just started, or deployed while citizens are using the service)
    otherwise opens them inside its first requests, each waiting for PostgreSQL to start
    a backend. SQLite opens a file and gains nothing, so it is left alone.
    """
    if settings.resolved_database_url.startswith("sqlite"):
        return 0
    engine = engine_for(settings.resolved_database_url, pool=pool_limits(settings))
    opened: list[Connection] = []
    try:
        for _ in range(settings.database_pool_size):
            opened.append(engine.connect())
    finally:
        for connection in opened:
            connection.close()
    return len(opened)


def session_factory(
    settings: Settings | None = None, *, immediate: bool = True
) -> sessionmaker[Session]:
    """A session factory bound to the configured database."""
    settings = settings or get_settings()
    engine = engine_for(
        settings.resolved_database_url, immediate=immediate, pool=pool_limits(settings)
    )
    return _sessions(engine)


@functools.cache
def _sessions(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


@functools.cache
def _statement_engine(url: str, pool: PoolLimits) -> Engine:
    """An engine for ``url`` whose statements each run on their own (one per URL, kept).

    On PostgreSQL it has a pool of its own, whose connections are in autocommit from the
    start: switching a shared connection to autocommit and back on every use cost a
    third of a status read's CPU (psycopg's client-side changes of state, each through
    its wait loop). It is as large as the main pool: the session gate lets that many
    checks run at once, and a smaller pool would open and close a connection for each
    check beyond it (measured: half the size halved verification's rate). A SQLite
    reader simply does not begin a transaction (``_begin_unless_by_statement``), on the
    readers' engine.
    """
    if url.startswith("sqlite"):
        return engine_for(url, immediate=False, pool=pool).execution_options(
            **{_BY_STATEMENT: True}
        )
    return build_engine(url, pool=pool, autocommit=True)


def primary_statement_engine(settings: Settings) -> Engine:
    """The primary's engine whose statements each run on their own (see
    :func:`_statement_engine`): for reads that must not come from a replica."""
    return _statement_engine(settings.resolved_database_url, pool_limits(settings))


def insert_unless_present(
    db: Session,
    table: Any,
    values: dict[str, Any] | Sequence[dict[str, Any]],
    *,
    unique: list[str],
) -> int:
    """``INSERT ... ON CONFLICT DO NOTHING`` on the ``unique`` columns, on either database:
    two writers racing to add the same row both succeed, and one row is there after.

    ``values`` is one row or several (one statement either way). Returns how many rows
    were added. Like any statement run through the session, it flushes pending changes
    first unless the caller holds ``no_autoflush``.
    """
    statement = _insert_unless_present(db.get_bind().dialect.name, table, tuple(unique))
    rows = values if isinstance(values, dict) else list(values)
    return int(getattr(db.execute(statement, rows), "rowcount", 0))


def add_unless_present(
    db: Session, model: type[T], values: dict[str, Any], *, unique: list[str]
) -> T | None:
    """Like `insert_unless_present` for one row of an ORM ``model``, with the row added
    coming back from the same statement (``RETURNING``): the new object, or ``None`` when
    the ``unique`` columns were taken (nothing added, nothing read)."""
    entity: Any = model  # a mapped class: hashable, as the statement's cache needs
    statement = _add_unless_present(db.get_bind().dialect.name, entity, tuple(unique))
    added: T | None = db.scalar(statement, values)
    return added


@functools.cache
def _add_unless_present(dialect: str, model: Any, unique: tuple[str, ...]) -> Any:
    return _insert_unless_present(dialect, model, unique).returning(model)


@functools.cache
def _insert_unless_present(dialect: str, table: Any, unique: tuple[str, ...]) -> Any:
    # Built once per table: the rows go as parameters, not in the statement, so neither
    # the statement nor its cache key is made again for each call.
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    return (
        insert(table)
        .on_conflict_do_nothing(index_elements=list(unique))
        .execution_options(preserve_rowcount=True)
    )


@contextmanager
def transaction(settings: Settings | None = None) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    session = session_factory(settings)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


class _ReplicaHealth:
    """Whether the replica may serve reads: checked at most every few seconds per process.

    A replica that does not answer, or lags more than allowed, is passed over for a while
    and reads go to the primary.
    """

    CHECK_EVERY = 5.0
    REST_AFTER_FAILURE = 30.0

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._usable_until: dict[str, float] = {}
        self._resting_until: dict[str, float] = {}

    def usable(self, engine: Engine, *, max_lag_seconds: float) -> bool:
        key = str(engine.url)
        now = time.monotonic()
        with self._lock:
            if now < self._resting_until.get(key, 0.0):
                return False
            if now < self._usable_until.get(key, 0.0):
                return True
        healthy = _replica_answers(engine, max_lag_seconds=max_lag_seconds)
        with self._lock:
            if healthy:
                self._usable_until[key] = now + self.CHECK_EVERY
            else:
                self._resting_until[key] = now + self.REST_AFTER_FAILURE
        return healthy


def _replica_answers(engine: Engine, *, max_lag_seconds: float) -> bool:
    try:
        with engine.connect() as connection:
            lag = connection.execute(
                text("SELECT EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())")
            ).scalar()
    except Exception:  # any failure means not usable now; the primary answers instead
        log.warning("the database replica does not answer; reading from the primary")
        return False
    # On a server that is not replaying (a primary), there is no lag to speak of.
    return lag is None or float(lag) <= max_lag_seconds


_replica_health = _ReplicaHealth()


def read_engine(settings: Settings, *, statement_by_statement: bool = False) -> Engine:
    """The engine for reads that may be a little stale: the replica when it is usable,
    else the primary without SQLite's write lock.

    ``statement_by_statement`` is for work that only reads and needs no snapshot across
    its statements (checking a document's status): on PostgreSQL each statement then runs
    on its own (autocommit), so a lone ``SELECT`` is one round trip, not ``BEGIN``,
    ``SELECT``, ``ROLLBACK``. Never for anything that may write: it would not be atomic.
    """
    replica_url = settings.resolved_replica_url
    if replica_url:
        replica = engine_for(replica_url, pool=pool_limits(settings))
        if _replica_health.usable(
            replica, max_lag_seconds=settings.database_replica_max_lag_seconds
        ):
            if statement_by_statement:
                return _statement_engine(replica_url, pool_limits(settings))
            return replica
    if statement_by_statement:
        return _statement_engine(settings.resolved_database_url, pool_limits(settings))
    return engine_for(settings.resolved_database_url, immediate=False, pool=pool_limits(settings))


def never_waiting_reader(settings: Settings) -> Engine | None:
    """An engine whose reads never wait for a lock, for reading on the event loop itself.

    Only a SQLite file without a replica has one. In WAL mode its readers take no lock a
    writer holds, so a read is a few microseconds of work on a file the system keeps in
    memory; in the rare moments SQLite still makes a reader wait (another connection
    recovering the log, or holding the database in exclusive mode) this engine's
    statement fails at once with "database is locked" (:func:`_is_lock_conflict`), and
    the caller reads in a thread, where waiting harms nobody. Statements run one at a
    time, without ``BEGIN``. PostgreSQL, or a replica, is a round trip away: ``None``.
    """
    url = settings.resolved_database_url
    if not url.startswith("sqlite:///") or settings.resolved_replica_url:
        return None
    return _never_waiting(url, pool_limits(settings))


@functools.cache
def _never_waiting(url: str, pool: PoolLimits) -> Engine:
    engine = build_engine(url, immediate=False, pool=pool, lock_wait_seconds=0)
    return engine.execution_options(**{_BY_STATEMENT: True})


def read_without_waiting(settings: Settings, read: Callable[[Connection], T]) -> T | None:
    """``read(connection)`` through :func:`never_waiting_reader`, for the event loop.

    ``None`` where the database has no such reader, or when a lock held elsewhere
    refused the read (nothing waited): the caller then reads in a thread. ``read``
    should only read.
    """
    engine = never_waiting_reader(settings)
    if engine is None:
        return None
    try:
        with engine.connect() as connection:
            return read(connection)
    except OperationalError as error:
        if _is_lock_conflict(error):
            return None
        raise


def _is_lock_conflict(error: OperationalError) -> bool:
    """Whether SQLite refused a statement because another connection held a lock."""
    code = getattr(error.orig, "sqlite_errorcode", None)
    return isinstance(code, int) and code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


def read_session_factory(settings: Settings) -> sessionmaker[Session]:
    """Sessions on :func:`read_engine`: the replica when usable, else the primary."""
    return _sessions(read_engine(settings))
