"""SIGKILL at random moments: the bot is killed six times while citizens write, and
restarted at once each time (without waiting for it before the traffic goes on)."""

import asyncio

import pytest

from tests.e2e.faults.scenario import Run, check, play

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300, func_only=True)]
KILLS = 6
SPREAD = 45.0  # citizens start within this many seconds; six kill cycles fit in it
KILL_AFTER_READY = (0.3, 4.0)  # seconds: during catch-up, handling and sending


async def kill_six_times(run: Run) -> None:
    for number in range(1, KILLS + 1):
        await run.bot.wait_ready()
        await asyncio.sleep(run.rng.uniform(*KILL_AFTER_READY))
        run.event(f"kill#{number} pid={run.bot.pid}")
        await run.kill_and_restart()


async def test_no_message_lost_when_the_bot_is_killed(channel, demo_data_dir, make_run):
    run = make_run(channel, demo_data_dir, spread=SPREAD)
    result = await play(run, kill_six_times)
    assert len(run.events) == KILLS, result.summary
    check(run, result)
