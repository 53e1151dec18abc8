"""Speed of the supervisors' dashboard (`admin.dashboard`) over a year of traffic, with
SQLite and with PostgreSQL.

    .venv/bin/python -m bench.dashboard [--conversations N] [--repeats N]
        [--databases sqlite,postgres] [--keep DIR] [--reuse DIR]

A year of made-up traffic, the same for both databases (seeded): ``--conversations``
conversations (100k) of about ten messages each (1M), a search-log row for every
question, about one conversation in ten handed to an operator (a handoff case with its
first response, SLA deadline, rating) and a knowledge base of 180 entries in 9
categories. It is written in big batches (``executemany`` on SQLite, ``COPY`` on
PostgreSQL) into a fresh database of each kind migrated to head: a SQLite file
(``synchronous=FULL`` as Djinn opens it, in a temporary directory or ``--keep``) and a
PostgreSQL database ``djinn_bench_dashboard_<pid>`` on 127.0.0.1:5432, dropped at the
end. PostgreSQL is vacuumed and analysed after loading, as its autovacuum would do;
SQLite is not analysed (Djinn never runs ANALYZE on it).

Then the comebacks of the year's questions are settled (``admin.comebacks.settle``, as
the web admin does once when it first starts; PostgreSQL is vacuumed again after it)
and ``dashboard()`` is timed for the last 7 days, the last 30 days and the whole year
(``--repeats`` times each, after one warm-up call), with p50/p95 in milliseconds; the
goal is p95 ≤ 500 ms. The queries of the whole year's dashboard are then timed each
alone, to show where the time goes. ``--keep DIR`` keeps the SQLite file in ``DIR`` and
the PostgreSQL database as ``djinn_bench_dashboard_kept``; ``--reuse DIR`` times those
again instead of generating new ones.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import sqlite3
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bench.report import Load, machine, percentiles, table
from core import migrate
from core.db import create_engine, create_session_factory

POSTGRES_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
GOAL_MS = 500.0
ZONE = ZoneInfo("Europe/Moscow")
CATEGORIES = (
    "ЖКХ",
    "Транспорт",
    "Благоустройство",
    "Социальная поддержка",
    "Образование",
    "Здравоохранение",
    "Документы",
    "Налоги",
    "Обращения",
)
ENTRIES = 180
OPERATORS = 12
GROUPS = ("-1001", "-1002", "-1003")
BATCH = 5_000  # conversations generated and written at a time
KEPT = "djinn_bench_dashboard_kept"  # the PostgreSQL database of --keep and --reuse


@dataclass
class Batch:
    """Rows of some conversations, as tuples in each table's column order."""

    citizens: list[tuple[Any, ...]] = field(default_factory=list)
    identities: list[tuple[Any, ...]] = field(default_factory=list)
    conversations: list[tuple[Any, ...]] = field(default_factory=list)
    messages: list[tuple[Any, ...]] = field(default_factory=list)
    searches: list[tuple[Any, ...]] = field(default_factory=list)
    cases: list[tuple[Any, ...]] = field(default_factory=list)


COLUMNS = {
    "citizens": ("id", "created_at"),
    "identities": (
        "id", "citizen_id", "channel", "external_id", "chat_id", "display_name",
        "created_at", "last_seen_at",
    ),
    "conversations": (
        "id", "identity_id", "channel", "status", "status_reason", "priority",
        "failed_attempts", "created_at", "updated_at", "closed_at",
    ),
    "messages": (
        "id", "conversation_id", "channel", "direction", "kind", "dedup_key", "chat_id",
        "text", "delivery_status", "attempts", "parts_sent", "created_at", "delivered_at",
        "handled_at", "author",
    ),
    "search_log": (
        "id", "conversation_id", "message_id", "part", "channel", "query",
        "normalized_query", "hits", "top_entry_id", "top_score", "decision", "kb_version",
        "feedback",
        "feedback_at", "chosen_entry_id", "created_at",
    ),
    "handoff_cases": (
        "id", "conversation_id", "reason", "priority", "group_chat_id", "requested_at",
        "sla_due_at", "sla_missed_at", "operator_id", "operator_name", "taken_at",
        "first_response_at", "ended_at", "outcome", "reopenings", "csat_score", "csat_at",
    ),
}  # fmt: skip
TABLES = ("citizens", "identities", "conversations", "messages", "search_log", "handoff_cases")


