"""Knowledge gaps: what citizens asked that the knowledge base did not answer, grouped by
meaning, for the editors' page «Пробелы базы знаний».

A question is a gap (`GapQuestion`, read from the search log) when

* the bot found nothing to answer or offer (``unanswered``: the hand-off decision);
* the citizen pressed «Не помогло» under the bot's reply (``not_helped``);
* an operator had to handle it (``operator``): the citizen asked for an operator under
  the reply, or it was the citizen's last question before a hand-off, found as learning
  from use finds the question an operator answered (`knowledge_base.learning`); the
  operator's answer is the longest of their first replies in that stay with the
  operators (the others are greetings and «минутку»).

A question gives one reason, the first that holds in that order of preference: operator,
not_helped, unanswered. A question the citizen marked «Помогло» is never a gap.

The questions are embedded as searched (cleaned) and grouped by average-linkage
agglomerative clustering on cosine distance, cut at `DISTANCE`. It was chosen by
`bench/gaps.py` on the validation half of rzd-hr-faq (people's paraphrases grouped by the
entry they ask about, plain and made messy): mean B-cubed F1 is flat from 0.085 to 0.11
while precision falls, and a mixed group misleads more than a split one (its draft gets a
wrong title and answer), so the precise end of the plateau. bench/README.md, «Knowledge
gaps», reports the test half. Groups are ordered by distinct citizens, then questions,
then the newest: one citizen asking the same thing five times is one citizen.

Questions the knowledge base covers since they were asked are left out: a question is
covered when the closest of the published entries' texts (questions, phrasings, active
learned phrasings) is within `DISTANCE` of it, so that it would join that text's group,
and that entry changed after the question was asked (created, edited or published, or
given that learned phrasing then). So a group turned into an entry leaves the page once
the entry is published, and comes back only with questions asked after that: evidence
that the entry does not cover them yet. Questions near an entry that has not changed
since stay: the entry did not help them. ``include_covered`` shows everything.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import numpy as np
from sklearn.cluster import AgglomerativeClustering
from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import SessionFactory
from core.domain import Decision, Feedback, LearnedStatus
from core.models import (
    Conversation,
    FaqEntry,
    HandoffCase,
    Identity,
    LearnedPhrasing,
    Message,
    SearchLog,
    as_utc,
)
from knowledge_base.drafts import EntryDraft, EntryStatus
from knowledge_base.embedder import QUERY, Embedder
from knowledge_base.embedding_cache import EmbeddingCache
from knowledge_base.io.records import MAX_QUESTION
from knowledge_base.learning import OPERATOR
from knowledge_base.normalize import clean, strip_invisible, tidy

# Average cosine distance below which groups of questions merge (see the docstring).
DISTANCE = 0.085
# Operator replies looked at for the answer, as learning from use does.
OPERATOR_REPLIES = 3
EXAMPLES = 5
PHRASINGS = 8
# Longer texts are stories, not phrasings or titles.
PHRASING_LIMIT = 200
# The newest gap questions clustered at most: time and memory grow with its square.
MAX_QUESTIONS = 3000
# Entry texts compared with the questions at a time, to bound the memory.
CHUNK = 4096


class Why(StrEnum):
    """Why a question is a gap."""

    UNANSWERED = "unanswered"
    NOT_HELPED = "not_helped"
    OPERATOR = "operator"


@dataclass(frozen=True, slots=True)
class GapQuestion:
    """One question the knowledge base did not answer.

    Attributes:
        id: Its search-log row.
        message_id: The citizen's message (None when it was deleted).
        text: What the citizen wrote, without greetings, links and decorations.
        searched: The text as searched (cleaned), which is what is compared.
        asked_at: When it was asked (UTC).
        channel: The channel it came from.
        conversation_id: The conversation, for its transcript.
        citizen_id: Who asked.
        why: See `Why`.
        operator_answer: What the operator answered, when one did.
    """

    id: int
    message_id: int | None
    text: str
    searched: str
    asked_at: datetime
    channel: str | None
    conversation_id: int
    citizen_id: int
    why: Why
    operator_answer: str | None = None


@dataclass(frozen=True, slots=True)
class NearestEntry:
    """The FAQ entry closest to a group of questions.

    Attributes:
        id: The entry.
        question: Its question.
        status: Published or draft (a draft may have been made from this group).
        score: Mean over the group's texts of the cosine to the entry's closest text.
    """

    id: int
    question: str
    status: str
    score: float

    @property
    def same_question(self) -> bool:
        """The group asks the entry's question: add phrasings to it, not a new entry."""
        return self.score >= 1.0 - DISTANCE


