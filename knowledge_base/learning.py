"""Learning from use: what citizens and operators showed about the knowledge base
becomes phrasings of its entries and the answer margin it is decided with.

Evidence comes from the search log:

* a citizen pressed «Помогло» under an answer: the question belongs to that entry;
* a citizen chose an entry among the offered questions: the question belongs to it
  (unless they then pressed «Не помогло»);
* a citizen pressed «Не помогло»: the question does not belong to the entry shown;
* an operator answered a handed-off question with an entry's answer (pasted, perhaps
  edited a little): the question belongs to that entry.

A question becomes a learned phrasing of an entry only when citizens agree: at least
`MIN_CITIZENS` different citizens confirmed the entry for questions that mean nearly
the same (query embeddings at least `SIMILAR` apart in cosine), more citizens than
rejected it for such questions, and no other entry has as much support for the same
question. An operator's answer is staff's word and is enough on its own. So one citizen
pressing buttons, however many times and from however many messages, teaches nothing;
nor does a question about something else that happened to be confirmed once.

The same verdicts measure the answer margin on real questions: for each search with a
verdict, the best entry's score and its lead over the next one, and whether the best
entry was the right one (an answer marked «Помогло» was; one marked «Не помогло» or
replaced by another choice was not; among offered questions, choosing the first says
answering it would have been right). The margin is the smallest lead at which
confident searches were right at least `USE_TARGET` of the time, once at least
`MIN_VERDICTS` of them (from different citizens, at most `VERDICTS_PER_CITIZEN` each)
say so; until then the margin calibrated on the knowledge base's own entries stands.
The verdicts are not a random sample (citizens press buttons more often when
something is wrong or when offered a choice), which the high target allows for.

`SIMILAR` and `MIN_CITIZENS` were chosen on the validation half of rzd-hr-faq by
`bench/learning.py`; its curve (bench/README.md, «Learning from use») is measured on
the test half.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import SessionFactory
from core.domain import Decision, Feedback, LearnedStatus
from core.models import (
    Conversation,
    FaqEntry,
    HandoffCase,
    KbVersion,
    LearnedPhrasing,
    Message,
    SearchLog,
)
from knowledge_base.drafts import EntryStatus
from knowledge_base.embedder import QUERY, Embedder
from knowledge_base.embedding_cache import EmbeddingCache
from knowledge_base.normalize import clean

log = logging.getLogger(__name__)

SIMILAR = 0.96
MIN_CITIZENS = 2
MAX_LEARNED_PER_ENTRY = 30
MIN_VERDICTS = 40
VERDICTS_PER_CITIZEN = 3
USE_TARGET = 0.9
MARGIN_STEP = 0.0025
MARGIN_LIMIT = 0.1
# An operator's reply is an entry's answer when it holds this share of the answer's
# word triples (pasted and perhaps edited a little).
OPERATOR_OVERLAP = 0.6
OPERATOR = "operator"


@dataclass(frozen=True, slots=True)
class Evidence:
    """One sign that a question does or does not belong to an entry.

    Attributes:
        text: The question as searched (cleaned).
        entry_id: The entry.
        who: Whose sign it is: ``citizen:<identity>`` or ``operator:<id>``.
        positive: True when the question belongs to the entry.
    """

    text: str
    entry_id: int
    who: str
    positive: bool

    @property
    def trusted(self) -> bool:
        return self.who.startswith(OPERATOR)


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether a search's best entry was right, with the scores it was decided on."""

    who: str
    score: float
    lead: float
    right: bool


@dataclass(frozen=True, slots=True)
class Lesson:
    """A question learned as a phrasing of an entry, and the support behind it."""

    entry_id: int
    text: str
    citizens: int
    opposed: int


@dataclass(slots=True)
class Outcome:
    """What one run of `LearningJob` changed."""

    added: list[Lesson] = field(default_factory=list)
    withdrawn: int = 0
    use_margin: float | None = None
    margin_changed: bool = False
    version: int | None = None

    @property
    def changed(self) -> bool:
        return bool(self.added or self.withdrawn or self.margin_changed)


