"""Redis killed (-9) mid-traffic and started again on the same port and directory: no
message is lost, and knowledge-base change notices reach the bot again afterwards."""

import asyncio
import time
from collections.abc import Awaitable, Callable

import pytest

from knowledge_base.notify import CHANNEL as NOTICES
from tests.e2e.faults.bot import run_cli
from tests.e2e.faults.pool import normalized, write_changed_entry
from tests.e2e.faults.redis_server import RedisServer
from tests.e2e.faults.scenario import Run, check, play

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300, func_only=True)]
SPREAD = 30.0
KILL_AT = (8.0, 14.0)  # seconds into the traffic
DOWN_FOR = 5.0
RESUBSCRIBE_CAP = 30.0  # the bot must listen to notices again within this
NEW_ANSWER_CAP = 30.0  # ...and answer with the changed entry within this; the periodic
RELOAD_INTERVAL = "3600"  # reload cannot be what brings it
ASK_EVERY = 3.0


async def wait_for(condition: Callable[[], Awaitable[bool]], cap: float) -> float | None:
    """Seconds until ``condition()`` held, or None after ``cap`` s."""
    started = time.monotonic()
    while time.monotonic() - started < cap:
        if await condition():
            return round(time.monotonic() - started, 1)
        await asyncio.sleep(0.2)
    return None


async def subscribed(server: RedisServer) -> bool:
    return await server.subscribers(NOTICES) >= 1


async def test_no_message_lost_and_kb_notices_resume_when_redis_restarts(
    telegram, demo_data_dir, tmp_path, faq_pool, redis_server, make_run
):
    changed, *traffic_pool = faq_pool  # the traffic never asks the entry that changes
    new_answer = f"{changed.answer} (обновлено)"
    kb_citizen = telegram.chat.first_citizen + 900
    outcome: dict[str, float | None] = {}

    async def new_answer_arrives() -> bool:
        return normalized(new_answer) in map(normalized, telegram.chat.replies(kb_citizen))

    async def restart_redis_then_change_the_kb(run: Run) -> None:
        await run.wait_until(run.rng.uniform(*KILL_AT))
        await redis_server.kill()
        run.event("redis killed")
        await asyncio.sleep(DOWN_FOR)
        await redis_server.start()
        run.event("redis back")
        # Notices are pub/sub: only a bot subscribed again can hear the next one.
        resubscribed = await wait_for(lambda: subscribed(redis_server), RESUBSCRIBE_CAP)
        outcome["resubscribed"] = resubscribed
        run.event(f"bot resubscribed after {resubscribed}s")
        path = tmp_path / "changed.yaml"
        write_changed_entry(path, changed, new_answer)
        output = await run_cli(run.bot.env, "kb", "import", str(path))
        run.event("kb import done" + (", notice sent" if "уведомление" in output else ""))
        started = time.monotonic()
        while time.monotonic() - started < NEW_ANSWER_CAP and not await new_answer_arrives():
            telegram.chat.ask(kb_citizen, changed.texts[0])
            await wait_for(new_answer_arrives, ASK_EVERY)
        arrived = await new_answer_arrives()
        outcome["new_answer"] = round(time.monotonic() - started, 1) if arrived else None
        run.event(f"new answer after {outcome['new_answer']}s")

    run = make_run(
        telegram,
        demo_data_dir,
        spread=SPREAD,
        pool=traffic_pool,
        DJINN_KB_RELOAD_INTERVAL=RELOAD_INTERVAL,
    )
    result = await play(run, restart_redis_then_change_the_kb)
    check(run, result)
    assert outcome["resubscribed"] is not None, f"no notice subscriber\n{result.summary}"
    assert outcome["new_answer"] is not None, f"the changed answer never came\n{result.summary}"