class Traffic:
    """A year of conversations up to ``now``, generated batch by batch (seeded)."""

    def __init__(self, conversations: int, now: datetime, seed: int = 7) -> None:
        self.total = conversations
        self.now = now
        self.first = now - timedelta(days=365)
        self.random = random.Random(seed)
        self.citizens = max(1, conversations * 6 // 10)
        self.next_id = {table: 1 for table in TABLES}
        self.known: set[int] = set()
        self.counts = {table: 0 for table in TABLES}

    def batches(self) -> Iterator[Batch]:
        for begin in range(0, self.total, BATCH):
            batch = Batch()
            for _ in range(min(BATCH, self.total - begin)):
                self._conversation(batch)
            for name, rows in zip(TABLES, _lists(batch), strict=True):
                self.counts[name] += len(rows)
            yield batch

    def _id(self, table: str) -> int:
        value = self.next_id[table]
        self.next_id[table] += 1
        return value

    def _conversation(self, batch: Batch) -> None:
        rnd = self.random
        citizen = rnd.randrange(1, self.citizens + 1)
        channel = "telegram" if citizen % 10 < 7 else "vk"
        started = self.first + timedelta(seconds=rnd.uniform(0, 365 * 86400 - 3600))
        # Daytime traffic: few conversations start at night (Moscow time).
        if started.astimezone(ZONE).hour < 7 and rnd.random() < 0.8:
            started = min(started + timedelta(hours=8), self.now - timedelta(hours=1))
        if citizen not in self.known:
            self.known.add(citizen)
            batch.citizens.append((citizen, started))
            batch.identities.append(
                (citizen, citizen, channel, str(citizen), str(citizen), f"Гражданин {citizen}",
                 started, started)
            )  # fmt: skip
        conversation = self._id("conversations")
        handed = rnd.random() < 0.1
        at = started
        turns = rnd.choice((1, 2, 2, 3, 3, 4, 5))
        for turn in range(turns):
            at = self._turn(batch, conversation, citizen, channel, at)
            if turn == turns - 1:
                break
            at += timedelta(minutes=rnd.expovariate(1 / 3) if rnd.random() < 0.85 else 0)
            at += timedelta(hours=rnd.uniform(2, 120)) if rnd.random() < 0.15 else timedelta()
        if handed:
            at = self._handoff(batch, conversation, citizen, channel, at)
        at = min(at, self.now - timedelta(seconds=1))
        status = "closed" if handed else "bot"
        batch.conversations.append(
            (conversation, citizen, channel, status, "closed_by_operator" if handed else None,
             0, 0, started, at, at if handed else None)
        )  # fmt: skip

    def _message(
        self,
        batch: Batch,
        conversation: int,
        citizen: int,
        channel: str,
        at: datetime,
        direction: str,
        text: str,
        *,
        kind: str = "text",
        author: str | None = None,
    ) -> int:
        message = self._id("messages")
        inbound = direction == "in"
        batch.messages.append(
            (message, conversation, channel, direction, kind,
             f"{citizen}:{message}" if inbound else None, str(citizen), text,
             None if inbound else "sent", 0 if inbound else 1, 0, at,
             None if inbound else at, at if inbound else None, author)
        )  # fmt: skip
        return message

    def _turn(
        self, batch: Batch, conversation: int, citizen: int, channel: str, at: datetime
    ) -> datetime:
        """A question, the bot's reply and perhaps the citizen's verdict; ~4 messages."""
        rnd = self.random
        entry = min(ENTRIES, int(rnd.paretovariate(1.2)))  # a few entries are most asked
        if rnd.random() < 0.3:
            entry = rnd.randrange(1, ENTRIES + 1)
        message = self._message(batch, conversation, citizen, channel, at, "in", "Вопрос")
        parts = (1, 2) if rnd.random() < 0.08 else (0,)
        searched = at + timedelta(milliseconds=300)
        for part in parts:
            roll = rnd.random()
            decision = "answer" if roll < 0.6 else "clarify" if roll < 0.85 else "handoff"
            hits = _hits(entry, rnd)
            chosen = entry if decision == "clarify" and rnd.random() < 0.5 else None
            feedback = None
            if decision == "answer" or chosen is not None:
                verdict = rnd.random()
                feedback = "helped" if verdict < 0.2 else "not_helped" if verdict < 0.3 else None
            search = self._id("search_log")
            query = QUERIES[entry % len(QUERIES)]
            batch.searches.append(
                (search, conversation, message, part, channel, query, query.lower(),
                 json.dumps(hits), hits[0]["id"], 0.9, decision, 1, feedback,
                 searched + timedelta(seconds=30) if feedback else None, chosen, searched)
            )  # fmt: skip
        at += timedelta(seconds=2)
        self._message(batch, conversation, citizen, channel, at, "out", "Ответ")
        if rnd.random() < 0.7:
            at += timedelta(seconds=20)
            self._message(batch, conversation, citizen, channel, at, "in", "👍", kind="button")
            at += timedelta(seconds=1)
            self._message(batch, conversation, citizen, channel, at, "out", "Спасибо")
        return at

    def _handoff(
        self, batch: Batch, conversation: int, citizen: int, channel: str, at: datetime
    ) -> datetime:
        rnd = self.random
        at += timedelta(seconds=30)
        operator = rnd.randrange(1, OPERATORS + 1)
        first = at + timedelta(minutes=rnd.lognormvariate(1.5, 1.0))
        due = at + timedelta(minutes=15)
        ended = first + timedelta(minutes=rnd.uniform(2, 40))
        rated = rnd.random() < 0.5
        batch.cases.append(
            (self._id("handoff_cases"), conversation, "citizen_request", 0,
             GROUPS[operator % len(GROUPS)], at, due, due if first > due else None,
             str(operator), f"Оператор {operator}", first, first, ended, "closed", 0,
             rnd.choice((1, 3, 4, 5, 5, 5)) if rated else None, ended if rated else None)
        )  # fmt: skip
        self._message(batch, conversation, citizen, channel, first, "out", "Здравствуйте",
                      author=f"operator:{operator}")  # fmt: skip
        self._message(batch, conversation, citizen, channel, first + timedelta(minutes=1),
                      "in", "Спасибо")  # fmt: skip
        return ended

    def entries(self) -> list[tuple[Any, ...]]:
        created = self.first - timedelta(days=30)
        return [
            (n, f"e{n:03d}", f"Вопрос {n}", f"Ответ {n}", CATEGORIES[n % len(CATEGORIES)],
             "published", 1, created, created)
            for n in range(1, ENTRIES + 1)
        ]  # fmt: skip


QUERIES = (
    "Как оплатить коммунальные услуги через Госуслуги?",
    "Когда отключат горячую воду на нашей улице",
    "Куда жаловаться на яму во дворе",
    "Какие документы нужны для субсидии на ЖКУ?",
    "Почему не ходит автобус номер 12 по выходным",
)


def _hits(entry: int, rnd: random.Random) -> list[dict[str, Any]]:
    """Five hits as `knowledge_base.search_log.hits_record` stores them."""
    return [
        {
            "id": (entry + k - 1) % ENTRIES + 1,
            "key": f"entry-{(entry + k - 1) % ENTRIES + 1:03d}",
            "score": round(0.95 - k * 0.03 - rnd.random() * 0.01, 4),
            "dense": round(0.9 - k * 0.03, 4),
            "lexical": round(rnd.random() * 0.3, 4),
        }
        for k in range(5)
    ]


def _lists(batch: Batch) -> tuple[list[tuple[Any, ...]], ...]:
    return (
        batch.citizens,
        batch.identities,
        batch.conversations,
        batch.messages,
        batch.searches,
        batch.cases,
    )


ENTRY_COLUMNS = (
    "id", "key", "question", "answer", "category", "status", "version", "created_at",
    "updated_at",
)  # fmt: skip


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, datetime):
        # SQLAlchemy's SQLite storage format: naive UTC with microseconds.
        return f"{value.astimezone(UTC):%Y-%m-%d %H:%M:%S.%f}"
    return value


