"""Short work done on the event loop itself, between two turns of the loop.

A hop to the thread pool and back costs more CPU than a page's template or a
document's check (about 180 us on a 2-core host: two thread wake-ups and the return of
Python's lock), so work that waits for nothing (no lock, no round trip) is cheaper done
on the loop. Done there without a pause, it has a cost of its own: uvloop ran such
handlers back to back while other connections' requests sat unread in their sockets,
and 1-3 % of answers waited 0.2-2 s under load (measured with wrk, 64 connections).
Handing the loop back once before the work and once after lets answers go out and
requests be read in between; the same load then had a lower p99 than the thread pool
gave, at a higher rate (docs/performance.md).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from darwaza.database import never_waiting_reader
from darwaza.settings import Settings

P = ParamSpec("P")
T = TypeVar("T")


async def on_the_loop(work: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """``work(*args, **kwargs)`` on the event loop, the loop handed back before and after.

    Only for work that cannot wait on anything: a lock or a round trip here would stop
    every request of the process.
    """
    await asyncio.sleep(0)
    result = work(*args, **kwargs)
    await asyncio.sleep(0)
    return result


async def read_on_the_loop(
    settings: Settings, read: Callable[P, T | None], /, *args: P.args, **kwargs: P.kwargs
) -> T | None:
    """``read(*args, **kwargs)`` on the loop (see :func:`on_the_loop`) where the database
    has a reader that never waits (:func:`~darwaza.database.never_waiting_reader`), else
    ``None`` at once: the caller then reads in a thread, and the loop's turns buy nothing.
    """
    if never_waiting_reader(settings) is None:
        return None
    return await on_the_loop(read, *args, **kwargs)