def evidence_of_search(
    who: str,
    prepared: str,
    hits: Sequence[dict],
    decision: str,
    feedback: str | None,
    chosen: int | None,
) -> tuple[Evidence | None, Verdict | None]:
    """The evidence and the verdict a logged search gives (either may be None)."""
    top = hits[0]["id"] if hits else None
    evidence = None
    if prepared:
        if feedback == Feedback.NOT_HELPED:
            shown = chosen if chosen is not None else top
            if shown is not None and (chosen is not None or decision == Decision.ANSWER):
                evidence = Evidence(prepared, shown, who, False)
        elif chosen is not None:
            evidence = Evidence(prepared, chosen, who, True)
        elif feedback == Feedback.HELPED and decision == Decision.ANSWER and top is not None:
            evidence = Evidence(prepared, top, who, True)
    verdict = None
    if hits:
        score = float(hits[0]["score"])
        lead = score - (float(hits[1]["score"]) if len(hits) > 1 else 0.0)
        right = None
        if decision == Decision.ANSWER:
            if chosen is not None:
                right = chosen == top
            elif feedback == Feedback.HELPED:
                right = True
            elif feedback == Feedback.NOT_HELPED:
                right = False
        elif decision == Decision.CLARIFY and chosen is not None:
            if feedback != Feedback.NOT_HELPED:
                right = chosen == top
        if right is not None:
            verdict = Verdict(who, score, lead, right)
    return evidence, verdict


def learn(
    evidence: Sequence[Evidence],
    embedder: Embedder,
    known: dict[int, set[str]],
    cache: EmbeddingCache | None = None,
) -> list[Lesson]:
    """The phrasings the evidence supports (see the module's docstring).

    Args:
        evidence: Every sign gathered.
        embedder: Embeds the questions to find those that mean the same.
        known: Each published entry's texts already searched (cleaned question and
            phrasings); evidence for other entries is ignored and known texts are not
            learned again.
        cache: Keeps the questions' vectors between runs.
    """
    by_entry: dict[int, list[Evidence]] = defaultdict(list)
    for item in evidence:
        if item.entry_id in known and item.text:
            by_entry[item.entry_id].append(item)
    texts = sorted({item.text for items in by_entry.values() for item in items})
    if not texts:
        return []
    vectors = (cache or EmbeddingCache.in_memory()).encode(embedder, texts, QUERY)
    row = {text: i for i, text in enumerate(texts)}
    candidates: list[Lesson] = []
    for entry_id, items in by_entry.items():
        matrix = vectors[[row[item.text] for item in items]]
        similar = (matrix @ matrix.T) >= SIMILAR
        for text in dict.fromkeys(item.text for item in items if item.positive):
            if text in known[entry_id]:
                continue
            near = similar[next(i for i, item in enumerate(items) if item.text == text)]
            for_it = {items[i].who for i in np.flatnonzero(near) if items[i].positive}
            against = {items[i].who for i in np.flatnonzero(near) if not items[i].positive}
            support = len(for_it - against)
            if any(who.startswith(OPERATOR) for who in for_it):
                support = max(support, MIN_CITIZENS)
            opposed = len(against - for_it)
            if support >= MIN_CITIZENS and support > opposed:
                candidates.append(Lesson(entry_id, text, support, opposed))
    # A question learned for two entries stays with the better supported one, and with
    # neither on a tie.
    by_text: dict[str, list[Lesson]] = defaultdict(list)
    for lesson in candidates:
        by_text[lesson.text].append(lesson)
    kept: dict[int, list[Lesson]] = defaultdict(list)
    for lessons in by_text.values():
        lessons.sort(key=lambda lesson: lesson.citizens - lesson.opposed, reverse=True)
        best = lessons[0]
        if len(lessons) > 1 and (
            lessons[1].citizens - lessons[1].opposed == best.citizens - best.opposed
        ):
            continue
        kept[best.entry_id].append(best)
    result = []
    for entry_id in sorted(kept):
        lessons = sorted(kept[entry_id], key=lambda lesson: (-lesson.citizens, lesson.text))
        result.extend(lessons[:MAX_LEARNED_PER_ENTRY])
    return result