@dataclass(frozen=True, slots=True)
class GapCluster:
    """Questions that mean nearly the same.

    Attributes:
        key: Its smallest question id: stable while that question stays in it, for URLs.
        title: The most central question (not a long story when there are others).
        questions: Every question, newest first.
        size: How many questions.
        citizens: How many different citizens asked.
        first_seen: The oldest question's time.
        last_seen: The newest question's time.
        examples: Up to `EXAMPLES` different questions, the title first, each next one
            the least like those before it.
        phrasings: Other distinct texts for a draft's phrasings, in the same order.
        reasons: Questions per `Why`.
        operator_answer: The operators' answer given most often (the newest on a tie).
        nearest_entry: The closest published or draft entry, if there are any.
    """

    key: int
    title: str
    questions: tuple[GapQuestion, ...]
    size: int
    citizens: int
    first_seen: datetime
    last_seen: datetime
    examples: tuple[GapQuestion, ...]
    phrasings: tuple[str, ...]
    reasons: dict[str, int]
    operator_answer: str | None
    nearest_entry: NearestEntry | None


def cluster_vectors(vectors: np.ndarray, distance: float = DISTANCE) -> list[list[int]]:
    """Group rows of L2-normalised ``vectors`` by average-linkage clustering on cosine
    distance, cut at ``distance``; each group lists its rows in order."""
    if len(vectors) == 0:
        return []
    if len(vectors) == 1:
        return [[0]]
    labels = AgglomerativeClustering(
        n_clusters=None, metric="cosine", linkage="average", distance_threshold=distance
    ).fit_predict(np.asarray(vectors, dtype=np.float64))
    groups: dict[int, list[int]] = defaultdict(list)
    for row, label in enumerate(labels):
        groups[int(label)].append(row)
    return sorted(groups.values(), key=lambda rows: rows[0])


def varied_order(
    vectors: np.ndarray,
    weights: Sequence[float],
    eligible: Sequence[bool] | None = None,
    count: int | None = None,
) -> list[int]:
    """The first ``count`` (default all) rows of ``vectors`` from the most central (mean
    cosine to the others, each row counted ``weights`` times; among the ``eligible`` rows
    when there are any) on, each next row the farthest from those before it."""
    matrix = np.asarray(vectors, dtype=np.float64)
    similarity = matrix @ matrix.T
    centrality = similarity @ np.asarray(weights, dtype=np.float64)
    if eligible is not None and any(eligible):
        centrality[~np.asarray(eligible, dtype=bool)] = -np.inf
    order = [int(np.argmax(centrality))]
    closest = similarity[order[0]].copy()
    closest[order[0]] = np.inf
    while len(order) < min(count or len(matrix), len(matrix)):
        row = int(np.argmin(closest))
        order.append(row)
        closest = np.maximum(closest, similarity[row])
        closest[row] = np.inf
    return order


def find_cluster(clusters: Sequence[GapCluster], key: int) -> GapCluster | None:
    """The cluster with ``key``, else the one holding the question ``key`` (its members
    may have moved since the key was shown)."""
    found = next((c for c in clusters if c.key == key), None)
    return found or next((c for c in clusters if any(q.id == key for q in c.questions)), None)


def draft_from_cluster(cluster: GapCluster, category: str | None = None) -> EntryDraft:
    """A draft FAQ entry from a group: its title as the question, other ways citizens
    put it as phrasings, the operators' answer (or nothing) as the answer.

    Args:
        cluster: The group.
        category: The entry's category, if the editor chose one.
    """
    return EntryDraft(
        question=cluster.title[:MAX_QUESTION],
        answer=cluster.operator_answer or "",
        category=category,
        phrasings=cluster.phrasings,
        status=EntryStatus.DRAFT,
        origin=f"пробелы базы знаний, группа {cluster.key}",
    )


