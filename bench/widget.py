"""The website widget under load: idle sockets held open and message→reply latency.

    .venv/bin/python -m bench.widget [--sockets 5000] [--rate 50] [--seconds 30]
        [--visitors 100] [--quick]

The server is `djinn admin` as a deployment runs it (its own process, uvicorn, SQLite
with ``synchronous=FULL``, the demo FAQ, ``DJINN_RASA=off``), over a fresh copy of a data
directory made once in data/bench/widget. The visitors are real WebSocket clients
(`websockets`) in this process, on 127.0.0.1, so they share the two cores with the
server; their records are made beforehand (a visitor row each and a token signed with
the bench's key), as returning visitors' would be.

1. ``--sockets`` visitors connect (hello with their token, ready with their history)
   and stay idle; the server process's RSS is read before and once they are all open.
2. With those sockets still open, ``--visitors`` of them ask the dev set's questions,
   ``--rate`` messages a second in all for ``--seconds`` (each visitor every
   ``visitors / rate`` seconds: within the limit of 20 a minute, and a reply is back
   before the visitor's next question).
   Latency runs from sending the frame to receiving the bot's reply on the socket:
   the inbox row, the turn (the FAQ search), the outbox row, the push. Replies late
   past the load are waited for (``--drain`` seconds), so a backlog shows in the
   latency; «answered a second» is the rate the replies came at. «of it searching» and
   «search CPU ms a question» are read from the server's metrics
   (``djinn_search_cpu_seconds_total``): the CPU its knowledge-base searches took,
   nearly all of it the query embedding.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import secrets
import shutil
import socket
import sys
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import psutil
from prometheus_client.parser import text_string_to_metric_families
from websockets.asyncio.client import ClientConnection, connect

from bench.devset import load_dev_set
from bench.report import Load, machine, percentiles, table
from bots.app import open_services
from bots.web.tokens import VisitorTokens
from core.models import WebVisitor
from core.settings import Settings
from knowledge_base.io import read_entries

REPOSITORY_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = REPOSITORY_DIR / "data" / "bench" / "widget"
DEMO_FAQ = REPOSITORY_DIR / "knowledge_base" / "demo" / "faq"
ORIGIN = "http://bench.example.ru"
KEY = "bench-widget-signing-key-0123456789"
HEADERS = [
    "widget", "messages", "answered", "answered a second", "p50 ms", "p95 ms", "p99 ms", "max ms",
    "server RSS MiB", "server CPU (cores)", "of it searching (cores)", "search CPU ms a question",
    "other load (cores)",
]  # fmt: skip
# Messages the bot answers without searching the knowledge base: what the channel itself
# costs (sockets, inbox, turn, outbox, push) without the query embedding.
SMALL_TALK = ["Здравствуйте", "Спасибо!", "Добрый день", "Благодарю", "Привет", "спасибо большое"]
GOALS = "5,000 idle sockets under 1 GiB RSS; p95 ≤ 300 ms at 50 messages a second"


def settings_for(data_dir: Path) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None, data_dir=data_dir, rasa=False, calibrate_margin=False, demo_faq=False
    )


async def prepare(data_dir: Path) -> None:
    """The demo FAQ imported and indexed, once."""
    async with open_services(settings_for(data_dir), with_redis=False) as services:
        if not await services.faq_repository.current_version():
            await services.faq_repository.apply_import(read_entries(DEMO_FAQ), source="demo")
        await services.faq.refresh()


async def make_visitors(data_dir: Path, count: int) -> list[str]:
    """``count`` returning visitors: their rows, and a token each."""
    tokens = VisitorTokens(KEY.encode(), 86400.0)
    ids = [tokens.new_visitor() for _ in range(count)]
    async with open_services(settings_for(data_dir), with_redis=False) as services:
        async with services.sessions.begin() as session:
            session.add_all(WebVisitor(id=visitor) for visitor in ids)
    return [tokens.issue(visitor) for visitor in ids]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def raise_file_limit() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


@contextlib.asynccontextmanager
async def server(data_dir: Path, port: int, metrics_port: int) -> AsyncIterator[psutil.Process]:
    env = {
        **os.environ,
        "DJINN_DATA_DIR": str(data_dir),
        "DJINN_RASA": "off",
        "DJINN_DEMO_FAQ": "0",
        "DJINN_CALIBRATE_MARGIN": "off",
        "DJINN_WIDGET_ORIGINS": ORIGIN,
        "DJINN_WIDGET_SECRET": KEY,
        # Every visitor of the bench comes from 127.0.0.1: the limits per address are
        # lifted, the one per visitor kept.
        "DJINN_WIDGET_IP_RATE": "1000000",
        "DJINN_WIDGET_TOKEN_RATE": "1000000",
        "DJINN_LOG_LEVEL": "WARNING",
        "DJINN_METRICS_PORT": str(metrics_port),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bots.cli", "admin", "--port", str(port),
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        preexec_fn=raise_file_limit,
    )  # fmt: skip
    assert process.stdout is not None
    try:
        async with asyncio.timeout(300):
            while b"/widget/demo" not in (line := await process.stdout.readline()):
                if not line:
                    raise RuntimeError("djinn admin exited")
        drain = asyncio.create_task(_drain(process.stdout))
        yield psutil.Process(process.pid)
    finally:
        process.terminate()
        await process.wait()
        with contextlib.suppress(NameError):
            drain.cancel()


async def _drain(stream: asyncio.StreamReader) -> None:
    while await stream.readline():
        pass


@dataclass
class Visitor:
    """One asking socket. A visitor's turns are handled in order and a question of the
    dev set (or small talk) gets one reply, so the replies pair with the questions in
    order."""

    socket: ClientConnection
    asked: deque[float] = field(default_factory=deque)
    latencies: list[float] = field(default_factory=list)
    last_reply: float = 0.0

    async def listen(self) -> None:
        async for raw in self.socket:
            frame = json.loads(raw)
            if frame.get("type") == "message" and frame.get("from") == "bot" and self.asked:
                self.last_reply = time.perf_counter()
                self.latencies.append((self.last_reply - self.asked.popleft()) * 1000)

    async def ask(self, text: str) -> None:
        self.asked.append(time.perf_counter())
        frame = {"type": "message", "id": uuid.uuid4().hex, "text": text, "consent": True}
        await self.socket.send(json.dumps(frame, ensure_ascii=False))


async def open_visitor(url: str, token: str) -> ClientConnection:
    for attempt in range(5):
        try:
            # A browser's WebSocket sends no pings of its own (the server pings it).
            socket = await connect(
                url,
                origin=ORIGIN,  # type: ignore[arg-type]
                open_timeout=60,
                max_queue=4,
                ping_interval=None,
            )
            await socket.send(json.dumps({"type": "hello", "token": token}))
            ready = json.loads(await socket.recv())
            assert ready["type"] == "ready", ready
            return socket
        except OSError:
            await asyncio.sleep(0.5 * (attempt + 1))
    raise RuntimeError("could not connect")


async def open_sockets(url: str, tokens: list[str], at_once: int = 100) -> list[ClientConnection]:
    gate = asyncio.Semaphore(at_once)

    async def one(token: str) -> ClientConnection:
        async with gate:
            return await open_visitor(url, token)

    return list(await asyncio.gather(*(one(t) for t in tokens)))


def rss_mib(process: psutil.Process) -> float:
    return float(process.memory_info().rss) / 2**20


async def main_async(args: argparse.Namespace) -> None:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    template = DATA_DIR / "template"
    await prepare(template)
    work = DATA_DIR / "run"
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(template, work)
    tokens = await make_visitors(work, args.sockets)
    raise_file_limit()
    port, metrics_port = free_port(), free_port()
    url = f"ws://127.0.0.1:{port}/widget/ws"
    metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
    async with server(work, port, metrics_port) as process:
        await asyncio.sleep(2)
        baseline = rss_mib(process)
        started = time.perf_counter()
        sockets = await open_sockets(url, tokens)
        opening = time.perf_counter() - started
        await asyncio.sleep(5)  # idle
        opened = rss_mib(process)
        print(
            f"{len(sockets)} sockets open in {opening:.1f} s; server RSS {baseline:.0f} MiB "
            f"before, {opened:.0f} MiB with them open "
            f"({(opened - baseline) * 1024 / max(len(sockets), 1):.1f} KiB a socket)",
            flush=True,
        )
        visitors = [Visitor(s) for s in sockets[: args.visitors]]
        listeners = [asyncio.create_task(v.listen()) for v in visitors]
        questions = [q.text for q in load_dev_set()] if args.messages == "devset" else SMALL_TALK
        secrets.SystemRandom().shuffle(questions)
        await _load(visitors, questions[:20], rate=10.0)  # warm-up
        await _answered(visitors, 60)
        for visitor in visitors:
            visitor.latencies.clear()
        count = int(args.rate * args.seconds)
        searches_before = await search_totals(metrics_url)
        cpu_before, started = process.cpu_times(), time.perf_counter()
        with Load() as load:
            await _load(visitors, [questions[i % len(questions)] for i in range(count)],
                        args.rate)  # fmt: skip
            await _answered(visitors, args.drain)
        cpu, wall = process.cpu_times(), time.perf_counter() - started
        searches_after = await search_totals(metrics_url)
        searches = searches_after[0] - searches_before[0]
        search_cpu = searches_after[1] - searches_before[1]
        server_cores = (cpu.user + cpu.system - cpu_before.user - cpu_before.system) / wall
        # The server is this process's child: `Load` counts it among the others.
        others = max(0.0, load.others - server_cores)
        loaded = rss_mib(process)
        latencies = [ms for v in visitors for ms in v.latencies]
        last = max(v.last_reply for v in visitors)
        throughput = len(latencies) / (last - started) if last > started else 0.0
        p50, p95, p99 = percentiles(latencies)
        row = [
            f"{args.messages}, {args.rate:g}/s for {args.seconds:g} s, {len(sockets)} sockets",
            count,
            len(latencies),
            f"{throughput:.1f}",
            *(f"{ms:.0f}" for ms in (p50, p95, p99, max(latencies))),
            f"{loaded:.0f}",
            f"{server_cores:.2f}",
            f"{search_cpu / wall:.2f}",
            f"{search_cpu * 1000 / searches:.1f}" if searches else "—",
            f"{others:.2f}",
        ]
        print(table(HEADERS, [row]))
        print(f"load average {load.before:.2f} → {load.after:.2f}")
        for task in listeners:
            task.cancel()
        await asyncio.gather(*(s.close() for s in sockets), return_exceptions=True)
    shutil.rmtree(work, ignore_errors=True)


async def search_totals(metrics_url: str) -> tuple[float, float]:
    """The server's searches and the CPU seconds they took, from its metrics."""
    async with aiohttp.ClientSession() as client, client.get(metrics_url) as response:
        text = await response.text()
    samples = {
        sample.name: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
    return samples["djinn_searches_total"], samples["djinn_search_cpu_seconds_total"]


async def _answered(visitors: list[Visitor], seconds: float) -> None:
    """Wait until every question has its reply, or ``seconds`` passed."""
    deadline = time.perf_counter() + seconds
    while any(v.asked for v in visitors) and time.perf_counter() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.1)  # a look ten times a second costs the measurement nothing


