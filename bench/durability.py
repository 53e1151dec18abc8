"""What durability costs: message→reply latency through the whole Telegram channel with
SQLite's synchronous=FULL against NORMAL, the commits a message takes, and the window in
which a crash makes Telegram send a reply twice.

    .venv/bin/python -m bench.durability [--citizens N] [--questions N] [--quick]

The bot runs in this process as ``djinn bot telegram`` runs it (aiogram's HTTP client,
polling, the inbox worker, the outbox sender, the real conversation service with the
demo FAQ, Rasa off) against the fake Bot API on 127.0.0.1, once per setting, each over a
fresh copy of a data directory with the demo FAQ (data/bench/durability). Citizens
write one question at a time and wait for its answer.

- Latency: from the citizen's update entering the fake Bot API to the fake receiving the
  bot's sendMessage for that chat.
- Commits: SQLite transactions committed per message (inbox, turn, outbox, delivery).
- Duplicate window: Telegram has no idempotency key, so a reply whose sendMessage Telegram
  accepted but whose delivery was not yet committed is sent again after a crash. The
  window runs from the fake receiving sendMessage to the commit that records it; a kill
  at a random moment of the run lands in one with probability (sum of windows) / (run).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import random
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import event

from bench.devset import load_dev_set
from bench.dialogue_latency import prepare
from bench.report import Load, machine, percentiles, table
from bots.app import open_services
from bots.telegram.runner import run_telegram
from core.outbox import OutboxRepository
from core.settings import Settings
from nlu.project import REPOSITORY_DIR
from tools.fake_telegram import DEFAULT_TOKEN, FakeTelegram

DATA_DIR = REPOSITORY_DIR / "data" / "bench" / "durability"


@dataclass
class Run:
    synchronous: str
    latency_ms: list[float] = field(default_factory=list)
    dialogue_ms: list[float] = field(default_factory=list)
    windows_ms: list[float] = field(default_factory=list)
    commits: int = 0
    messages: int = 0
    elapsed: float = 0.0
    load: Load = field(default_factory=Load)


def questions(count: int) -> list[str]:
    texts = [q.text for q in load_dev_set() if q.expected]
    random.Random(7).shuffle(texts)
    return list(itertools.islice(itertools.cycle(texts), count))


async def measure(synchronous: str, plan: list[list[str]], work: Path) -> Run:
    run = Run(synchronous)
    data_dir = work / synchronous.lower()
    shutil.rmtree(data_dir, ignore_errors=True)
    shutil.copytree(DATA_DIR, data_dir)
    async with FakeTelegram() as tg:
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None,
            data_dir=data_dir,
            rasa=False,
            demo_faq=False,
            sqlite_synchronous=synchronous,
            telegram_bot_token=DEFAULT_TOKEN,
            telegram_api_url=tg.api_url,
        )
        async with open_services(settings, with_redis=False) as services:
            await services.faq.refresh()
            event.listen(services.engine.sync_engine, "commit", lambda *_: _count(run))
            recorded = _timed_deliveries(services.outbox)
            _time_the_dialogue(services.dialogue, run)
            stop = asyncio.Event()
            channel = run_telegram(
                settings, services.conversation, services.inbox, services.outbox, stop
            )
            bot = asyncio.create_task(channel)
            await tg.wait_for_request("getUpdates", timeout=60)
            await _chat(tg, 0, plan[0], Run("warm-up"))  # the first turn loads everything
            run.commits, run.dialogue_ms = 0, []
            started = time.perf_counter()
            with run.load:
                await asyncio.gather(*(_chat(tg, n, qs, run) for n, qs in enumerate(plan[1:], 1)))
            run.elapsed = time.perf_counter() - started
            stop.set()
            await bot
        run.windows_ms = _windows(tg, recorded)
    return run


def _count(run: Run) -> None:
    run.commits += 1


def _time_the_dialogue(dialogue: Any, run: Run) -> None:
    """The dialogue's share of each turn (the knowledge-base search), to tell it apart
    from what storing, leasing and delivering add."""
    respond = dialogue.respond

    async def timed(turn: Any) -> Any:
        started = time.perf_counter()
        try:
            return await respond(turn)
        finally:
            run.dialogue_ms.append((time.perf_counter() - started) * 1e3)

    dialogue.respond = timed


def _timed_deliveries(outbox: OutboxRepository) -> list[tuple[int, float]]:
    """Wraps the outbox so that each delivery's commit is timed: (outbox id, when)."""
    recorded: list[tuple[int, float]] = []
    delivered = outbox.delivered

    async def timed(outbox_id: int, external_id: str | None, parts: int) -> None:
        await delivered(outbox_id, external_id, parts)
        recorded.append((outbox_id, time.time()))

    outbox.delivered = timed  # type: ignore[method-assign]
    return recorded


