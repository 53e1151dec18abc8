"""A one-minute Telegram outage: every Bot API method answers 502 for 60 s while
citizens keep writing; afterwards every reply arrives, in each citizen's order.

The outage begins just as the bot acknowledged a batch of updates (its next getUpdates
asks for a higher offset), so the replies to that batch are in flight and meet the
outage too, not only the updates that queue up while Telegram is down."""

import asyncio

import pytest

from tests.e2e.faults.scenario import Run, check, play
from tools.fake_telegram import FakeTelegram

pytestmark = [pytest.mark.slow, pytest.mark.timeout(360, func_only=True)]
OUTAGE = 60.0
OUTAGE_AT = (8.0, 14.0)  # seconds into the traffic
BATCH_CAP = 30.0  # the bot takes some update within this while citizens write
SPREAD = 45.0  # citizens start within this many seconds: most write during the outage


def acknowledged(fake: FakeTelegram) -> int:
    """The highest offset the bot has asked getUpdates for."""
    return max((int(r.params.get("offset") or 0) for r in fake.requests("getUpdates")), default=0)


async def test_every_reply_arrives_in_order_after_a_telegram_outage(
    telegram, demo_data_dir, make_run
):
    fake: FakeTelegram = telegram.fake

    async def down_for_a_minute(run: Run) -> None:
        await run.wait_until(run.rng.uniform(*OUTAGE_AT))
        taken = acknowledged(fake)
        await fake.wait_until(lambda: acknowledged(fake) > taken, BATCH_CAP)
        fake.outage(status=502)
        run.event(f"outage 502 for {OUTAGE:.0f}s")
        await asyncio.sleep(OUTAGE)
        fake.restore()
        run.event("restored")

    run = make_run(telegram, demo_data_dir, spread=SPREAD)
    result = await play(run, down_for_a_minute)
    check(run, result, in_order=True)
