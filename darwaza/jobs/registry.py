"""Which handler does which kind of job, and what a handler is given."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from darwaza.settings import Settings


@dataclass(frozen=True)
class JobContext:
    """Everything a handler may use.

    ``db`` is the transaction that also marks the job done: write through it and the
    effect commits exactly once, with the job. Make slow outside calls before the first
    write (on SQLite a writing transaction holds the database's one write lock). An
    outside effect may be repeated after a crash, so pass the outside system an id it
    deduplicates on (``job_id`` or one from the payload).
    """

    db: Session
    settings: Settings
    job_id: int
    kind: str
    payload: dict[str, Any]
    attempt: int


JobHandler = Callable[[JobContext], None]


@dataclass(frozen=True)
class Schedule:
    """Work the clock enqueues once per ``every`` (a slot), however many workers run."""

    name: str
    kind: str
    every: timedelta


class UnknownJobKind(LookupError):
    """A job of a kind no handler is registered for (a worker older than the code)."""


class JobRegistry:
    """Maps each job kind (a constant of its domain) to its handler; holds the schedules."""

    def __init__(self) -> None:
        self._handlers: dict[str, JobHandler] = {}
        self._heavy: set[str] = set()
        self.schedules: list[Schedule] = []

    def add(self, kind: str, handler: JobHandler, *, heavy: bool = False) -> None:
        """Register the handler of ``kind``; a kind has exactly one handler.

        A ``heavy`` kind keeps a processor busy for a while (signing a chunk of a
        register). A worker process runs one heavy job at a time: Python runs one thread
        at a time, so two would only take turns, while the next one waits for another
        process and the other threads stay free for messages.
        """
        if kind in self._handlers:
            raise ValueError(f"a handler for job kind {kind!r} is already registered")
        self._handlers[str(kind)] = handler
        if heavy:
            self._heavy.add(str(kind))

    @property
    def heavy_kinds(self) -> frozenset[str]:
        """The kinds registered as ``heavy``."""
        return frozenset(self._heavy)

    def add_schedule(self, schedule: Schedule) -> None:
        """Have every worker's clock enqueue ``schedule.kind`` once per ``schedule.every``."""
        if schedule.kind not in self._handlers:
            raise ValueError(f"no handler for the scheduled job kind {schedule.kind!r}")
        if any(known.name == schedule.name for known in self.schedules):
            raise ValueError(f"a schedule named {schedule.name!r} already exists")
        self.schedules.append(schedule)

    def handler_for(self, kind: str) -> JobHandler:
        """The handler of ``kind``, or `UnknownJobKind`."""
        try:
            return self._handlers[kind]
        except KeyError:
            raise UnknownJobKind(f"no handler for job kind {kind!r}") from None

    def __contains__(self, kind: object) -> bool:
        return kind in self._handlers

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._handlers))
