"""Throughput of the operators' queue: handoff events from the database through the
Redis streams to a consumer, with SQLite and with PostgreSQL.

    .venv/bin/python -m bench.handoff_queue [--events N] [--conversations N]
        [--rate N] [--seconds S] [--databases sqlite,postgres] [--quick] [--profile DB]
        [--breakdown DB]

Each database is a fresh one of this run's own (a SQLite file in a temporary directory
with ``synchronous=FULL``, as Djinn opens it; a PostgreSQL database
``djinn_bench_<pid>`` on 127.0.0.1:5432, dropped at the end), migrated to head, with
``--conversations`` waiting conversations. The streams are the machine's Redis under a
namespace of the run's own (``bench-<uuid>``, deleted at the end). The handler does
nothing but record the event, so the figures are the queue's own cost: Redis and the
database bookkeeping. Events are ``citizen_message``s spread over the conversations in
turn, one in ten urgent (priority HIGH), stored with ``handoff.events.add_event``.

- relay: ``HandoffRelay.publish()`` of ``--events`` stored events onto the streams.
- consumer alone: one consumer (default ``ConsumerPolicy``) drains those entries.
- relay + 1 consumer / relay + 2 consumers: ``--events`` new stored events, the relay
  (``run``, default interval) and the consumers (two in this process, each with its
  own Redis client) running; from the relay's start until every event is applied, and
  until every entry is acknowledged. A conversation's first entry applies all its
  stored events; its later entries are only acknowledged (without a read when the
  consumer that takes them applied their events itself).
- relay + 1 consumer, 1 event a conversation: the same with one new event for each
  conversation, so that every entry applies one event (the steady state of a queue
  that keeps up).
- latency: one event a commit at ``--rate`` events/s for ``--seconds``, ``relay.wake()``
  after each commit as a bot does, then for half as long without ``wake()`` (the
  relay's interval alone); from the commit to the handler, and to the applied mark
  committed.

At the end every event must have been applied exactly once (handler calls, applied
rows, no duplicates, each conversation's in order); otherwise the run fails.

``--profile DB`` runs cProfile over the relay + 1 consumer stage alone; ``--breakdown DB``
times (process CPU and wall clock) each part of handling one event a conversation with
``concurrency=1``: the batch reads, ``pending()``, ``applied()``, the acknowledgement.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import cProfile
import io
import itertools
import os
import pstats
import random
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
from redis.asyncio import Redis
from sqlalchemy import event as sa_event
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.report import Load, machine, percentiles, table
from core import migrate
from core.db import SessionFactory, create_engine, create_session_factory
from core.domain import Channel, ConversationStatus
from core.models import Citizen, Conversation, HandoffEvent, Identity
from handoff.events import EventKind, HandoffEventRepository, StoredEvent, add_event
from handoff.queue import ConsumerPolicy, Entry, HandoffConsumer, HandoffRelay, HandoffStreams
from handoff.service import Priority

REDIS_URL = "redis://127.0.0.1:6379"
POSTGRES_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
GOAL = 500.0  # handoff events a second through the stream
URGENT_SHARE = 0.1


class Failed(Exception):
    """The queue lost, repeated or reordered an event."""


@dataclass
class Tracker:
    """What the handler and the repository saw, and when."""

    calls: list[StoredEvent] = field(default_factory=list)
    handled_at: dict[int, float] = field(default_factory=dict)
    applied_at: dict[int, float] = field(default_factory=dict)
    committed_at: dict[int, float] = field(default_factory=dict)
    applied: int = 0
    target: int = 0
    finished: float = 0.0  # when the last expected event was marked applied
    done: asyncio.Event = field(default_factory=asyncio.Event)
    # Entries: the relay skips events applied meanwhile (an earlier entry of their
    # conversation took them), so there may be fewer than events.
    published: int = 0
    publishing: int = 0
    acked: int = 0
    empty: asyncio.Event = field(default_factory=asyncio.Event)

    def expect(self, more: int) -> None:
        self.target += more
        self.done.clear()
        self.empty.clear()

    def ack(self, entries: int = 1) -> None:
        self.acked += entries
        self.check()

    def mark(self, event_id: int) -> None:
        self.applied_at[event_id] = time.perf_counter()
        self.applied += 1
        if self.applied >= self.target and not self.done.is_set():
            self.finished = time.perf_counter()
            self.done.set()
        self.check()

    def check(self) -> None:
        """All applied, nothing being published, every entry published acknowledged."""
        if self.done.is_set() and not self.publishing and self.acked >= self.published:
            self.empty.set()


class RecordingHandler:
    """Applies an event by recording it: the queue's own cost, nothing else."""

    def __init__(self, tracker: Tracker) -> None:
        self._tracker = tracker

    async def apply(self, event: StoredEvent) -> None:
        self._tracker.calls.append(event)
        self._tracker.handled_at.setdefault(event.id, time.perf_counter())


