"""Near-duplicate entries: two entries of a knowledge base that answer the same question.

Such a pair splits the search's score between them (the best entry no longer leads, so
the bot asks «уточните» where one entry would have been answered), and the two answers
drift apart as editors change one of them. They are found by meaning, not by text: two
entries are near-duplicates when both their questions and their answers are close (cosine
of the embeddings at least `QUESTION_SIMILARITY` and `ANSWER_SIMILARITY`). Identical
answers in one table are merged already by the import; this finds the rest, to show to the
editor, who decides.

The thresholds were set by reading the closest pairs of two knowledge bases: in the rzd
benefits FAQ (bench/data/real) the pairs above them are the same question asked twice
(overtime pay «в выходные и праздничные дни» and «в выходные дни в командировке» with one
answer; the two entries on travel allowances); in the demo FAQ the closest pairs are
neighbours that differ and stay below (the first passport at 14 and its replacement at
20 or 45: answers at 0.961; a passport for an adult and for a child: 0.943).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from knowledge_base.embedder import PASSAGE, QUERY, Embedder
from knowledge_base.embedding_cache import EmbeddingCache
from knowledge_base.index import IndexedEntry

QUESTION_SIMILARITY = 0.85
ANSWER_SIMILARITY = 0.965


@dataclass(frozen=True, slots=True)
class NearDuplicate:
    first: IndexedEntry
    second: IndexedEntry
    questions: float  # cosine similarity of the questions
    answers: float  # of the answers


def near_duplicates(
    entries: Sequence[IndexedEntry], embedder: Embedder, cache: EmbeddingCache | None = None
) -> list[NearDuplicate]:
    """Pairs of near-duplicate entries, the closest first."""
    if len(entries) < 2:
        return []
    cache = cache or EmbeddingCache.in_memory()
    questions = _unit(cache.encode(embedder, [e.question for e in entries], QUERY))
    answers = _unit(cache.encode(embedder, [e.answer for e in entries], PASSAGE))
    close_questions = questions @ questions.T
    close_answers = answers @ answers.T
    pairs = np.argwhere(
        np.triu(
            (close_questions >= QUESTION_SIMILARITY) & (close_answers >= ANSWER_SIMILARITY), k=1
        )
    )
    found = [
        NearDuplicate(
            entries[i], entries[j], float(close_questions[i, j]), float(close_answers[i, j])
        )
        for i, j in pairs
    ]
    return sorted(found, key=lambda d: -(d.questions + d.answers))


def _unit(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