class SqliteWriter:
    def __init__(self, path: Path) -> None:
        self.connection = sqlite3.connect(path)
        self.connection.execute("PRAGMA synchronous=OFF")

    def write(self, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
        marks = ", ".join("?" * len(columns))
        self.connection.executemany(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",
            [tuple(_sqlite_value(v) for v in row) for row in rows],
        )

    def close(self) -> None:
        self.connection.commit()
        self.connection.close()


class PostgresWriter:
    def __init__(self, connection: Any) -> None:
        self.connection = connection

    async def write(
        self, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]
    ) -> None:
        await self.connection.copy_records_to_table(table, records=rows, columns=list(columns))


async def load(traffic: Traffic, sqlite_path: Path | None, postgres_dsn: str | None) -> float:
    """Write the traffic into the databases given; the seconds it took."""
    import asyncpg

    started = time.perf_counter()
    lite = SqliteWriter(sqlite_path) if sqlite_path is not None else None
    pg = PostgresWriter(await asyncpg.connect(postgres_dsn)) if postgres_dsn else None
    try:
        if lite is not None:
            lite.write("faq_entries", ENTRY_COLUMNS, traffic.entries())
        if pg is not None:
            await pg.write("faq_entries", ENTRY_COLUMNS, traffic.entries())
        for batch in traffic.batches():
            for table, rows in zip(TABLES, _lists(batch), strict=True):
                if lite is not None:
                    lite.write(table, COLUMNS[table], rows)
                if pg is not None:
                    await pg.write(table, COLUMNS[table], rows)
        if pg is not None:
            # What autovacuum does after a bulk load: statistics, and the visibility map
            # that lets PostgreSQL answer from an index alone.
            await pg.connection.execute("VACUUM ANALYZE")
    finally:
        if lite is not None:
            lite.close()
        if pg is not None:
            await pg.connection.close()
    return time.perf_counter() - started