class TrackedEvents(HandoffEventRepository):
    """The product's repository; notes each applied mark once it is committed."""

    def __init__(self, sessions: SessionFactory, tracker: Tracker) -> None:
        super().__init__(sessions)
        self._tracker = tracker

    async def applied(self, event_id: int, error: str | None = None) -> bool:
        done = await super().applied(event_id, error)
        if done:
            self._tracker.mark(event_id)
        return done


class TrackedRelay(HandoffRelay):
    """The product's relay; counts the entries it put on the streams."""

    def __init__(self, tracker: Tracker, *args: Any) -> None:
        super().__init__(*args)
        self._tracker = tracker

    async def publish(self) -> int:
        self._tracker.publishing += 1
        try:
            total = await super().publish()
            self._tracker.published += total
            return total
        finally:
            self._tracker.publishing -= 1
            self._tracker.check()


class TrackedConsumer(HandoffConsumer):
    """The product's consumer; notes each entry it acknowledged."""

    def __init__(self, tracker: Tracker, *args: Any) -> None:
        super().__init__(*args)
        self._tracker = tracker

    def acknowledged(self, entries: Sequence[Entry]) -> None:
        self._tracker.ack(len(entries))


class CountingRedis(Redis):
    """Counts round trips to Redis (a pipeline is one)."""

    trips = 0

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        CountingRedis.trips += 1
        return await super().execute_command(*args, **options)

    def pipeline(self, transaction: bool = True, shard_hint: Any = None) -> Any:
        pipe = super().pipeline(transaction, shard_hint)
        execute = pipe.execute

        async def counted(raise_on_error: bool = True) -> Any:
            CountingRedis.trips += 1
            return await execute(raise_on_error)

        pipe.execute = counted  # type: ignore[method-assign]
        return pipe


@dataclass
class Counts:
    """SQL statements and commits on an engine."""

    statements: int = 0
    commits: int = 0

    def watch(self, engine: AsyncEngine) -> None:
        sa_event.listen(engine.sync_engine, "before_cursor_execute", self._statement)
        sa_event.listen(engine.sync_engine, "commit", self._commit)

    def _statement(self, *_: Any) -> None:
        self.statements += 1

    def _commit(self, *_: Any) -> None:
        self.commits += 1


@dataclass
class Stage:
    database: str
    name: str
    events: int
    entries: int  # acknowledged
    seconds: float  # until every event was applied
    drained: float  # until the streams were empty as well
    trips: int
    statements: int
    commits: int
    cpu: float  # this process, in cores
    load: Load

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


@dataclass
class Latency:
    database: str
    name: str
    handled_ms: list[float]
    applied_ms: list[float]
    rate: float
    load: Load