async def knowledge_gaps(
    sessions: SessionFactory,
    embedder: Embedder,
    *,
    since: datetime,
    until: datetime | None = None,
    limit: int = 50,
    include_covered: bool = False,
    cache: EmbeddingCache | None = None,
) -> list[GapCluster]:
    """The knowledge gaps of a period, grouped by meaning, the largest first.

    Args:
        sessions: The database.
        embedder: The process's embedder.
        since: Questions asked at or after this moment...
        until: ...and before this one (None: up to now).
        limit: At most this many groups.
        include_covered: Keep the questions the knowledge base covers since (see the
            module's docstring).
        cache: The process's embedding cache (the FAQ index's, so that the entries'
            texts are not embedded again); by default one for this call.

    Returns:
        Groups ordered by distinct citizens, then questions, then the newest question.
    """
    questions = await gap_questions(sessions, since=since, until=until)
    questions = questions[-MAX_QUESTIONS:]
    if not questions:
        return []
    async with sessions() as session:
        texts = await _entry_texts(session)
    return await asyncio.to_thread(
        _gaps,
        questions,
        texts,
        embedder,
        cache or EmbeddingCache.in_memory(),
        limit,
        include_covered,
    )


async def gap_questions(
    sessions: SessionFactory, *, since: datetime, until: datetime | None = None
) -> list[GapQuestion]:
    """Every gap question asked in a period, oldest first (see the module's docstring)."""
    handed_off = select(HandoffCase.conversation_id).where(HandoffCase.requested_at >= since)
    signal = or_(
        SearchLog.decision == Decision.HANDOFF,
        SearchLog.feedback.in_((Feedback.NOT_HELPED, Feedback.OPERATOR)),
    )
    if until is not None:
        signal = and_(signal, SearchLog.created_at < until)
    async with sessions() as session:
        rows = (
            await session.execute(
                select(
                    SearchLog.id,
                    SearchLog.message_id,
                    SearchLog.conversation_id,
                    SearchLog.channel,
                    SearchLog.query,
                    SearchLog.normalized_query,
                    SearchLog.decision,
                    SearchLog.feedback,
                    SearchLog.created_at,
                    Identity.citizen_id,
                )
                .join(Conversation, Conversation.id == SearchLog.conversation_id)
                .join(Identity, Identity.id == Conversation.identity_id)
                .where(
                    SearchLog.created_at >= since,
                    Identity.banned_at.is_(None),
                    or_(signal, SearchLog.conversation_id.in_(handed_off)),
                )
                .order_by(SearchLog.id)
            )
        ).all()
        cases = (
            await session.execute(
                select(HandoffCase.conversation_id, HandoffCase.requested_at, HandoffCase.ended_at)
                .where(HandoffCase.requested_at >= since)
                .order_by(HandoffCase.id)
            )
        ).all()
        replies = (
            await session.execute(
                select(Message.conversation_id, Message.text, Message.created_at)
                .where(
                    Message.conversation_id.in_(handed_off),
                    Message.direction == "out",
                    Message.author.like(f"{OPERATOR}:%"),
                    Message.created_at >= since,
                )
                .order_by(Message.id)
            )
        ).all()
    handled = _handled(rows, cases, replies)
    found = []
    for row in rows:
        asked = as_utc(row.created_at)
        if (until is not None and asked >= as_utc(until)) or not row.normalized_query:
            continue
        if row.id in handled or row.feedback == Feedback.OPERATOR:
            why = Why.OPERATOR
        elif row.feedback == Feedback.NOT_HELPED:
            why = Why.NOT_HELPED
        elif row.decision == Decision.HANDOFF and row.feedback != Feedback.HELPED:
            why = Why.UNANSWERED
        else:
            continue
        found.append(
            GapQuestion(
                id=row.id,
                message_id=row.message_id,
                text=" ".join(tidy(row.query).split()) or row.query.strip(),
                searched=row.normalized_query,
                asked_at=asked,
                channel=row.channel,
                conversation_id=row.conversation_id,
                citizen_id=row.citizen_id,
                why=why,
                operator_answer=handled.get(row.id),
            )
        )
    return found


