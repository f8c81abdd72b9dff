"""Documents' statuses kept in a server's memory, told of every change by PostgreSQL.

Every check of a document online asks for the status at one slot of a shard. On
PostgreSQL that was a round trip from a thread for each check: a third of the server's
work for the route the whole country calls. A server now keeps the shards it has been
asked about (each shard's capacity and its few slots that are not valid) and answers
from memory on the event loop.

It may only answer from a copy it knows to be current. Every status change raises its
shard's ``version``, and a trigger on ``status_lists`` (migration 0017) notifies
:data:`CHANNEL` with the shard's id as the change commits; each server listens
(:class:`~darwaza.listening.Listening`) and forgets that shard as it hears it, and hears
whatever has arrived before it answers. A copy read while a change was on its way is not
kept (each shard's changes are counted, and a copy is kept only if none came while it
was read). Memory is used only while listening is proven; a lost connection forgets
everything. A change made in this process is forgotten as it commits, before the
notification comes back. Shards are read from the primary, whose notifications these
are, never from a replica. The same memory keeps each shard's signed status list token,
forgotten with the shard, so the list verifiers download is served from the event loop
too; and, forgotten when :data:`PUBLISHED` is heard (a key or a shard added, changed or
removed, migration 0019), the trust bundle and each agency's keys.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import psycopg
from sqlalchemy import event, select, text
from sqlalchemy.orm import Session

from darwaza.database import primary_statement_engine
from darwaza.documents.models import NOT_VALID_SQL, Document, DocumentStatus, StatusList
from darwaza.listening import Listening
from darwaza.metrics import STATUS_LOOKUPS, STATUS_MEMORY_LOSSES
from darwaza.settings import Settings

CHANNEL = "darwaza_status_lists"
# Sent on the channel (migration 0019) when a signing key or a shard is added, changed or
# removed: what verifiers download besides status lists changes. No shard's id is this.
PUBLISHED = "*"
# A national register has a few thousand shards; a copy of one is its few slots that
# are not valid. Beyond this many, the copies first kept are dropped.
_MOST_SHARDS = 20_000


class StatusSource(StrEnum):
    """Where a status came from, as counted in ``darwaza_status_lookups_total``."""

    MEMORY = "memory"
    SHARD = "shard"
    DATABASE = "database"


class NotInMemory(Exception):
    """The status asked for is not in memory, or memory may not be used now."""


@dataclass(frozen=True, slots=True)
class ShardCopy:
    capacity: int
    not_valid: Mapping[int, int]  # slot -> status code; every other slot is valid

    def code_at(self, index: int) -> int | None:
        if not 0 <= index < self.capacity:
            return None
        return self.not_valid.get(index, DocumentStatus.VALID.code)


class StatusMemory:
    """The shards this server was asked about, for one PostgreSQL database."""

    def __init__(self, settings: Settings) -> None:
        self._engine = primary_statement_engine(settings)
        self._copies: dict[str, ShardCopy] = {}
        # What is signed from a shard (its status list token), or from the keys and
        # shards (:data:`PUBLISHED`), by name, with the signing period it is dated to.
        self._kept: dict[str, dict[str, tuple[datetime, object]]] = {}
        self._changes: dict[str, int] = {}
        self._readers: dict[str, tuple[asyncio.Lock, int]] = {}
        self._losses = 0
        self._lock = threading.Lock()
        self.listening = Listening(
            self._engine,
            CHANNEL,
            heard=self.forget,
            lost=self.forget_everything,
            ready=_trigger_present,
        )

    def code_in_memory(self, shard_id: str, index: int) -> int | None:
        """The status at a slot from memory, on the event loop (after hearing what has
        arrived). :class:`NotInMemory` if the shard is not kept or listening is not proven."""
        if not self.listening.drain():
            raise NotInMemory(shard_id)
        copy = self._copies.get(shard_id)
        if copy is None:
            raise NotInMemory(shard_id)
        STATUS_LOOKUPS.labels(StatusSource.MEMORY).inc()
        return copy.code_at(index)

    def code_read(self, shard_id: str, index: int) -> int | None:
        """The status at a slot, the whole shard read from the primary and kept if no change
        came meanwhile; ``None`` if there is no such shard. In a thread: it waits."""
        with self._lock:
            seen = (self._losses, self._changes.get(shard_id, 0))
            listening = self.listening.listening
        copy = self._read(shard_id)
        STATUS_LOOKUPS.labels(StatusSource.SHARD).inc()
        if copy is None:
            return None
        with self._lock:
            current = (self._losses, self._changes.get(shard_id, 0))
            if listening and seen == current:
                if len(self._copies) >= _MOST_SHARDS:
                    self._copies.pop(next(iter(self._copies)))
                self._copies[shard_id] = copy
        return copy.code_at(index)

    def _read(self, shard_id: str) -> ShardCopy | None:
        with self._engine.connect() as connection:
            capacity = connection.scalar(
                select(StatusList.capacity).where(StatusList.id == shard_id)
            )
            if capacity is None:
                return None
            # The partial index ix_documents_not_valid's own condition, written out.
            rows = connection.execute(
                select(Document.status_index, Document.status).where(
                    Document.status_list_id == shard_id, text(NOT_VALID_SQL)
                )
            ).all()
        return ShardCopy(
            capacity=capacity,
            not_valid={index: DocumentStatus(status).code for index, status in rows},
        )

    def kept(self, subject: str, name: str, period: datetime) -> object | None:
        """What was kept as ``name`` of ``subject`` (a shard's id, or :data:`PUBLISHED`)
        for ``period``, on the event loop (after hearing what has arrived); ``None`` if
        nothing is kept or listening is not proven."""
        if not self.listening.drain():
            return None
        kept = self._kept.get(subject, {}).get(name)
        return kept[1] if kept is not None and kept[0] == period else None

    def changes_heard(self, subject: str) -> tuple[int, int]:
        """What has been heard of ``subject`` so far: taken before reading it, and given
        back to :meth:`keep`, it tells whether a change came meanwhile."""
        with self._lock:
            return (self._losses, self._changes.get(subject, 0))

    def keep(
        self, subject: str, name: str, period: datetime, value: object, *, heard: tuple[int, int]
    ) -> None:
        """Keep ``value``, made for ``period`` from what was read after
        :meth:`changes_heard` gave ``heard``, until ``subject`` changes; unless a change
        came meanwhile or listening is not proven."""
        with self._lock:
            if not self.listening.listening or heard != (
                self._losses,
                self._changes.get(subject, 0),
            ):
                return
            if subject not in self._kept and len(self._kept) >= _MOST_SHARDS:
                self._kept.pop(next(iter(self._kept)))
            self._kept.setdefault(subject, {})[name] = (period, value)

    @asynccontextmanager
    async def one_reader(self, key: str) -> AsyncIterator[None]:
        """One request of this process at a time for ``key`` (on the event loop): the one
        that reads what is not kept; the others wait for it, then find what it kept. A
        burst of requests just after a start or a change reads once, not once each.

        Not while listening is unproven: nothing read then is kept, and requests taking
        turns would only wait for each other.
        """
        if not self.listening.listening:
            yield
            return
        held = self._readers.get(key)
        lock, waiting = held if held is not None else (asyncio.Lock(), 0)
        self._readers[key] = (lock, waiting + 1)
        try:
            async with lock:
                yield
        finally:
            lock, waiting = self._readers[key]
            if waiting == 1:
                del self._readers[key]  # nobody holds or waits: no lock kept per key asked
            else:
                self._readers[key] = (lock, waiting - 1)

    def forget(self, subject: str) -> None:
        """Forget a shard, as its id is heard, or what is published, as :data:`PUBLISHED` is."""
        with self._lock:
            self._changes[subject] = self._changes.get(subject, 0) + 1
            self._copies.pop(subject, None)
            self._kept.pop(subject, None)

    def forget_everything(self) -> None:
        STATUS_MEMORY_LOSSES.inc()
        with self._lock:
            self._losses += 1
            self._copies.clear()
            self._kept.clear()


_TRIGGERS = ("status_list_changed", "signing_keys_changed", "status_lists_added_or_removed")


def _trigger_present(connection: psycopg.Connection[object]) -> bool:
    """Whether the database notifies every change listened for (migrations 0017, 0019)."""
    found = connection.execute(
        "SELECT count(*) = %s FROM pg_trigger WHERE tgname = ANY(%s) AND NOT tgisinternal",
        (len(_TRIGGERS), list(_TRIGGERS)),
    ).fetchone()
    return found == (True,)


_memories: weakref.WeakSet[StatusMemory] = weakref.WeakSet()


@asynccontextmanager
async def kept_in_memory(settings: Settings) -> AsyncIterator[StatusMemory | None]:
    """A :class:`StatusMemory` listening for as long as the context lasts, on PostgreSQL
    with ``settings.status_memory`` on; ``None`` otherwise (statuses are read per check)."""
    url = settings.resolved_database_url
    if not settings.status_memory or not url.startswith("postgresql"):
        yield None
        return
    memory = StatusMemory(settings)
    _memories.add(memory)
    listening = asyncio.create_task(memory.listening.keep_listening())
    try:
        yield memory
    finally:
        listening.cancel()
        with suppress(asyncio.CancelledError):
            await listening
        _memories.discard(memory)


def forget_when_committed(db: Session, shard_ids: Iterable[str]) -> None:
    """Have every memory of this process forget these shards (or, given
    :data:`PUBLISHED`, what it publishes) as ``db`` commits.

    The notification would tell them too, a moment later; a request of this process
    that follows the change must not be answered in that moment.
    """
    if not _memories:
        return
    changed = frozenset(shard_ids)

    def forget(_session: Session) -> None:
        for memory in list(_memories):
            for shard_id in changed:
                memory.forget(shard_id)

    event.listen(db, "after_commit", forget, once=True)