@dataclass
class Bench:
    database: str
    engine: AsyncEngine
    sessions: SessionFactory
    streams: HandoffStreams
    tracker: Tracker
    counts: Counts
    conversations: list[int]
    rng: random.Random
    clients: list[Redis] = field(default_factory=list)

    def events(self) -> TrackedEvents:
        return TrackedEvents(self.sessions, self.tracker)

    def consumer(self, name: str) -> HandoffConsumer:
        client = CountingRedis.from_url(REDIS_URL)
        self.clients.append(client)
        streams = HandoffStreams(client, self.streams.epoch_key.split(":")[0])
        handler = RecordingHandler(self.tracker)
        return TrackedConsumer(self.tracker, streams, self.events(), handler, name)

    def relay(self) -> HandoffRelay:
        return TrackedRelay(self.tracker, self.streams, self.events())

    def priority(self) -> int:
        return int(Priority.HIGH if self.rng.random() < URGENT_SHARE else Priority.NORMAL)

    async def store(self, count: int, per_commit: int = 250) -> None:
        """``count`` events over the conversations in turn, ``per_commit`` a transaction
        (the product commits one with its turn; how they were committed does not matter
        to the stages that find them stored)."""
        turn = itertools.cycle(self.conversations)
        left = count
        while left:
            batch = min(per_commit, left)
            async with self.sessions.begin() as session:
                for _ in range(batch):
                    add_event(
                        session, next(turn), EventKind.CITIZEN_MESSAGE, self.priority(), {"n": 1}
                    )
            left -= batch


@contextlib.asynccontextmanager
async def measuring(
    bench: Bench, name: str, events: int, out: list[Stage], applying: bool = True
) -> AsyncIterator[None]:
    """Times a stage until its events are applied (``applying``) and until it returns;
    the counts and the CPU cover all of it."""
    trips, statements, commits = CountingRedis.trips, bench.counts.statements, bench.counts.commits
    acked = bench.tracker.acked
    own = psutil.Process().cpu_times()
    load = Load()
    started = time.perf_counter()
    with load:
        yield
    drained = time.perf_counter() - started
    seconds = bench.tracker.finished - started if applying else drained
    after = psutil.Process().cpu_times()
    cpu = (after.user + after.system - own.user - own.system) / drained
    out.append(
        Stage(
            bench.database,
            name,
            events,
            bench.tracker.acked - acked,
            seconds,
            drained,
            CountingRedis.trips - trips,
            bench.counts.statements - statements,
            bench.counts.commits - commits,
            cpu,
            load,
        )
    )
    print(table(STAGE_HEADERS, [stage_row(out[-1])]).splitlines()[-1], flush=True)


@contextlib.asynccontextmanager
async def running(*workers: HandoffConsumer | HandoffRelay) -> AsyncIterator[asyncio.Event]:
    stop = asyncio.Event()
    tasks = [asyncio.create_task(worker.run(stop)) for worker in workers]
    try:
        yield stop
    finally:
        stop.set()
        await asyncio.gather(*tasks)


async def all_applied(bench: Bench, seconds: float) -> None:
    """Until every expected event is applied and every entry acknowledged (an entry of a
    conversation whose events an earlier entry applied costs at least an ack)."""
    tracker = bench.tracker
    try:
        await asyncio.wait_for(tracker.done.wait(), seconds)
    except TimeoutError:
        raise Failed(
            f"{bench.database}: {tracker.target - tracker.applied} events "
            f"not applied after {seconds:.0f} s"
        ) from None
    try:
        await asyncio.wait_for(tracker.empty.wait(), seconds)
    except TimeoutError:
        raise Failed(
            f"{bench.database}: {tracker.target - tracker.acked} entries "
            f"not acknowledged after {seconds:.0f} s"
        ) from None


async def throughput(bench: Bench, args: argparse.Namespace, out: list[Stage]) -> None:
    n = args.events
    await bench.store(n)
    bench.tracker.expect(n)
    relay = bench.relay()
    async with measuring(bench, "relay publish", n, out, applying=False):
        published = await relay.publish()
    if published != n:
        raise Failed(f"{bench.database}: the relay published {published} of {n} events")
    async with measuring(bench, "consumer alone (stream filled)", n, out):
        async with running(bench.consumer("alone")):
            await all_applied(bench, args.guard)

    one_each = len(bench.conversations)
    plan = ((1, n, ""), (2, n, ""), (1, one_each, ", 1 event a conversation"))
    for number, (consumers, count, each) in enumerate(plan):
        await bench.store(count)
        bench.tracker.expect(count)
        workers = [bench.consumer(f"c{number}-{k}") for k in range(consumers)]
        name = f"relay + {consumers} consumer{'s' if consumers > 1 else ''}{each}"
        async with running(*workers):
            await asyncio.sleep(0.2)  # the consumers wait on the stream
            async with measuring(bench, name, count, out):
                async with running(bench.relay()):
                    await all_applied(bench, args.guard)


