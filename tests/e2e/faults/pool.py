"""Questions from the demo FAQ that the bot answers with their own entry's answer,
far enough from the decision thresholds that the bot process decides alike."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bots.app import open_services
from core.domain import Decision
from knowledge_base.drafts import EntryDraft
from knowledge_base.embedder import Embedder
from knowledge_base.io import read_entries
from knowledge_base.normalize import small_talk
from knowledge_base.search import FaqSearchService
from tests.conftest import DEMO_FAQ, make_settings

# The pool is chosen with a one-thread embedder; the bot uses its default threads.
SCORE_SAFETY = 0.02
POOL_SIZE = 36


@dataclass(frozen=True, slots=True)
class Question:
    key: str
    text: str
    answer: str


@dataclass(frozen=True, slots=True)
class PoolEntry:
    draft: EntryDraft
    answer: str  # as the loaded index holds it, i.e. as the bot sends it
    texts: tuple[str, ...]  # the question and phrasings answered with this entry

    @property
    def key(self) -> str:
        assert self.draft.key is not None
        return self.draft.key

    def question(self, text: str) -> Question:
        return Question(self.key, text, self.answer)


def normalized(text: str) -> str:
    return " ".join(text.split())


async def answerable_entries(
    data_dir: Path, embedder: Embedder, *, wanted: int = POOL_SIZE
) -> list[PoolEntry]:
    """Up to ``wanted`` demo entries whose question or first phrasing the search answers
    with that entry, each answer distinct from every other (a reply names its question).

    Entries are taken from every category in turn, so the pool is varied.
    """
    drafts = _round_robin([d for d in read_entries(DEMO_FAQ) if d.key])
    answers = {normalized(d.answer) for d in drafts}
    pool: list[PoolEntry] = []
    settings = make_settings(data_dir)
    async with open_services(settings, with_redis=False, embedder=embedder, with_rasa=False) as s:
        for draft in drafts:
            if len(pool) == wanted:
                break
            if not _distinct(normalized(draft.answer), answers):
                continue
            texts, answer = [], None
            for text in (draft.question, *draft.phrasings[:1]):
                found = await _answer_for(s.faq, draft.key, text)
                if found is not None:
                    texts.append(text)
                    answer = found
            if answer is not None:
                pool.append(PoolEntry(draft, answer, tuple(texts)))
    return pool


async def _answer_for(faq: FaqSearchService, key: str | None, text: str) -> str | None:
    """The answer the bot gives to ``text``, if it is entry ``key``'s, safely decided."""
    if small_talk(text) is not None:
        return None
    result = await faq.search(text)
    hits, limits = result.hits, faq.thresholds
    runner_up = hits[1].score if len(hits) > 1 else 0.0
    if (
        result.decision == Decision.ANSWER
        and hits[0].entry.key == key
        and hits[0].score >= limits.answer + SCORE_SAFETY
        and hits[0].score - runner_up >= limits.margin + SCORE_SAFETY
    ):
        return hits[0].entry.answer
    return None


def _round_robin(drafts: list[EntryDraft]) -> list[EntryDraft]:
    by_category: dict[str | None, list[EntryDraft]] = {}
    for draft in drafts:
        by_category.setdefault(draft.category, []).append(draft)
    rows = itertools.zip_longest(*by_category.values())
    return [draft for row in rows for draft in row if draft is not None]


def _distinct(answer: str, answers: set[str]) -> bool:
    """No other answer equals, begins with or is the beginning of ``answer``."""
    return not any(a != answer and (a.startswith(answer) or answer.startswith(a)) for a in answers)


def write_changed_entry(path: Path, entry: PoolEntry, answer: str) -> None:
    """A YAML import file that changes only ``entry``'s answer (matched by its key)."""
    draft = entry.draft
    record: dict[str, Any] = {
        "key": draft.key,
        "category": draft.category,
        "question": draft.question,
        "phrasings": list(draft.phrasings),
        "answer": answer,
    }
    document = {"format": "djinn-faq/1", "entries": [record]}
    path.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), "utf-8")
