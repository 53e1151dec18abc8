"""Operator → citizen relay latency: from an operator's message entering the fake Bot
API in a conversation's topic to the fake receiving the bot's sendMessage into the
citizen's chat.

    .venv/bin/python -m bench.operator_relay [--citizens N] [--messages N] [--rate R]

The bot runs in this process as ``djinn bot telegram`` runs it by default: aiogram's
HTTP client polling the fake Bot API on 127.0.0.1 with Telegram's limits (30 messages a
second overall, about 20 a minute into one group), SQLite with synchronous=FULL, the
embedded Redis, the operator group (OPERATOR_CHAT_ID), Rasa off. Each citizen starts a
conversation and is handed to the operators; once every topic has its card, operators
write into the topics round-robin, first at a steady rate, then all at once (a burst).
The path measured: getUpdates → the inbox (stored) → the operator router → the outbox
row committed with the case's figures and audit → the Telegram sender → sendMessage.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bench.report import Load, machine, percentiles, table
from bots.app import open_services
from bots.cli.run import _serve_channels
from core.models import Conversation
from core.settings import Settings
from handoff.service import HandoffService
from tools.fake_telegram import DEFAULT_TOKEN, FakeTelegram

GROUP = -1001000000001
PREFIX = "Ответ оператора №"


async def measure(citizens: int, messages: int, rate: float, burst: int) -> None:
    print(machine())
    sent_at: dict[str, float] = {}
    arrived: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="djinn-relay-") as data:
        async with FakeTelegram() as tg:
            _record_arrivals(tg, arrived)
            tg.operator_group(GROUP)
            settings = Settings(  # type: ignore[call-arg]
                _env_file=None,
                data_dir=Path(data),
                telegram_bot_token=DEFAULT_TOKEN,
                telegram_api_url=tg.api_url,
                operator_chat_id=GROUP,
                demo_faq=False,
                rasa=False,
                metrics_port=0,
                business_hours="24/7",
            )
            async with open_services(settings, with_rasa=False) as services:
                stop = asyncio.Event()
                task = asyncio.create_task(_serve_channels(settings, services, ["telegram"], stop))
                try:
                    threads = await _escalate(tg, services.sessions, services.handoff, citizens)
                    operator = tg.operator(7001, "Оператор", GROUP)
                    steady = await _write(
                        tg, operator, threads, messages, rate, sent_at, arrived, "steady"
                    )
                    bursty = await _write(
                        tg, operator, threads, burst, None, sent_at, arrived, "burst"
                    )
                finally:
                    stop.set()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(task, 30)
    rows = []
    for name, (keys, load) in (("steady", steady), ("burst", bursty)):
        latencies = [(arrived[k] - sent_at[k]) * 1000 for k in keys]
        p50, p95, p99 = percentiles(latencies)
        pace = f"{rate:g}/s" if name == "steady" else "all at once"
        rows.append(
            [f"{name} ({len(keys)} messages, {pace})", f"{p50:.0f}", f"{p95:.0f}",
             f"{p99:.0f}", f"{max(latencies):.0f}", f"{load.others:.2f}"]
        )  # fmt: skip
    print(
        table(
            ["operator → citizen", "p50, ms", "p95, ms", "p99, ms", "max, ms", "other load"],
            rows,
        )
    )


def _record_arrivals(tg: FakeTelegram, arrived: dict[str, float]) -> None:
    """Note when the bot's message with each operator text reaches a citizen's chat."""
    state = tg.state
    original = state.add_message

    def add_message(message: dict[str, Any]) -> dict[str, Any]:
        text = message.get("text") or ""
        if message.get("chat", {}).get("type") == "private" and text.startswith(PREFIX):
            arrived.setdefault(text, time.perf_counter())
        return original(message)

    state.add_message = add_message  # type: ignore[method-assign]


async def _escalate(
    tg: FakeTelegram, sessions: Any, handoff: HandoffService, count: int
) -> list[int]:
    """``count`` citizens start a conversation and wait for an operator; their topics."""
    people = [tg.citizen(1000 + n, f"Гражданин {n}") for n in range(count)]
    for person in people:
        person.send_command("start")
    for person in people:
        await tg.wait_for_messages(person.chat_id, 1, 60)
    async with sessions.begin() as session:
        for conversation in (await session.scalars(select(Conversation.id))).all():
            await handoff.request_operator(session, conversation, "citizen_request")
    await tg.wait_until(
        lambda: (
            len(tg.topics(GROUP)) == count
            and all(len(tg.topic_messages(GROUP, t.thread_id)) >= 1 for t in tg.topics(GROUP))
        ),
        120,
        "every topic with its card",
    )
    return [t.thread_id for t in tg.topics(GROUP)]


async def _write(
    tg: FakeTelegram,
    operator: Any,
    threads: list[int],
    count: int,
    rate: float | None,
    sent_at: dict[str, float],
    arrived: dict[str, float],
    label: str,
) -> tuple[list[str], Load]:
    keys = []
    with Load() as load:
        start = time.perf_counter()
        for n in range(count):
            if rate is not None:
                await asyncio.sleep(max(0.0, start + n / rate - time.perf_counter()))
            text = f"{PREFIX}{label}-{n}"
            sent_at[text] = time.perf_counter()
            operator.write(threads[n % len(threads)], text)
            keys.append(text)
        await tg.wait_until(
            lambda: all(k in arrived for k in keys), 300, f"every {label} message delivered"
        )
    return keys, load


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--citizens", type=int, default=5)
    parser.add_argument("--messages", type=int, default=300, help="steady messages")
    parser.add_argument("--rate", type=float, default=10.0, help="steady messages a second")
    parser.add_argument("--burst", type=int, default=200, help="messages written at once")
    args = parser.parse_args()
    asyncio.run(measure(args.citizens, args.messages, args.rate, args.burst))


if __name__ == "__main__":
    main()