async def latency(bench: Bench, args: argparse.Namespace, wake: bool, seconds: float) -> Latency:
    tracker = bench.tracker
    relay = bench.relay()
    count = int(args.rate * seconds)
    tracker.expect(count)
    ids = []
    load = Load()
    async with running(relay, bench.consumer(f"latency-{wake}")):
        await asyncio.sleep(0.2)
        with load:
            started = time.perf_counter()
            for k in range(count):
                await asyncio.sleep(max(0.0, started + k / args.rate - time.perf_counter()))
                async with bench.sessions.begin() as session:
                    stored = add_event(
                        session,
                        bench.rng.choice(bench.conversations),
                        EventKind.CITIZEN_MESSAGE,
                        bench.priority(),
                        {"n": k},
                    )
                    await session.flush()
                tracker.committed_at[stored.id] = time.perf_counter()
                ids.append(stored.id)
                if wake:
                    relay.wake()
            achieved = count / (time.perf_counter() - started)
            await all_applied(bench, args.guard)
    handled = [(tracker.handled_at[i] - tracker.committed_at[i]) * 1e3 for i in ids]
    applied = [(tracker.applied_at[i] - tracker.committed_at[i]) * 1e3 for i in ids]
    name = "relay.wake() after each commit" if wake else "relay interval alone (no wake)"
    result = Latency(bench.database, name, handled, applied, achieved, load)
    print(table(LATENCY_HEADERS, [latency_row(result)]).splitlines()[-1], flush=True)
    return result


async def verify(bench: Bench) -> list[str]:
    """Every stored event applied exactly once, each conversation's in order."""
    tracker = bench.tracker
    async with bench.sessions() as session:
        stored = int(await session.scalar(select(func.count()).select_from(HandoffEvent)) or 0)
        applied = int(
            await session.scalar(
                select(func.count())
                .select_from(HandoffEvent)
                .where(HandoffEvent.applied_at.is_not(None))
            )
            or 0
        )
    ids = [e.id for e in tracker.calls]
    duplicates = [i for i, n in collections.Counter(ids).items() if n > 1]
    by_conversation: dict[int, list[int]] = collections.defaultdict(list)
    for e in tracker.calls:
        by_conversation[e.conversation_id].append(e.id)
    disordered = [c for c, seen in by_conversation.items() if seen != sorted(seen)]
    backlog = await bench.streams.backlog()
    problems = []
    if not stored == applied == len(ids) == tracker.applied == tracker.target:
        problems.append(
            f"stored {stored}, applied rows {applied}, handler calls {len(ids)}, "
            f"applied marks {tracker.applied}, expected {tracker.target}"
        )
    if duplicates:
        problems.append(f"{len(duplicates)} events applied twice, e.g. {duplicates[:5]}")
    if disordered:
        problems.append(f"{len(disordered)} conversations out of order, e.g. {disordered[:5]}")
    if backlog:
        problems.append(f"{backlog} entries left on the streams")
    print(
        f"{bench.database}: {stored} events stored, {applied} applied rows, {len(ids)} handler "
        f"calls, {len(duplicates)} duplicates, {len(disordered)} conversations out of order, "
        f"{tracker.acked} entries acknowledged, {backlog} left on the streams"
    )
    return problems


async def seed_conversations(sessions: SessionFactory, count: int) -> list[int]:
    async with sessions.begin() as session:
        identities = [
            Identity(
                citizen=Citizen(),
                channel=Channel.TELEGRAM.value,
                external_id=str(9_000_000 + n),
                chat_id=str(9_000_000 + n),
            )
            for n in range(count)
        ]
        session.add_all(identities)
        await session.flush()
        conversations = [
            Conversation(
                identity_id=identity.id,
                channel=Channel.TELEGRAM.value,
                status=ConversationStatus.WAITING.value,
                priority=0,
            )
            for identity in identities
        ]
        session.add_all(conversations)
        await session.flush()
        return [c.id for c in conversations]


