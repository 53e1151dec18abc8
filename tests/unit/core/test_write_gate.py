"""The write gate: one holder at a time, urgent waiters first, then arrival order, and a
waiter that gives up does not keep the gate."""

import asyncio

import pytest

from core.write_gate import NORMAL, URGENT, WriteGate


async def test_waiters_go_urgent_first_then_in_arrival_order():
    gate, order = WriteGate(), []
    release = asyncio.Event()

    async def holder() -> None:
        async with gate.hold():
            await release.wait()

    async def writer(name: str, priority: int) -> None:
        async with gate.hold(priority):
            order.append(name)

    first = asyncio.create_task(holder())
    await asyncio.sleep(0)
    waiters = [
        asyncio.create_task(writer("turn 1", NORMAL)),
        asyncio.create_task(writer("turn 2", NORMAL)),
        asyncio.create_task(writer("delivery", URGENT)),
    ]
    await asyncio.sleep(0)
    release.set()
    await asyncio.gather(first, *waiters)
    assert order == ["delivery", "turn 1", "turn 2"]


async def test_a_cancelled_waiter_does_not_keep_the_gate():
    gate = WriteGate()
    release = asyncio.Event()

    async def holder() -> None:
        async with gate.hold():
            await release.wait()

    first = asyncio.create_task(holder())
    await asyncio.sleep(0)
    impatient = asyncio.create_task(gate.hold().__aenter__())
    await asyncio.sleep(0)
    impatient.cancel()
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await impatient
    await first
    async with asyncio.timeout(1), gate.hold():  # free again
        pass