async def _load(visitors: list[Visitor], questions: list[str], rate: float) -> None:
    """``questions`` sent ``rate`` a second, the visitors in turn (open loop: the pace
    does not wait for the replies)."""
    start = time.perf_counter()
    for number, text in enumerate(questions):
        delay = start + number / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        await visitors[number % len(visitors)].ask(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sockets", type=int, default=5000, help="idle sockets held open")
    parser.add_argument("--rate", type=float, default=50.0, help="messages a second")
    parser.add_argument("--seconds", type=float, default=30.0, help="of load")
    # 200 visitors at 50 a second ask every 4 s each: within 20 messages a minute.
    parser.add_argument("--visitors", type=int, default=200, help="of the sockets, asking")
    parser.add_argument(
        "--messages",
        choices=["devset", "smalltalk"],
        default="devset",
        help="the dev set's questions (an FAQ search each) or greetings and thanks (none)",
    )
    parser.add_argument("--drain", type=float, default=90.0, help="s to wait for late replies")
    parser.add_argument("--quick", action="store_true", help="500 sockets, 10 s of load")
    args = parser.parse_args()
    if args.quick:
        args.sockets, args.seconds = 500, 10.0
    args.visitors = min(args.visitors, args.sockets)
    print(machine())
    print(f"goals: {GOALS}")
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