def margin_from_use(verdicts: Sequence[Verdict], answer: float) -> float | None:
    """The answer margin the citizens' verdicts support, None while they are too few.

    Args:
        verdicts: Verdicts, oldest first (each citizen's first `VERDICTS_PER_CITIZEN`
            count).
        answer: The answer threshold on the best score.
    """
    counted: dict[str, int] = defaultdict(int)
    rows = []
    for verdict in verdicts:
        if verdict.score < answer or counted[verdict.who] >= VERDICTS_PER_CITIZEN:
            continue
        counted[verdict.who] += 1
        rows.append((verdict.lead, verdict.right))
    found = np.array(rows, dtype=np.float64).reshape(-1, 2)
    margin = 0.0
    while margin < MARGIN_LIMIT:
        chosen = found[:, 0] >= margin
        if chosen.sum() < MIN_VERDICTS:
            return None
        if found[chosen, 1].mean() >= USE_TARGET:
            return margin
        margin = round(margin + MARGIN_STEP, 6)
    return MARGIN_LIMIT


def operator_entry(reply: str, answers: dict[int, set[tuple[str, ...]]]) -> int | None:
    """The entry whose answer an operator's reply repeats, if one does."""
    triples = _triples(reply)
    best, best_share = None, 0.0
    for entry_id, expected in answers.items():
        if not expected:
            continue
        share = len(expected & triples) / len(expected)
        if share > best_share:
            best, best_share = entry_id, share
    return best if best_share >= OPERATOR_OVERLAP else None


def _triples(text: str) -> set[tuple[str, ...]]:
    words = clean(text).split()
    return {tuple(words[i : i + 3]) for i in range(len(words) - 2)}


async def gather(session: AsyncSession) -> tuple[list[Evidence], list[Verdict]]:
    """Every sign and verdict in the search log and the operators' answers, oldest
    first."""
    evidence: list[Evidence] = []
    verdicts: list[Verdict] = []
    rows = await session.execute(
        select(
            Conversation.identity_id,
            SearchLog.normalized_query,
            SearchLog.hits,
            SearchLog.decision,
            SearchLog.feedback,
            SearchLog.chosen_entry_id,
        )
        .join(Conversation, Conversation.id == SearchLog.conversation_id)
        .where((SearchLog.feedback.is_not(None)) | (SearchLog.chosen_entry_id.is_not(None)))
        .order_by(SearchLog.id)
    )
    for identity, prepared, hits, decision, feedback, chosen in rows:
        item, verdict = evidence_of_search(
            f"citizen:{identity}", prepared, hits or [], decision, feedback, chosen
        )
        if item is not None:
            evidence.append(item)
        if verdict is not None:
            verdicts.append(verdict)
    evidence.extend(await _operator_evidence(session))
    return evidence, verdicts


async def _operator_evidence(session: AsyncSession) -> list[Evidence]:
    """For each handed-off case an operator answered: the citizen's last question
    before the hand-off and the entry whose answer the operator's first replies repeat."""
    answers = {
        entry_id: _triples(answer)
        for entry_id, answer in await session.execute(
            select(FaqEntry.id, FaqEntry.answer).where(FaqEntry.status == EntryStatus.PUBLISHED)
        )
    }
    if not answers:
        return []
    cases = await session.execute(
        select(HandoffCase.conversation_id, HandoffCase.requested_at, HandoffCase.ended_at)
        .where(HandoffCase.first_response_at.is_not(None))
        .order_by(HandoffCase.id)
    )
    found = []
    for conversation_id, requested_at, ended_at in cases:
        question = await session.scalar(
            select(SearchLog.normalized_query)
            .where(
                SearchLog.conversation_id == conversation_id,
                SearchLog.created_at <= requested_at,
            )
            .order_by(SearchLog.id.desc())
            .limit(1)
        )
        if not question:
            continue
        replies = select(Message.author, Message.text).where(
            Message.conversation_id == conversation_id,
            Message.direction == "out",
            Message.author.like(f"{OPERATOR}:%"),
            Message.created_at >= requested_at,
        )
        if ended_at is not None:
            replies = replies.where(Message.created_at <= ended_at)
        for author, text in await session.execute(replies.order_by(Message.id).limit(3)):
            entry_id = operator_entry(text or "", answers)
            if entry_id is not None:
                found.append(Evidence(question, entry_id, author, True))
                break
    return found