def _handled(rows: Sequence, cases: Sequence, replies: Sequence) -> dict[int, str | None]:
    """For each case: the citizen's last question before the request (as in `knowledge_
    base.learning`), unless they found the bot's answer helpful, with the longest of the
    operator's first replies in the case (None before one replied)."""
    searches: dict[int, list[Any]] = defaultdict(list)
    for row in rows:
        searches[row.conversation_id].append(row)
    answers: dict[int, list[tuple[datetime, str]]] = defaultdict(list)
    for conversation_id, text, at in replies:
        answers[conversation_id].append((as_utc(at), (text or "").strip()))
    handled: dict[int, str | None] = {}
    for conversation_id, requested, ended in cases:
        requested = as_utc(requested)
        before = [r for r in searches[conversation_id] if as_utc(r.created_at) <= requested]
        if not before or before[-1].feedback == Feedback.HELPED:
            continue
        replied = [
            text
            for at, text in answers[conversation_id]
            if at >= requested and (ended is None or at <= as_utc(ended)) and text
        ][:OPERATOR_REPLIES]
        answer = max(replied, key=len) if replied else None
        handled[before[-1].id] = handled.get(before[-1].id) or answer
    return handled


@dataclass(frozen=True, slots=True)
class _EntryText:
    entry_id: int
    question: str
    status: str
    text: str
    changed_at: datetime


async def _entry_texts(session: AsyncSession) -> list[_EntryText]:
    """The searched texts of the published and draft entries, with when each last
    changed: the entry's last change, or a learned phrasing's learning if later."""
    entries = (
        await session.scalars(
            select(FaqEntry)
            .where(FaqEntry.status.in_((EntryStatus.PUBLISHED, EntryStatus.DRAFT)))
            .order_by(FaqEntry.id)
        )
    ).all()
    found = []
    for entry in entries:
        for text in (entry.question, *(p.text for p in entry.phrasings)):
            found.append(
                _EntryText(
                    entry.id,
                    entry.question,
                    entry.status,
                    clean(text) or strip_invisible(text),
                    as_utc(entry.updated_at),
                )
            )
    by_id = {entry.id: entry for entry in entries}
    learned = await session.execute(
        select(LearnedPhrasing.entry_id, LearnedPhrasing.text, LearnedPhrasing.created_at)
        .where(LearnedPhrasing.status == LearnedStatus.ACTIVE)
        .order_by(LearnedPhrasing.id)
    )
    for entry_id, text, created_at in learned:
        owner = by_id.get(entry_id)
        if owner is not None and text:
            changed = max(as_utc(created_at), as_utc(owner.updated_at))
            found.append(_EntryText(owner.id, owner.question, owner.status, text, changed))
    return found


def _gaps(
    questions: list[GapQuestion],
    texts: list[_EntryText],
    embedder: Embedder,
    cache: EmbeddingCache,
    limit: int,
    include_covered: bool,
) -> list[GapCluster]:
    searched = list(dict.fromkeys(q.searched for q in questions))
    vectors = _unit(cache.encode(embedder, searched, QUERY))
    entry_vectors = _unit(cache.encode(embedder, [t.text for t in texts], QUERY))
    row = {text: i for i, text in enumerate(searched)}
    if not include_covered and texts:
        latest = _covered_since(vectors, entry_vectors, texts)
        questions = [
            q
            for q in questions
            if (moment := latest[row[q.searched]]) is None or moment <= q.asked_at
        ]
    searched = list(dict.fromkeys(q.searched for q in questions))
    vectors = vectors[[row[text] for text in searched]]
    row = {text: i for i, text in enumerate(searched)}
    members: dict[int, list[GapQuestion]] = defaultdict(list)
    for question in questions:
        members[row[question.searched]].append(question)
    groups = cluster_vectors(vectors)
    clusters = [_cluster(group, vectors[group], members) for group in groups]
    order = sorted(
        range(len(clusters)),
        key=lambda i: (
            -clusters[i].citizens,
            -clusters[i].size,
            -clusters[i].last_seen.timestamp(),
        ),
    )[:limit]
    nearest = _nearest(
        np.stack([vectors[groups[i]].mean(axis=0) for i in order]) if order else vectors[:0],
        entry_vectors,
        texts,
    )
    return [
        dataclasses.replace(clusters[i], nearest_entry=entry)
        for i, entry in zip(order, nearest, strict=True)
    ]