async def _chat(tg: FakeTelegram, number: int, texts: list[str], run: Run) -> None:
    citizen = tg.citizen(700_000 + number)
    for count, text in enumerate(texts, 1):
        sent = time.time()
        citizen.send_text(text)
        await tg.wait_for_messages(citizen.chat_id, count, timeout=60)
        answered = _send_times(tg, citizen.chat_id)[count - 1]
        run.latency_ms.append((answered - sent) * 1e3)
        run.messages += 1


def _send_times(tg: FakeTelegram, chat_id: int) -> list[float]:
    return [
        r.at
        for r in tg.requests("sendMessage")
        if r.params.get("chat_id") == chat_id and r.status == 200
    ]


def _windows(tg: FakeTelegram, recorded: list[tuple[int, float]]) -> list[float]:
    """Per delivered reply: its accepted sendMessage → its delivery committed. Replies go
    out one at a time per chat, so the n-th send matches the n-th commit after it."""
    sends = sorted(r.at for r in tg.requests("sendMessage") if r.status == 200)
    commits = sorted(at for _, at in recorded)
    windows = []
    for send in sends:
        after = next((c for c in commits if c >= send), None)
        if after is not None:
            commits.remove(after)
            windows.append((after - send) * 1e3)
    return windows


def rows(run: Run) -> list[Any]:
    p50, p95, p99 = percentiles(run.latency_ms)
    d50, _, _ = percentiles(run.dialogue_ms)
    w50, w95, _ = percentiles(run.windows_ms)
    # Windows of different chats overlap: this is the mean number of replies inside one.
    exposed = sum(run.windows_ms) / 1e3 / run.elapsed if run.elapsed else 0.0
    return [
        f"synchronous={run.synchronous}", run.messages, f"{p50:.0f}", f"{p95:.0f}",
        f"{p99:.0f}", f"{d50:.0f}", f"{p50 - d50:.0f}",
        f"{run.commits / max(run.messages, 1):.1f}", f"{w50:.1f}", f"{w95:.1f}",
        f"{max(run.windows_ms):.1f}", f"{exposed:.3f}", f"{run.load.others:.2f}",
    ]  # fmt: skip


HEADERS = [
    "SQLite", "messages", "p50 ms", "p95 ms", "p99 ms", "search p50 ms",
    "p50 − search (store, lease, send) ms", "commits / message", "duplicate window p50 ms",
    "p95 ms", "max ms", "replies in a window at a random moment", "other load (cores)",
]  # fmt: skip


async def main_async(args: argparse.Namespace) -> None:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    await prepare(DATA_DIR)
    pool = iter(questions((args.citizens + 1) * args.questions))
    plan = [[next(pool) for _ in range(args.questions)] for _ in range(args.citizens + 1)]
    work = DATA_DIR.parent / "durability-runs"
    runs = []
    for synchronous in ("FULL", "NORMAL", "FULL", "NORMAL")[: args.rounds * 2]:
        runs.append(await measure(synchronous, plan, work))
        print(table(HEADERS, [rows(runs[-1])]).splitlines()[-1], flush=True)
    print(table(HEADERS, [rows(run) for run in runs]))
    for run in runs:
        print(f"synchronous={run.synchronous}: {run.load}")
    shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--citizens", type=int, default=1, help="writing at the same time")
    parser.add_argument("--questions", type=int, default=60, help="each citizen asks")
    parser.add_argument("--rounds", type=int, default=2, help="FULL then NORMAL, this often")
    parser.add_argument("--quick", action="store_true", help="one citizen, 10 questions, once")
    args = parser.parse_args()
    if args.quick:
        args.citizens, args.questions, args.rounds = 1, 10, 1
    print(machine())
    print(f"{args.citizens} citizens × {args.questions} questions, one at a time each")
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
