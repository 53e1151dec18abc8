"""The answer margin calibrated on the knowledge base itself, without anyone's labels.

How far the best entry must lead the next one before the bot answers outright depends
on the knowledge base: where many entries speak of nearly the same thing (a benefits FAQ
with ten entries on vouchers), a lead that is safe on the demo FAQ answers wrongly. The
knowledge base gives questions whose right entry is known: each entry's question and
phrasings with about two words in five dropped (as citizens shorten them), and the first
words of its answer. These probes are searched like citizens' questions; the margin is the
smallest lead at which the probes answered outright are right at least `PROBE_TARGET` of
the time, never below the margin recorded for the embedder.

Probes are easier than citizens' questions (they reuse the entry's own words), so the
target is set high: on the knowledge bases of `bench/real_sets.py` and the demo FAQ a
probe precision of 98 % corresponds to about 90–95 % for real questions (chosen on the
validation halves; bench/README.md, «Real knowledge bases and questions»).
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from knowledge_base.decision import Thresholds
from knowledge_base.embedder import QUERY, Embedder
from knowledge_base.embedding_cache import EmbeddingCache
from knowledge_base.index import FaissFaqIndex, IndexedEntry

PROBE_TARGET = 0.98
KEEP_WORD = 0.6  # the chance each word of a question survives in a probe
DROPPED_PER_TEXT = 2  # probes made from each question and phrasing
PHRASINGS_USED = 2
ANSWER_WORDS = 12
MARGIN_STEP = 0.0025
MARGIN_LIMIT = 0.1
_SENTENCE_END = re.compile(r"(?<=[.!?])\s")


@dataclass(frozen=True, slots=True)
class Calibration:
    """The margin chosen and what the probes showed at it.

    Attributes:
        margin: The lead the best entry needs for an outright answer.
        probes: Probes searched.
        answered: Share of the probes answered outright at ``margin``.
        precision: Share of those answered right (None when none was).
    """

    margin: float
    probes: int
    answered: float
    precision: float | None


def probes(entries: Sequence[IndexedEntry], seed: int = 0) -> list[tuple[str, int]]:
    """Questions with known entries made from the entries themselves: ``(text, entry
    id)``. The same entries give the same probes."""
    found: list[tuple[str, int]] = []
    for entry in entries:
        rng = random.Random(f"{seed}:{entry.id}:{entry.question}")
        for text in (entry.question, *entry.phrasings[:PHRASINGS_USED]):
            words = text.rstrip("?.! ").split()
            for _ in range(DROPPED_PER_TEXT):
                kept = [w for w in words if rng.random() < KEEP_WORD] or words[:2]
                found.append((" ".join(kept), entry.id))
        sentence = _SENTENCE_END.split(entry.answer.strip(), maxsplit=1)[0]
        found.append((" ".join(sentence.split()[:ANSWER_WORDS]), entry.id))
    return [(text, entry_id) for text, entry_id in found if text.strip()]


def calibrate(
    index: FaissFaqIndex,
    embedder: Embedder,
    thresholds: Thresholds,
    cache: EmbeddingCache | None = None,
) -> Calibration:
    """The margin for ``index``'s knowledge base (see the module's docstring); the
    index's fusion is the one its searches use. ``cache`` keeps the probes' vectors
    for the next version of the knowledge base."""
    made = probes(index.entries)
    prepared = [(index.prepare(text), entry_id) for text, entry_id in made]
    prepared = [(text, entry_id) for text, entry_id in prepared if text]
    if not prepared:
        return Calibration(thresholds.margin, 0, 0.0, None)
    texts = [text for text, _ in prepared]
    vectors = (cache or EmbeddingCache.in_memory()).encode(embedder, texts, QUERY)
    rows = []  # (best score, its lead, right)
    for (text, entry_id), vector in zip(prepared, vectors.astype(np.float32), strict=True):
        hits = index.search_prepared(text, vector.reshape(1, -1), 2)
        if not hits:
            continue
        lead = hits[0].score - (hits[1].score if len(hits) > 1 else 0.0)
        rows.append((hits[0].score, lead, hits[0].entry.id == entry_id))
    found = np.array(rows, dtype=np.float64).reshape(-1, 3)
    confident = found[:, 0] >= thresholds.answer
    margin = thresholds.margin
    while margin < MARGIN_LIMIT:
        chosen = confident & (found[:, 1] >= margin)
        if not chosen.any() or found[chosen, 2].mean() >= PROBE_TARGET:
            break
        margin = round(margin + MARGIN_STEP, 6)
    chosen = confident & (found[:, 1] >= margin)
    precision = float(found[chosen, 2].mean()) if chosen.any() else None
    return Calibration(margin, len(prepared), float(chosen.mean()), precision)
