"""Message→reply latency through the conversation service, with Rasa in the loop and
without it.

    .venv/bin/python -m bench.dialogue_latency [--citizens N] [--concurrency N] [--quick]

A data directory with the demo FAQ (kept in data/bench/dialogue, built on first use) is
served twice: by the knowledge base alone (``DJINN_RASA=off``), then with Rasa and the
action server started as ``djinn run`` starts them (the model of nlu/ from the hash cache,
trained first if needed). Each simulated citizen writes the same script — a greeting, two
dev-set questions, the start of an appeal, its cancellation, thanks — and every
``ConversationService.handle`` call is timed: storing the message, the dialogue (HTTP to
Rasa, which calls the action server for FAQ answers and the form), storing the replies.
A turn Rasa did not answer in time is answered from the knowledge base and counted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import random
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from bench.devset import load_dev_set
from bench.report import Load, machine, percentiles, table
from bots.app import open_services
from bots.cli.kb import DEMO_FAQ
from core.domain import Channel, IncomingMessage, MessageKind
from core.settings import Settings
from knowledge_base.io import read_entries
from nlu.project import REPOSITORY_DIR, REPOSITORY_MODELS, ModelCache, RasaProject, RasaVenv
from nlu.rasa import RasaHealth
from nlu.servers import RasaServers

DATA_DIR = REPOSITORY_DIR / "data" / "bench" / "dialogue"
GOALS = {"Rasa": 300.0, "knowledge base only": 100.0}  # p95 in ms
SCRIPT = (
    ("greeting", "Здравствуйте!"),
    ("FAQ question", None),
    ("FAQ question", None),
    ("appeal start", "Хочу сообщить о проблеме во дворе"),
    ("cancel", "Отмена"),
    ("thanks", "Спасибо!"),
)


@dataclass
class Run:
    mode: str
    samples: dict[str, list[float]] = field(default_factory=dict)
    fallbacks: int = 0
    load: Load = field(default_factory=Load)

    def all(self) -> list[float]:
        return [ms for values in self.samples.values() for ms in values]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def settings_for(data_dir: Path, rasa: bool) -> Settings:
    values: dict[str, object] = {"data_dir": data_dir, "rasa": rasa, "demo_faq": False}
    if rasa:
        values["rasa_url"] = f"http://127.0.0.1:{free_port()}"
        values["action_server_url"] = f"http://127.0.0.1:{free_port()}"
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


async def prepare(data_dir: Path) -> None:
    """The demo FAQ imported and indexed, once."""
    async with open_services(settings_for(data_dir, False), with_redis=False) as services:
        if not await services.faq_repository.current_version():
            await services.faq_repository.apply_import(read_entries(DEMO_FAQ), source="demo")
        await services.faq.refresh()


def scripts(citizens: int) -> list[list[tuple[str, str]]]:
    questions = [q.text for q in load_dev_set()]
    random.Random(11).shuffle(questions)
    pool = itertools.cycle(questions)
    return [[(kind, text or next(pool)) for kind, text in SCRIPT] for _ in range(citizens)]


async def measure(
    settings: Settings, mode: str, plan: list[list[tuple[str, str]]], concurrency: int
) -> Run:
    run = Run(mode)
    prefix = f"{mode[:4]}-{time.time_ns()}"
    async with open_services(settings, with_redis=False) as services:
        await services.faq.refresh()
        handle = services.conversation.handle
        limit = asyncio.Semaphore(concurrency)

        async def citizen(number: int, turns: list[tuple[str, str]]) -> None:
            async with limit:
                for step, (kind, text) in enumerate(turns):
                    message = IncomingMessage(
                        channel=Channel.TELEGRAM, dedup_key=f"{prefix}-{number}-{step}",
                        user_id=f"{prefix}-{number}", chat_id=f"{prefix}-{number}",
                        kind=MessageKind.TEXT, text=text,
                    )  # fmt: skip
                    started = time.perf_counter()
                    await handle(message)
                    run.samples.setdefault(kind, []).append((time.perf_counter() - started) * 1e3)
                    # Only a failed turn (or a failed health check) switches to the fallback.
                    if getattr(services.dialogue, "degraded", False):
                        run.fallbacks += 1

        await asyncio.gather(*(citizen(0, t) for t in plan[:1]))  # warm-up
        run.samples.clear()
        run.fallbacks = 0
        with run.load:
            await asyncio.gather(*(citizen(n, t) for n, t in enumerate(plan[1:], 1)))
    return run


@contextlib.asynccontextmanager
async def rasa_running(settings: Settings) -> AsyncIterator[None]:
    cache = ModelCache(REPOSITORY_MODELS, RasaProject(), RasaVenv())
    model = cache.ensure(echo=print).path
    async with RasaServers(settings, model):
        health = RasaHealth(settings.rasa_url, settings.action_server_url)
        try:
            await health.wait(600)
        finally:
            await health.aclose()
        yield


def rows(run: Run) -> list[list[object]]:
    p50, p95, p99 = percentiles(run.all())
    goal = GOALS[run.mode]
    verdict = f"≤ {goal:.0f}: {'met' if p95 <= goal else 'MISSED'}"
    out: list[list[object]] = [
        [f"**{run.mode}**", len(run.all()), f"{p50:.0f}", f"{p95:.0f}", f"{p99:.0f}",
         f"{max(run.all()):.0f}", verdict, run.fallbacks, f"{run.load.others:.2f}"],
    ]  # fmt: skip
    for kind, values in run.samples.items():
        k50, k95, k99 = percentiles(values)
        out.append([f"… {kind}", len(values), f"{k50:.0f}", f"{k95:.0f}", f"{k99:.0f}",
                    f"{max(values):.0f}", "", "", ""])  # fmt: skip
    return out


HEADERS = [
    "dialogue", "messages", "p50 ms", "p95 ms", "p99 ms", "max ms", "p95 goal (ms)",
    "answered by the fallback", "other load (cores)",
]  # fmt: skip


async def main_async(args: argparse.Namespace) -> None:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    await prepare(DATA_DIR)
    plan = scripts(args.citizens + 1)
    alone = settings_for(DATA_DIR, False)
    runs = [await measure(alone, "knowledge base only", plan, args.concurrency)]
    with_rasa = settings_for(DATA_DIR, True)
    async with rasa_running(with_rasa):
        runs.append(await measure(with_rasa, "Rasa", plan, args.concurrency))
    print(table(HEADERS, [row for run in runs for row in rows(run)]))
    for run in runs:
        print(f"{run.mode}: {run.load}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--citizens", type=int, default=40, help="each writes 6 messages")
    parser.add_argument("--concurrency", type=int, default=1, help="citizens writing at once")
    parser.add_argument("--quick", action="store_true", help="10 citizens")
    args = parser.parse_args()
    if args.quick:
        args.citizens = 10
    print(machine())
    print(f"{args.citizens} citizens × {len(SCRIPT)} messages, {args.concurrency} at a time")
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