@contextlib.asynccontextmanager
async def database(kind: str, work: Path) -> AsyncIterator[tuple[str, str]]:
    """A fresh database of ``kind``: its URL and what to call it in the tables."""
    if kind == "sqlite":
        yield f"sqlite+aiosqlite:///{work / 'djinn.sqlite3'}", "SQLite (synchronous=FULL)"
        return
    import asyncpg

    name = f"djinn_bench_{os.getpid()}"

    async def admin(sql: str) -> str:
        connection = await asyncpg.connect(POSTGRES_ADMIN)
        try:
            await connection.execute(sql)
            return str(await connection.fetchval("SHOW server_version"))
        finally:
            await connection.close()

    version = await admin(f'CREATE DATABASE "{name}"')
    try:
        yield POSTGRES_URL.format(name=name), f"PostgreSQL {version.split()[0]}"
    finally:
        await admin(f'DROP DATABASE "{name}" WITH (FORCE)')


@contextlib.asynccontextmanager
async def bench_on(kind: str, args: argparse.Namespace, work: Path) -> AsyncIterator[Bench]:
    async with database(kind, work) as (url, label):
        engine = create_engine(url)
        client = CountingRedis.from_url(REDIS_URL)
        namespace = f"bench-{uuid.uuid4().hex[:12]}"
        try:
            await migrate.upgrade(engine)
            sessions = create_session_factory(engine)
            counts = Counts()
            counts.watch(engine)
            streams = HandoffStreams(client, namespace)
            await streams.ensure_group()
            conversations = await seed_conversations(sessions, args.conversations)
            bench = Bench(
                label,
                engine,
                sessions,
                streams,
                Tracker(),
                counts,
                conversations,
                random.Random(7),
            )
            try:
                yield bench
            finally:
                for other in bench.clients:
                    await other.aclose()
        finally:
            keys = [key async for key in client.scan_iter(f"{namespace}:*")]
            if keys:
                await client.delete(*keys)
            await client.aclose()
            await engine.dispose()


def stage_row(s: Stage) -> list[Any]:
    per = max(s.events, 1)
    goal = "" if s.name.startswith("relay publish") or "alone" in s.name else "≥ 500: "
    if goal:
        goal += "met" if s.rate >= GOAL else "MISSED"
    return [
        s.database, s.name, f"{s.events:,}", f"{s.seconds:.2f}", f"{s.rate:,.0f}", goal,
        f"{s.drained:.2f}", f"{s.entries:,}",
        f"{s.trips / per:.1f}", f"{s.statements / per:.1f}", f"{s.commits / per:.2f}",
        f"{s.cpu:.2f}", f"{s.load.others:.2f}",
    ]  # fmt: skip


STAGE_HEADERS = [
    "database", "stage", "events", "s until applied", "events/s", "goal",
    "s until streams empty", "entries handled", "Redis round trips / event",
    "SQL statements / event", "commits / event", "this process (cores)", "other load (cores)",
]  # fmt: skip


def latency_row(r: Latency) -> list[Any]:
    h50, h95, h99 = percentiles(r.handled_ms)
    a50, a95, _ = percentiles(r.applied_ms)
    return [
        r.database, r.name, len(r.handled_ms), f"{r.rate:.0f}", f"{h50:.1f}", f"{h95:.1f}",
        f"{h99:.1f}", f"{max(r.handled_ms):.1f}", f"{a50:.1f}", f"{a95:.1f}",
        f"{r.load.others:.2f}",
    ]  # fmt: skip


LATENCY_HEADERS = [
    "database", "relay", "events", "events/s", "commit → handler p50 ms", "p95 ms", "p99 ms",
    "max ms", "commit → applied recorded p50 ms", "p95 ms", "other load (cores)",
]  # fmt: skip


