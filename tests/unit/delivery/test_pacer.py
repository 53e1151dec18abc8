"""The outbox's pacer: a burst up to the limit goes at once, the next send waits for the
window to free, and none goes over the limit in any one second."""

import asyncio

from bots.outbox import Pacer
from tests.fakes import StandingClock as Clock


async def test_a_burst_up_to_the_limit_goes_at_once():
    clock = Clock()
    pacer = Pacer(25, clock=clock)
    async with asyncio.timeout(0.1):  # no waiting at all
        for _ in range(25):
            await pacer.wait()


async def test_the_send_past_the_limit_waits_until_the_window_frees():
    pacer = Pacer(3)
    loop = asyncio.get_running_loop()
    times = []
    for _ in range(7):
        await pacer.wait()
        times.append(loop.time())
    for first, fourth in zip(times, times[3:], strict=False):
        assert fourth - first >= 0.99  # never 4 sends within one second
    assert times[6] - times[0] < 2.5
