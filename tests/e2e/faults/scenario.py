"""One fault test from start to verdict: start the bot, let the citizens write while a
fault plays out, wait until the bot falls quiet, stop it, count and check."""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from tests.e2e.faults.bot import STARTUP_CAP, BotExited, BotProcess
from tests.e2e.faults.database import Stored
from tests.e2e.faults.traffic import Traffic
from tests.e2e.faults.verdict import DUPLICATE_SHARE, Verdict, judge

QUIET = 15.0  # no new bot message for this long, and every question answered: done
# Silent this long with answers missing: done too (a retry may be slow). Raise it with
# DJINN_FAULTS_PATIENCE to see whether a lost answer is only late.
PATIENCE = float(os.environ.get("DJINN_FAULTS_PATIENCE", "60"))
QUIET_CAP = 240.0  # never wait longer than this after the traffic


@dataclass
class Run:
    name: str
    seed: int
    bot: BotProcess
    traffic: Traffic
    stored: Callable[[], Awaitable[Stored]]
    rng: random.Random = field(init=False)  # for the fault's moments, apart from the traffic's
    events: list[str] = field(default_factory=list)
    crashes: list[str] = field(default_factory=list)  # the bot ending without being told to

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed + 1)

    def event(self, text: str) -> None:
        self.events.append(f"{text} @{self.traffic.progress()}")

    async def wait_until(self, moment: float) -> None:
        """Sleep until ``moment`` seconds after the traffic started."""
        await asyncio.sleep(max(0.0, moment - self.traffic.clock()))

    async def kill_and_restart(self) -> None:
        if self.bot.returncode is not None:
            self.crashes.append(f"exit {self.bot.returncode} before a kill")
        await self.bot.kill()
        await self.bot.start()


Fault = Callable[[Run], Awaitable[None]]


@dataclass
class Result:
    verdict: Verdict
    stored: Stored
    exit_code: int | None
    summary: str


async def play(run: Run, fault: Fault | None = None) -> Result:
    started = time.monotonic()
    await run.bot.start()
    await run.bot.wait_ready()
    await _wait_until_connected(run)
    first_poll = time.monotonic() - started
    run.traffic.started_at = time.monotonic()
    traffic = asyncio.create_task(run.traffic.run())
    try:
        if fault is not None:
            await fault(run)
        await traffic
    finally:
        traffic.cancel()
    quiet_after = await _wait_until_quiet(run)
    if run.bot.returncode is not None:
        run.crashes.append(f"exit {run.bot.returncode} before SIGINT")
    exit_code = await run.bot.interrupt()
    verdict = judge(run.traffic.asked, run.traffic.chat)
    stored = await run.stored()
    startups = ", ".join(f"{s:.1f}" for s in run.bot.startup_seconds)
    summary = (
        f"[faults] {run.name}: seed={run.seed} {verdict.line()} {stored.line()} "
        f"faults={len(run.events)} [{'; '.join(run.events)}] crashes={run.crashes} "
        f"startup_s=[{startups}] first_poll={first_poll:.1f}s "
        f"quiet_after={quiet_after:.1f}s exit={exit_code} took={time.monotonic() - started:.0f}s"
    )
    print(summary)
    return Result(verdict, stored, exit_code, summary)


async def _wait_until_connected(run: Run) -> None:
    """Citizens start writing once the bot polls: VK, like the real one, gives a new
    long poll only the events after it connected."""
    deadline = time.monotonic() + STARTUP_CAP
    while not run.traffic.chat.connected():
        if run.bot.returncode is not None or time.monotonic() > deadline:
            raise AssertionError(f"the bot never polled the fake\n{run.bot.tail()}")
        await asyncio.sleep(0.1)


async def _wait_until_quiet(run: Run) -> float:
    """Wait until the running bot is done (see QUIET, PATIENCE); seconds after the traffic."""
    try:
        await run.bot.wait_ready()
    except BotExited as error:
        run.crashes.append(str(error).splitlines()[0])
        return run.traffic.clock()
    chat, deadline = run.traffic.chat, time.monotonic() + QUIET_CAP
    count, changed = chat.sent_count(), time.monotonic()
    while time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        if chat.sent_count() != count:
            count, changed = chat.sent_count(), time.monotonic()
        assert run.bot.ready_at is not None
        silence = time.monotonic() - max(changed, run.bot.ready_at)
        if silence >= PATIENCE or (silence >= QUIET and judge(run.traffic.asked, chat).lost == 0):
            break
    return time.monotonic() - (run.traffic.finished_at or time.monotonic())


def check(run: Run, result: Result, *, in_order: bool = False) -> None:
    """Every question answered once (duplicates under 1 %), nothing left undone."""
    verdict, stored = result.verdict, result.stored
    details = "\n".join([result.summary, *verdict.examples, run.bot.tail()])
    assert verdict.lost == 0, f"{verdict.lost} question(s) never answered\n{details}"
    allowed = DUPLICATE_SHARE * verdict.answers
    assert verdict.duplicates < allowed or verdict.duplicates == 0, (
        f"{verdict.duplicates} duplicate answer(s) of {verdict.answers}\n{details}"
    )
    if in_order:
        assert verdict.out_of_order == 0, f"answers out of order\n{details}"
    assert stored.unanswered == 0, f"inbound texts without a reply row\n{details}"
    assert stored.pending == 0, f"replies left pending\n{details}"
    assert not run.crashes, f"the bot ended by itself: {run.crashes}\n{details}"
    assert result.exit_code == 0, f"the bot did not stop cleanly on SIGINT\n{details}"
