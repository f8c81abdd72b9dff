"""Checking a document's text for a request, without holding up the server's other work.

A check is signature arithmetic and one or two reads. Where the database can be read
without waiting (SQLite, see :func:`~darwaza.database.never_waiting_reader`) it runs
on the event loop: handing it to a thread and back cost more CPU than the check itself
(about 180 us a hop on a 2-core host), and a thread that gives up Python's lock for a
read waits to take it back behind whatever the loop is doing. Everything else (a share
link, whose opening is recorded; PostgreSQL; a replica; SQLite at a moment it would
make a reader wait) goes to the thread pool, in its turn at the database. On the loop
it runs between two turns of the loop (see :mod:`darwaza.web.loop`). On PostgreSQL a
server that keeps statuses in memory (:mod:`darwaza.documents.statuses`) checks on the
loop too, once it holds the document's key and shard: its first check of a shard, and
its first after the shard changes, read it in a thread, one request of the process at a
time for each shard or key (the others wait for it, then find it held).
"""

from __future__ import annotations

from contextlib import suppress

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from darwaza.catalogue import Catalogue
from darwaza.documents.statuses import NotInMemory, StatusMemory
from darwaza.settings import Settings
from darwaza.verification.service import (
    check_text,
    check_text_in_memory,
    check_text_without_waiting,
    names_a_share,
)
from darwaza.verification.verdicts import VerificationResult
from darwaza.web.context import database_turn
from darwaza.web.loop import on_the_loop, read_on_the_loop


async def check_for_request(
    request: Request, *, settings: Settings, catalogue: Catalogue, text: str
) -> VerificationResult:
    """The verdict on ``text``: on the event loop when no wait can come of it, else in a
    thread (see the module's note)."""
    memory: StatusMemory | None = getattr(request.app.state, "status_memory", None)
    if memory is not None and not names_a_share(text):
        try:
            return await _checked_in_memory(memory, settings, catalogue, text)
        except NotInMemory as missing:
            # One request at a time reads what is missing (a shard, a key); those that
            # waited for it then find it held.
            async with memory.one_reader(f"verify:{missing}"):
                with suppress(NotInMemory):
                    return await _checked_in_memory(memory, settings, catalogue, text)
                return await _checked_in_a_thread(request, settings, catalogue, text, memory)
    result = await read_on_the_loop(
        settings, check_text_without_waiting, settings=settings, catalogue=catalogue, text=text
    )
    if result is not None:
        return result
    return await _checked_in_a_thread(request, settings, catalogue, text, memory)


async def _checked_in_memory(
    memory: StatusMemory, settings: Settings, catalogue: Catalogue, text: str
) -> VerificationResult:
    return await on_the_loop(
        check_text_in_memory, memory, settings=settings, catalogue=catalogue, text=text
    )


async def _checked_in_a_thread(
    request: Request,
    settings: Settings,
    catalogue: Catalogue,
    text: str,
    memory: StatusMemory | None,
) -> VerificationResult:
    async with database_turn(request, writing=names_a_share(text)):
        return await run_in_threadpool(
            check_text,
            settings=settings,
            catalogue=catalogue,
            text=text,
            user_agent=request.headers.get("user-agent", ""),
            memory=memory,
        )
