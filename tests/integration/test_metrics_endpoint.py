"""The Prometheus endpoint over HTTP, with the gauges read from a real database."""

import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
import threading
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families

from bots.app import open_services
from core.db import SessionFactory, create_engine, create_session_factory
from core.metrics import Metrics, serve_metrics
from core.models import Citizen, Conversation, Identity, InboxUpdate, Message


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.asynccontextmanager
async def endpoint(
    metrics: Metrics, sessions: SessionFactory, **kwargs
) -> AsyncIterator[tuple[str, asyncio.Task]]:
    port, stop = free_port(), asyncio.Event()
    task = asyncio.create_task(
        serve_metrics(metrics, sessions, host="127.0.0.1", port=port, stop=stop, **kwargs)
    )
    base = f"http://127.0.0.1:{port}"
    await wait_until_healthy(base)
    try:
        yield base, task
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


async def wait_until_healthy(base: str) -> None:
    async with aiohttp.ClientSession() as client, asyncio.timeout(30):
        while True:
            with contextlib.suppress(aiohttp.ClientConnectionError):
                async with client.get(f"{base}/health") as response:
                    if response.status == 200 and await response.text() == "ok":
                        return
            await asyncio.sleep(0.05)


async def scrape(base: str) -> dict[tuple[str, frozenset], float]:
    async with aiohttp.ClientSession() as client, client.get(f"{base}/metrics") as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == CONTENT_TYPE_LATEST
        text = await response.text()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def gauge(found: dict, name: str, **labels: str) -> float:
    return found[(name, frozenset(labels.items()))]


async def add_rows(sessions: SessionFactory, now: datetime) -> None:
    async with sessions.begin() as session:
        conversations = {}
        for channel in ("telegram", "vk"):
            identity = Identity(citizen=Citizen(), channel=channel, external_id="1", chat_id="1")
            session.add(identity)
            await session.flush()
            conversations[channel] = Conversation(
                identity_id=identity.id, channel=channel, status="bot"
            )
            session.add(conversations[channel])
        await session.flush()

        def message(channel: str, direction: str, status: str | None) -> Message:
            return Message(
                conversation_id=conversations[channel].id,
                channel=channel,
                direction=direction,
                kind="text",
                chat_id="1",
                delivery_status=status,
            )

        session.add_all(
            [
                message("telegram", "in", None),
                message("telegram", "out", "pending"),
                message("telegram", "out", "pending"),
                message("telegram", "out", "blocked"),
                message("telegram", "out", "sent"),
                message("vk", "out", "failed"),
                message("vk", "out", "sent"),
            ]
        )

        def update(channel: str, key: str, status: str, age: float) -> InboxUpdate:
            received_at = now - timedelta(seconds=age)
            return InboxUpdate(
                channel=channel, update_key=key, payload={}, status=status, received_at=received_at
            )

        session.add_all(
            [
                update("telegram", "1", "pending", 120),
                update("telegram", "2", "pending", 5),
                update("telegram", "3", "done", 600),
                update("telegram", "4", "quarantined", 900),
                update("vk", "1", "quarantined", 60),
                update("vk", "2", "ignored", 60),
            ]
        )


async def test_gauges_count_the_database_per_channel(sessions):
    now = datetime.now(UTC)
    await add_rows(sessions, now)
    metrics = Metrics()
    metrics.messages_in.labels(channel="telegram").inc()
    async with endpoint(metrics, sessions, rasa_up=lambda: True) as (base, _):
        found = await scrape(base)
    scraped_after = (datetime.now(UTC) - now).total_seconds()

    assert gauge(found, "djinn_database_up") == 1
    assert gauge(found, "djinn_rasa_up") == 1
    assert gauge(found, "djinn_messages_in_total", channel="telegram") == 1
    expected = {
        "djinn_replies_pending": {"telegram": 2, "vk": 0},
        "djinn_replies_blocked": {"telegram": 1, "vk": 0},
        "djinn_replies_given_up": {"telegram": 0, "vk": 1},
        "djinn_inbox_backlog": {"telegram": 2, "vk": 0},
        "djinn_inbox_quarantined": {"telegram": 1, "vk": 1},
    }
    for name, per_channel in expected.items():
        for channel, count in per_channel.items():
            assert gauge(found, name, channel=channel) == count, (name, channel)
    oldest = gauge(found, "djinn_inbox_oldest_pending_seconds", channel="telegram")
    assert 120 <= oldest <= 120 + scraped_after + 1
    assert gauge(found, "djinn_inbox_oldest_pending_seconds", channel="vk") == 0


async def test_gauges_follow_the_database_between_scrapes(sessions):
    metrics = Metrics()
    async with endpoint(metrics, sessions) as (base, _):
        assert gauge(await scrape(base), "djinn_inbox_backlog", channel="vk") == 0
        async with sessions.begin() as session:
            session.add(InboxUpdate(channel="vk", update_key="9", payload={}))
        found = await scrape(base)
    assert gauge(found, "djinn_inbox_backlog", channel="vk") == 1
    assert ("djinn_rasa_up", frozenset()) not in found