async def run_database(
    kind: str, args: argparse.Namespace, stages: list[Stage], latencies: list[Latency]
) -> list[str]:
    with tempfile.TemporaryDirectory(prefix="djinn-bench-handoff-") as tmp:
        async with bench_on(kind, args, Path(tmp)) as bench:
            await throughput(bench, args, stages)
            latencies.append(await latency(bench, args, wake=True, seconds=args.seconds))
            if not args.no_interval:
                latencies.append(await latency(bench, args, False, seconds=args.seconds / 2))
            return await verify(bench)


async def profile(kind: str, args: argparse.Namespace) -> None:
    """cProfile of the relay + 1 consumer stage alone."""
    with tempfile.TemporaryDirectory(prefix="djinn-bench-handoff-") as tmp:
        async with bench_on(kind, args, Path(tmp)) as bench:
            await bench.store(args.events)
            bench.tracker.expect(args.events)
            consumer = bench.consumer("profiled")
            profiler = cProfile.Profile()
            async with running(consumer):
                await asyncio.sleep(0.2)
                profiler.enable()
                started = time.perf_counter()
                async with running(bench.relay()):
                    await all_applied(bench, args.guard)
                profiler.disable()
            seconds = time.perf_counter() - started
            print(f"{bench.database}: {args.events} events in {seconds:.2f} s under cProfile")
            stats = pstats.Stats(profiler, stream=io.StringIO())
            print(table(["own time in", "s", "share"], by_package(stats)))
            text = io.StringIO()
            pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(30)
            print(text.getvalue())


@dataclass
class Parts:
    """Process CPU and wall clock spent in each timed part, and its calls."""

    cpu: dict[str, float] = field(default_factory=lambda: collections.defaultdict(float))
    wall: dict[str, float] = field(default_factory=lambda: collections.defaultdict(float))
    calls: collections.Counter[str] = field(default_factory=collections.Counter)

    @contextlib.contextmanager
    def timing(self, part: str) -> Iterator[None]:
        cpu, wall = time.process_time(), time.perf_counter()
        try:
            yield
        finally:
            self.cpu[part] += time.process_time() - cpu
            self.wall[part] += time.perf_counter() - wall
            self.calls[part] += 1


class TimedEvents(TrackedEvents):
    def __init__(self, sessions: SessionFactory, tracker: Tracker, parts: Parts) -> None:
        super().__init__(sessions, tracker)
        self._parts = parts

    async def pending(self, conversation_id: int) -> list[StoredEvent]:
        with self._parts.timing("pending() (a session, one SELECT)"):
            return await super().pending(conversation_id)

    async def applied(self, event_id: int, error: str | None = None) -> bool:
        with self._parts.timing("applied() (a transaction, one UPDATE)"):
            return await super().applied(event_id, error)


class TimedConsumer(TrackedConsumer):
    """Times the consumer's parts (its internals: this is a measurement)."""

    def __init__(self, parts: Parts, *args: Any) -> None:
        super().__init__(*args)
        self._parts = parts

    async def _next(self) -> list[Entry]:
        with self._parts.timing("reading a batch"):
            return await super()._next()

    async def _handle_conversation(self, conversation_id: int, entries: list[Entry]) -> bool:
        with self._parts.timing("a conversation, all of it"):
            return await super()._handle_conversation(conversation_id, entries)

    async def _acknowledge(self, entries: list[Entry], release: Any = None) -> None:
        with self._parts.timing("MULTI: XACK, XDEL, lock release"):
            await super()._acknowledge(entries, release)