def _cluster(
    group: list[int], vectors: np.ndarray, members: dict[int, list[GapQuestion]]
) -> GapCluster:
    """A group of distinct searched texts (rows) as a cluster of their questions."""
    # Each text is shown as its newest question put it.
    shown = [max(members[row], key=lambda q: (q.asked_at, q.id)) for row in group]
    order = varied_order(
        vectors,
        [len(members[row]) for row in group],
        [len(q.text) <= PHRASING_LIMIT for q in shown],
        count=EXAMPLES + 4 * PHRASINGS,  # enough to find the phrasings among the stories
    )
    title = shown[order[0]].text
    seen = {clean(title)}
    phrasings: list[str] = []
    for i in order[1:]:
        text = shown[i].text
        if len(text) <= PHRASING_LIMIT and clean(text) not in seen and len(phrasings) < PHRASINGS:
            seen.add(clean(text))
            phrasings.append(text)
    questions = sorted(
        (q for row in group for q in members[row]), key=lambda q: (q.asked_at, q.id), reverse=True
    )
    return GapCluster(
        key=min(q.id for q in questions),
        title=title,
        questions=tuple(questions),
        size=len(questions),
        citizens=len({q.citizen_id for q in questions}),
        first_seen=questions[-1].asked_at,
        last_seen=questions[0].asked_at,
        examples=tuple(shown[i] for i in order[:EXAMPLES]),
        phrasings=tuple(phrasings),
        reasons=dict(Counter(str(q.why) for q in questions)),
        operator_answer=_common_answer(questions),
        nearest_entry=None,
    )


def _common_answer(newest_first: Sequence[GapQuestion]) -> str | None:
    """The operators' answer given most often (by its cleaned text), the newest on a tie."""
    answers = [q.operator_answer for q in newest_first if q.operator_answer]
    if not answers:
        return None
    counts = Counter(clean(answer) for answer in answers)
    most = max(counts.values())
    return next(answer for answer in answers if counts[clean(answer)] == most)


def _covered_since(
    vectors: np.ndarray, entry_vectors: np.ndarray, texts: Sequence[_EntryText]
) -> list[datetime | None]:
    """For each question vector: when the published entry holding the closest text last
    changed, if that text is within `DISTANCE` of it; else None."""
    published = np.array([t.status == EntryStatus.PUBLISHED for t in texts], dtype=bool)
    closest, score = closest_texts(vectors, entry_vectors, published)
    return [
        texts[int(j)].changed_at if j >= 0 and s >= 1.0 - DISTANCE else None
        for j, s in zip(closest, score, strict=True)
    ]


def closest_texts(
    vectors: np.ndarray, entry_vectors: np.ndarray, eligible: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """For each row of ``vectors``: the closest ``eligible`` row of ``entry_vectors``
    (-1 when none is) and its cosine, compared a chunk of entry texts at a time."""
    closest = np.full(len(vectors), -1, dtype=np.int64)
    best = np.full(len(vectors), -np.inf, dtype=np.float32)
    for start in range(0, len(entry_vectors), CHUNK):
        scores = vectors @ entry_vectors[start : start + CHUNK].T
        scores[:, ~eligible[start : start + CHUNK]] = -np.inf
        if scores.shape[1] == 0:
            continue
        top = np.argmax(scores, axis=1)
        value = scores[np.arange(len(vectors)), top]
        better = value > best
        closest[better] = top[better] + start
        best[better] = value[better]
    return closest, best


def _nearest(
    centroids: np.ndarray, entry_vectors: np.ndarray, texts: Sequence[_EntryText]
) -> list[NearestEntry | None]:
    """For each cluster (the mean of its texts' vectors): the entry whose closest text
    is the closest on average to the cluster's texts."""
    best: list[NearestEntry | None] = [None] * len(centroids)
    for start in range(0, len(texts), CHUNK):
        scores = centroids @ entry_vectors[start : start + CHUNK].T
        for i, j in enumerate(np.argmax(scores, axis=1) if scores.size else []):
            score = float(scores[i, j])
            current = best[i]
            if current is None or score > current.score:
                text = texts[start + int(j)]
                best[i] = NearestEntry(text.entry_id, text.question, text.status, score)
    return best


def _unit(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
