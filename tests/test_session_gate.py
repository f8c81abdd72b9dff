"""The session gate: requests wait their turn at the database on the event loop, in
order, and are answered 503 when the wait runs out, never left hanging."""

from __future__ import annotations

import asyncio

import pytest
from starlette.requests import Request

from darwaza.errors import ServiceBusy
from darwaza.web.context import SessionGate


def _request() -> Request:
    return Request({"type": "http", "method": "POST", "path": "/", "headers": []})


async def _hold(gate: SessionGate, seconds: float, taken: list[str], name: str) -> None:
    async with gate.admitted(_request(), writing=True):
        taken.append(name)
        await asyncio.sleep(seconds)


def test_a_writer_waits_for_the_one_write_turn_and_is_answered_busy_when_the_wait_runs_out() -> (
    None
):
    async def scene() -> list[str]:
        gate = SessionGate(permits=10, one_writer=True, seconds=0.05)
        taken: list[str] = []
        holder = asyncio.create_task(_hold(gate, 0.3, taken, "first"))
        await asyncio.sleep(0)
        with pytest.raises(ServiceBusy):
            await _hold(gate, 0, taken, "second")
        await holder
        return taken

    assert asyncio.run(scene()) == ["first"]


def test_a_turn_handed_to_a_waiter_is_not_taken_by_a_newcomer_who_still_times_out() -> None:
    # The moment after a writer finishes, the turn belongs to the one waiting for it. A
    # writer arriving in that moment must queue behind, and its wait must still be
    # bounded: answered busy while the waiter holds the turn, not left waiting on it.
    async def scene() -> list[str]:
        gate = SessionGate(permits=10, one_writer=True, seconds=0.1)
        taken: list[str] = []

        async def first_then_a_newcomer() -> None:
            async with gate.admitted(_request(), writing=True):
                taken.append("first")
                await asyncio.sleep(0.05)
            # Handed to "waiting", which has not run yet: nothing awaited since.
            with pytest.raises(ServiceBusy):
                await _hold(gate, 0, taken, "newcomer")

        first = asyncio.create_task(first_then_a_newcomer())
        await asyncio.sleep(0)
        waiting = asyncio.create_task(_hold(gate, 0.5, taken, "waiting"))
        await asyncio.gather(first, waiting)
        return taken

    assert asyncio.run(scene()) == ["first", "waiting"]