async def breakdown(kind: str, args: argparse.Namespace) -> None:
    """Each part of handling one event a conversation, one conversation at a time."""
    with tempfile.TemporaryDirectory(prefix="djinn-bench-handoff-") as tmp:
        async with bench_on(kind, args, Path(tmp)) as bench:
            parts = Parts()
            count = len(bench.conversations)
            await bench.store(count)
            bench.tracker.expect(count)
            client = CountingRedis.from_url(REDIS_URL)
            bench.clients.append(client)
            streams = HandoffStreams(client, bench.streams.epoch_key.split(":")[0])
            events = TimedEvents(bench.sessions, bench.tracker, parts)
            handler = RecordingHandler(bench.tracker)
            policy = ConsumerPolicy(concurrency=1)
            consumer = TimedConsumer(
                parts, bench.tracker, streams, events, handler, "timed", policy
            )
            async with running(consumer):
                await asyncio.sleep(0.2)
                parts.cpu.clear()
                parts.wall.clear()
                parts.calls.clear()
                cpu, started = time.process_time(), time.perf_counter()
                async with running(bench.relay()):
                    await all_applied(bench, args.guard)
                cpu, seconds = time.process_time() - cpu, time.perf_counter() - started
            print(
                f"{bench.database}: {count:,} events, one a conversation, concurrency=1: "
                f"{count / seconds:.0f} events/s, this process {cpu / count * 1e3:.2f} ms "
                "of CPU an event (the relay's share included)"
            )
            rows = [
                [
                    part,
                    f"{parts.calls[part] / count:.2f}",
                    f"{parts.cpu[part] / count * 1e3:.2f}",
                    f"{parts.wall[part] / count * 1e3:.2f}",
                ]
                for part in parts.calls
            ]
            headers = ["part", "calls / event", "CPU ms / event", "wall ms / event"]
            print(table(headers, rows))


PACKAGES = ("sqlalchemy", "aiosqlite", "asyncpg", "redis", "asyncio", "greenlet", "handoff")


def by_package(stats: pstats.Stats) -> list[list[Any]]:
    """Own (not cumulative) profiled time by where the code lives; waiting in epoll is
    the event loop idle. Only this thread: aiosqlite runs SQLite in a thread of its own."""
    own: collections.Counter[str] = collections.Counter()
    for (path, _, function), row in stats.stats.items():  # type: ignore[attr-defined]
        if "epoll" in function:
            where = "idle (epoll)"
        elif "_socket.socket" in function:
            where = "socket send/recv"
        else:
            where = next((p for p in PACKAGES if f"/{p}/" in path or p in function), "other")
        own[where] += row[2]
    total = sum(own.values())
    return [[w, f"{t:.1f}", f"{t / total:.0%}"] for w, t in own.most_common()]


async def main_async(args: argparse.Namespace) -> None:
    if args.profile:
        await profile(args.profile, args)
        return
    if args.breakdown:
        await breakdown(args.breakdown, args)
        return
    stages: list[Stage] = []
    latencies: list[Latency] = []
    problems = []
    print(table(STAGE_HEADERS, []), flush=True)
    for kind in args.databases.split(","):
        problems += await run_database(kind.strip(), args, stages, latencies)
    print()
    print(table(STAGE_HEADERS, [stage_row(s) for s in stages]))
    print()
    print(table(LATENCY_HEADERS, [latency_row(r) for r in latencies]))
    print()
    for s in stages:
        print(f"{s.database}, {s.name}: {s.load}")
    for r in latencies:
        print(f"{r.database}, latency, {r.name}: {r.load}")
    if problems:
        raise SystemExit("FAILED: " + "; ".join(problems))
    print("every event applied exactly once, each conversation's in order")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5000, help="per throughput stage")
    parser.add_argument("--conversations", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=100.0, help="events/s, latency stage")
    parser.add_argument(
        "--seconds", type=float, default=10.0, help="of the latency stage (half without wake)"
    )
    parser.add_argument("--databases", default="sqlite,postgres")
    parser.add_argument("--guard", type=float, default=120.0, help="s before giving up")
    parser.add_argument("--no-interval", action="store_true", help="skip the no-wake run")
    parser.add_argument("--quick", action="store_true", help="1,000 events, 200 conversations")
    parser.add_argument("--profile", metavar="DB", help="cProfile relay + 1 consumer on DB")
    parser.add_argument(
        "--breakdown", metavar="DB", help="time each part of one event a conversation on DB"
    )
    args = parser.parse_args()
    if args.quick:
        args.events, args.conversations, args.seconds = 1000, 200, 3.0
    print(machine())
    print(
        f"{args.events:,} events per throughput stage over {args.conversations:,} "
        f"conversations; latency at {args.rate:.0f} events/s for {args.seconds:.0f} s"
    )
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