@contextlib.asynccontextmanager
async def postgres_database(name: str, *, keep: bool) -> AsyncIterator[tuple[str, str, str]]:
    """A PostgreSQL database (fresh unless ``keep`` finds it): its SQLAlchemy URL, its
    asyncpg DSN and its label; dropped at the end unless ``keep``."""
    import asyncpg

    async def admin(sql: str | None) -> str:
        connection = await asyncpg.connect(POSTGRES_ADMIN)
        try:
            if sql is not None:
                await connection.execute(sql)
            return str(await connection.fetchval("SHOW server_version"))
        finally:
            await connection.close()

    version = await admin(None if keep else f'CREATE DATABASE "{name}"')
    try:
        dsn = f"postgresql://postgres@127.0.0.1:5432/{name}"
        yield POSTGRES_URL.format(name=name), dsn, f"PostgreSQL {version.split()[0]}"
    finally:
        if not keep:
            await admin(f'DROP DATABASE "{name}" WITH (FORCE)')


async def migrated(url: str) -> None:
    engine = create_engine(url)
    try:
        await migrate.upgrade(engine)
    finally:
        await engine.dispose()


@dataclass
class Timing:
    database: str
    name: str
    samples: list[float]
    # Cores other processes used meanwhile; with PostgreSQL, its server running these
    # queries is one of them.
    others: float


def ranges(now: datetime) -> list[tuple[str, date, date]]:
    tomorrow = now.astimezone(ZONE).date() + timedelta(days=1)
    return [
        ("last 7 days", tomorrow - timedelta(days=7), tomorrow),
        ("last 30 days", tomorrow - timedelta(days=30), tomorrow),
        ("whole year", tomorrow - timedelta(days=366), tomorrow),
    ]


async def time_dashboard(url: str, label: str, now: datetime, repeats: int) -> list[Timing]:
    from admin.comebacks import settle
    from admin.dashboard import dashboard

    engine = create_engine(url)
    sessions = create_session_factory(engine)
    timings = []
    try:
        # What the web admin does once when it first starts over this year of
        # questions; afterwards its job settles a quarter of an hour's at a time.
        began = time.perf_counter()
        settled = await settle(sessions, now)
        seconds = time.perf_counter() - began
        print(f"{label}: {settled:,} questions' comebacks settled in {seconds:.0f} s", flush=True)
        if engine.dialect.name == "postgresql":
            async with engine.connect() as connection:
                # What autovacuum does after the rows changed: the visibility map again.
                raw = await connection.get_raw_connection()
                await raw.driver_connection.execute("VACUUM ANALYZE search_log")
        for name, start, end in ranges(now):
            await dashboard(sessions, start, end, now=now, tz=ZONE)  # warm-up
            samples = []
            with Load() as load_:
                for _ in range(repeats):
                    began = time.perf_counter()
                    await dashboard(sessions, start, end, now=now, tz=ZONE)
                    samples.append((time.perf_counter() - began) * 1000)
            timings.append(Timing(label, name, samples, load_.others))
            p50, p95 = percentiles(samples, (50, 95))
            print(f"{label}: {name}: p50 {p50:.0f} ms, p95 {p95:.0f} ms ({load_})", flush=True)
        await breakdown(sessions, label, now)
    finally:
        await engine.dispose()
    return timings