@pytest.mark.parametrize("url", ["sqlite", "postgres"])
async def test_an_unreachable_database_still_gets_the_counters(url, tmp_path, caplog):
    urls = {
        "sqlite": f"sqlite+aiosqlite:///{tmp_path / 'missing' / 'djinn.sqlite3'}",
        "postgres": f"postgresql+asyncpg://djinn:secret@127.0.0.1:{free_port()}/djinn",
    }
    engine = create_engine(urls[url])
    metrics = Metrics()
    metrics.messages_out.labels(channel="vk", status="sent").inc()
    threads = set(threading.enumerate())
    try:
        async with endpoint(metrics, create_session_factory(engine), rasa_up=lambda: False) as (
            base,
            _,
        ):
            found = await scrape(base)
            await scrape(base)
    finally:
        await engine.dispose()
        # aiosqlite stops the thread of a connection that failed to open without waiting
        # for it; on a busy machine the thread finishes after this test's event loop
        # closed and fails there. Let it finish while the loop is open.
        for thread in set(threading.enumerate()) - threads:
            if "_connection_worker_thread" in thread.name:
                thread.join(10)
    assert gauge(found, "djinn_database_up") == 0
    assert gauge(found, "djinn_rasa_up") == 0
    assert gauge(found, "djinn_messages_out_total", channel="vk", status="sent") == 1
    assert not [name for name, _ in found if name.startswith(("djinn_replies", "djinn_inbox"))]
    warnings = [r for r in caplog.records if "database does not answer" in r.getMessage()]
    assert len(warnings) == 1  # once when it goes down, not on every scrape


async def test_a_taken_port_is_logged_and_nothing_else_happens(sessions, caplog):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with caplog.at_level(logging.WARNING, logger="core.metrics"):
            await asyncio.wait_for(
                serve_metrics(
                    Metrics(), sessions, host="127.0.0.1", port=port, stop=asyncio.Event()
                ),
                10,
            )
    assert any(f"cannot listen on 127.0.0.1:{port}" in r.getMessage() for r in caplog.records)


async def test_the_knowledge_base_searches_are_counted_as_they_happen(demo_settings, embedder):
    async with (
        open_services(demo_settings, with_redis=False, embedder=embedder) as services,
        endpoint(services.metrics, services.sessions) as (base, _),
    ):
        before = await scrape(base)
        assert gauge(before, "djinn_searches_total") == 0
        assert gauge(before, "djinn_search_cpu_seconds_total") == 0
        await services.faq.search("Как записаться на приём к главе района?")
        await services.faq.search("где получить справку о составе семьи")
        after = await scrape(base)
    assert gauge(after, "djinn_searches_total") == 2
    cpu = gauge(after, "djinn_search_cpu_seconds_total")
    # Two questions embedded on one core: milliseconds each, and never more than the
    # wall time the searches took.
    assert 0.002 < cpu <= gauge(after, "djinn_search_seconds_total")


@contextlib.asynccontextmanager
async def djinn(data_dir: Path, metrics_port: int, *args: str, ready: str) -> AsyncIterator[str]:
    """``djinn ARGS`` in its own process, serving metrics on ``metrics_port``, once it
    printed ``ready``; yields what it printed by then, and stops it with Ctrl+C after."""
    env = {**os.environ, "DJINN_DATA_DIR": str(data_dir), "DJINN_METRICS_PORT": str(metrics_port)}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bots.cli", *args,
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    assert process.stdout is not None
    lines: list[str] = []
    try:
        async with asyncio.timeout(120):
            while not any(ready in line for line in lines):
                line = (await process.stdout.readline()).decode()
                assert line, f"djinn {' '.join(args)} exited:\n" + "".join(lines)
                lines.append(line)
        yield "".join(lines)
        process.send_signal(signal.SIGINT)
        await asyncio.wait_for(process.wait(), 60)
        assert process.returncode == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


@pytest.mark.slow
async def test_djinn_run_serves_metrics(demo_data_dir: Path):
    port = free_port()
    async with djinn(demo_data_dir, port, "run", ready="Djinn работает") as printed:
        assert f"Метрики Prometheus: http://127.0.0.1:{port}/metrics" in printed
        base = f"http://127.0.0.1:{port}"
        await wait_until_healthy(base)
        found = await scrape(base)
    assert gauge(found, "djinn_database_up") == 1
    assert gauge(found, "djinn_inbox_backlog", channel="telegram") == 0
    assert ("djinn_rasa_up", frozenset()) not in found  # DJINN_RASA=off in the tests


@pytest.mark.slow
async def test_djinn_admin_alone_serves_the_metrics_of_its_widget_and_searches(
    demo_data_dir: Path,
):
    port, admin_port = free_port(), free_port()
    async with djinn(
        demo_data_dir, port, "admin", "--port", str(admin_port), ready="/widget/demo"
    ) as printed:
        assert f"Метрики Prometheus: http://127.0.0.1:{port}/metrics" in printed
        base = f"http://127.0.0.1:{port}"
        await wait_until_healthy(base)
        found = await scrape(base)
    assert gauge(found, "djinn_database_up") == 1
    assert gauge(found, "djinn_messages_in_total", channel="web") == 0
    assert gauge(found, "djinn_searches_total") == 0