class LearningJob:
    """Brings the learned phrasings and the margin from use up to the evidence; when
    they change, a new knowledge-base version makes every bot rebuild its index.

    Args:
        sessions: The database.
        embedder: The process's embedder.
        answer: The answer threshold (verdicts below it are not about answering).
        cache: Keeps the questions' vectors between runs.
    """

    def __init__(
        self,
        sessions: SessionFactory,
        embedder: Embedder,
        answer: float,
        cache: EmbeddingCache | None = None,
    ) -> None:
        self._sessions = sessions
        self._embedder = embedder
        self._answer = answer
        self._cache = cache or EmbeddingCache.in_memory()

    async def run(self, *, dry_run: bool = False) -> Outcome:
        """Learn from everything recorded so far; ``dry_run`` changes nothing."""
        async with self._sessions.begin() as session:
            evidence, verdicts = await gather(session)
            known = await _known_texts(session)
        lessons = learn(evidence, self._embedder, known, self._cache)
        outcome = Outcome(use_margin=margin_from_use(verdicts, self._answer))
        async with self._sessions.begin() as session:
            rows = (await session.scalars(select(LearnedPhrasing))).all()
            current = {(r.entry_id, r.text): r for r in rows}
            wanted = {(lesson.entry_id, lesson.text): lesson for lesson in lessons}
            for key, lesson in wanted.items():
                row = current.get(key)
                if row is None:
                    outcome.added.append(lesson)
                    if not dry_run:
                        session.add(
                            LearnedPhrasing(
                                entry_id=lesson.entry_id,
                                text=lesson.text,
                                citizens=lesson.citizens,
                                opposed=lesson.opposed,
                                status=LearnedStatus.ACTIVE,
                            )
                        )
                elif row.status == LearnedStatus.ACTIVE and not dry_run:
                    row.citizens, row.opposed = lesson.citizens, lesson.opposed
            for key, row in current.items():
                if key not in wanted and row.status == LearnedStatus.ACTIVE:
                    outcome.withdrawn += 1
                    if not dry_run:
                        await session.delete(row)
            previous = await session.scalar(
                select(KbVersion.use_margin)
                .where(KbVersion.use_margin.is_not(None))
                .order_by(KbVersion.id.desc())
                .limit(1)
            )
            outcome.margin_changed = outcome.use_margin is not None and (
                previous is None or abs(previous - outcome.use_margin) >= MARGIN_STEP / 2
            )
            if outcome.changed and not dry_run:
                entries = await session.scalar(
                    select(func.count())
                    .select_from(FaqEntry)
                    .where(FaqEntry.status == EntryStatus.PUBLISHED)
                )
                version = KbVersion(
                    reason=_reason(outcome),
                    entries=int(entries or 0),
                    use_margin=outcome.use_margin if outcome.use_margin is not None else previous,
                )
                session.add(version)
                await session.flush()
                outcome.version = version.id
        if outcome.changed:
            log.info("learning from use: %s", _reason(outcome))
        return outcome


async def _known_texts(session: AsyncSession) -> dict[int, set[str]]:
    entries = (
        await session.scalars(select(FaqEntry).where(FaqEntry.status == EntryStatus.PUBLISHED))
    ).all()
    known = {
        e.id: {clean(t) for t in (e.question, *(p.text for p in e.phrasings))} for e in entries
    }
    rejected = await session.execute(
        select(LearnedPhrasing.entry_id, LearnedPhrasing.text).where(
            LearnedPhrasing.status == LearnedStatus.REJECTED
        )
    )
    for entry_id, text in rejected:
        if entry_id in known:
            known[entry_id].add(text)
    return known


def _reason(outcome: Outcome) -> str:
    parts = [f"learned from use: +{len(outcome.added)} phrasings, -{outcome.withdrawn}"]
    if outcome.margin_changed:
        parts.append(f"answer margin from citizens' verdicts {outcome.use_margin:.4f}")
    return "; ".join(parts)[:255]


async def learn_periodically(
    job: LearningJob,
    stop: asyncio.Event,
    interval: float,
    announce: Callable[[int], Awaitable[None]],
) -> None:
    """Run ``job`` every ``interval`` seconds until ``stop``; ``announce`` is told of
    each new knowledge-base version it makes. A failed run is logged and retried at the
    next interval."""
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)
        if stop.is_set():
            return
        try:
            outcome = await job.run()
            if outcome.version is not None:
                await announce(outcome.version)
        except Exception:  # learning must not take the bot down
            log.exception("learning from use failed; retrying in %s s", interval)