async def breakdown(sessions: Any, label: str, now: datetime) -> None:
    """Each query of the whole year's dashboard alone, one after another (best of
    three): where the time goes."""
    from admin import dashboard as figures

    _, start, end = ranges(now)[-1]
    year = figures._Period(start, end, ZONE)
    fortnight = figures._Period(end - timedelta(days=14), end, ZONE)
    queries = {
        "messages per day": lambda s: figures._message_days(s, year),
        "conversations": lambda s: figures._conversation_count(s, year),
        "questions and honest rate": lambda s: figures._questions(s, year, now),
        "handoff cases": lambda s: figures._cases(s, year, now),
        "categories": lambda s: figures._categories(s, year),
        "rising topics": lambda s: figures._rising(s, fortnight),
    }
    parts = []
    for name, query in queries.items():
        best = float("inf")
        for _ in range(3):
            began = time.perf_counter()
            await figures._read(sessions, query)
            best = min(best, time.perf_counter() - began)
        parts.append(f"{name} {best * 1000:.0f}")
    print(f"{label}: whole year, each query alone (ms): {', '.join(parts)}", flush=True)


def report(timings: list[Timing], repeats: int) -> str:
    rows = []
    for t in timings:
        p50, p95 = percentiles(t.samples, (50, 95))
        verdict = "met" if p95 <= GOAL_MS else "MISSED"
        rows.append(
            [t.database, t.name, repeats, f"{p50:.0f}", f"{p95:.0f}", f"{max(t.samples):.0f}",
             f"≤ {GOAL_MS:.0f}: {verdict}", f"{t.others:.2f}"]
        )  # fmt: skip
    headers = ["database", "range", "calls", "p50 ms", "p95 ms", "max ms", "goal", "other load"]
    return table(headers, rows)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--databases", default="sqlite,postgres")
    parser.add_argument("--keep", type=Path, help="keep the databases (SQLite file here)")
    parser.add_argument("--reuse", type=Path, help="time the databases an earlier --keep left")
    args = parser.parse_args()
    kinds = args.databases.split(",")
    print(machine(), flush=True)
    kept = args.reuse or args.keep
    name = KEPT if kept is not None else f"djinn_bench_dashboard_{os.getpid()}"
    timings: list[Timing] = []
    with contextlib.ExitStack() as stack:
        work = kept or Path(stack.enter_context(tempfile.TemporaryDirectory()))
        work.mkdir(parents=True, exist_ok=True)
        path = work / "dashboard.sqlite3"
        sqlite_url = f"sqlite+aiosqlite:///{path}" if "sqlite" in kinds else None
        async with contextlib.AsyncExitStack() as databases:
            if args.keep is not None:
                path.unlink(missing_ok=True)
                if "postgres" in kinds:
                    await _recreate(KEPT)
            pg = None
            if "postgres" in kinds:
                pg = await databases.enter_async_context(
                    postgres_database(name, keep=args.reuse is not None or args.keep is not None)
                )
            if args.reuse is not None:
                now = datetime.fromisoformat((work / "now.txt").read_text().strip())
            else:
                now = datetime.now(UTC).replace(microsecond=0)
                (work / "now.txt").write_text(now.isoformat())
                for url in (sqlite_url, pg[0] if pg else None):
                    if url is not None:
                        await migrated(url)
                traffic = Traffic(args.conversations, now)
                seconds = await load(traffic, path if sqlite_url else None, pg[1] if pg else None)
                counts = ", ".join(f"{table} {n:,}" for table, n in traffic.counts.items())
                print(f"generated and written in {seconds:.0f} s: {counts}", flush=True)
            if sqlite_url is not None:
                timings += await time_dashboard(sqlite_url, "SQLite", now, args.repeats)
            if pg is not None:
                timings += await time_dashboard(pg[0], pg[2], now, args.repeats)
    print(report(timings, args.repeats))


async def _recreate(name: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(POSTGRES_ADMIN)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()


if __name__ == "__main__":
    asyncio.run(main())
