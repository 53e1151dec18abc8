"""The dev evaluation set and the demo FAQ, searched the way the bot searches."""

from __future__ import annotations

import glob
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from core.domain import Decision
from knowledge_base.decision import Thresholds, decide
from knowledge_base.embedder import QUERY, Embedder
from knowledge_base.embedding_cache import EmbeddingCache
from knowledge_base.index import FaissFaqIndex, Fusion, Hit, IndexedEntry
from knowledge_base.io import read_entries

ROOT = Path(__file__).resolve().parent.parent
DEMO_FAQ = ROOT / "knowledge_base" / "demo" / "faq"
DEV_DIR = ROOT / "bench" / "data" / "dev"
CACHE = Path(os.environ.get("DJINN_BENCH_CACHE", ROOT / "data" / "bench" / "embeddings.sqlite3"))
SHOWN = 3  # options a clarify question shows


@dataclass(frozen=True, slots=True)
class DevQuestion:
    text: str
    expected: str | None
    style: str
    source: str


def load_dev_set(directory: Path = DEV_DIR) -> list[DevQuestion]:
    questions = []
    for path in sorted(glob.glob(str(directory / "*.yaml"))):
        for item in yaml.safe_load(Path(path).read_text(encoding="utf-8"))["questions"]:
            questions.append(
                DevQuestion(
                    str(item["text"]),
                    item.get("expected"),
                    item.get("style", "plain"),
                    Path(path).stem,
                )
            )
    return questions


def demo_entries() -> list[IndexedEntry]:
    return [
        IndexedEntry(i + 1, d.question, d.answer, d.category, d.key, d.phrasings)
        for i, d in enumerate(read_entries(DEMO_FAQ))
    ]


def build_index(entries: Sequence[IndexedEntry], embedder: Embedder) -> FaissFaqIndex:
    return FaissFaqIndex.build(entries, embedder, version=1, cache=EmbeddingCache(CACHE))


class Searcher:
    """Runs the dev questions against an index, embedding each question once."""

    def __init__(
        self, index: FaissFaqIndex, embedder: Embedder, questions: Sequence[DevQuestion]
    ) -> None:
        self.index = index
        self.questions = list(questions)
        self.prepared = [index.prepare(q.text) for q in self.questions]
        texts = [p or " " for p in self.prepared]
        self.vectors = embedder.encode(texts, prompt_name=QUERY).astype(np.float32)

    def hits(self, fusion: Fusion, top_k: int = 5) -> list[list[Hit]]:
        self.index.fusion = fusion
        return [
            self.index.search_prepared(p, v.reshape(1, -1), top_k) if p else []
            for p, v in zip(self.prepared, self.vectors, strict=True)
        ]


@dataclass
class Outcome:
    """What the bot would do with one dev question and whether that was right."""

    question: DevQuestion
    decision: Decision
    rank: int | None  # 1-based rank of the expected entry among the hits


def outcomes(
    questions: Sequence[DevQuestion], hits: Sequence[list[Hit]], thresholds: Thresholds
) -> list[Outcome]:
    result = []
    for question, found in zip(questions, hits, strict=True):
        keys = [h.entry.key for h in found]
        rank = keys.index(question.expected) + 1 if question.expected in keys else None
        result.append(Outcome(question, decide(found, thresholds), rank))
    return result


def utility(outcome: Outcome) -> float:
    """The value of one decision; see bench/README.md for the reasoning."""
    in_scope = outcome.question.expected is not None
    if outcome.decision == Decision.ANSWER:
        return 1.0 if in_scope and outcome.rank == 1 else -2.0
    if outcome.decision == Decision.CLARIFY:
        shown = in_scope and outcome.rank is not None and outcome.rank <= SHOWN
        return 0.5 if shown else -0.5
    return -0.25 if in_scope else 1.0
