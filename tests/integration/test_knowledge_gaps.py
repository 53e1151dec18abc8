"""The knowledge gaps page's data from a real database and the real embedder: citizens'
questions the bot could not answer, that did not help or that an operator handled,
grouped by meaning, with the operators' real answers, and made into a draft entry."""

from __future__ import annotations

from datetime import datetime

import pytest

from admin.gaps import GapCluster, Why, draft_from_cluster, knowledge_gaps
from core.models import (
    FaqEntry,
    FaqPhrasing,
)
from knowledge_base.drafts import EntryStatus
from tests.gap_scenario import OPERATOR_ANSWER, POTHOLE_ANSWER, SINCE, ago, seed


def members(cluster: GapCluster) -> list[int]:
    return sorted(q.id for q in cluster.questions)


PASSPORT_TEXTS = {
    "Я потерял паспорт, что мне делать?",
    "потеряла паспорт как восстановить",
    "Где восстановить утерянный паспорт?",
    "Утерян паспорт гражданина РФ, куда обращаться",
}


async def test_gaps_are_grouped_by_meaning_largest_first(sessions, embedder):
    seeded = await seed(sessions)

    clusters = await knowledge_gaps(sessions, embedder, since=SINCE)

    assert [members(c) for c in clusters] == [
        seeded.passport,
        seeded.pothole,
        seeded.abroad,
        seeded.kindergarten,
        seeded.dogs,
    ]
    passport, pothole, abroad, _, _ = clusters
    assert (passport.size, passport.citizens) == (4, 3)
    assert (pothole.size, pothole.citizens) == (3, 2)
    assert (abroad.size, abroad.citizens) == (5, 1)
    assert passport.key == seeded.first_passport
    assert passport.reasons == {"unanswered": 2, "not_helped": 1, "operator": 1}
    assert pothole.reasons == {"unanswered": 1, "operator": 1, "not_helped": 1}
    assert passport.first_seen == ago(5) and passport.last_seen == ago(1)
    assert {q.text for q in passport.examples} == PASSPORT_TEXTS
    assert passport.title in PASSPORT_TEXTS
    assert abroad.phrasings == () and [q.text for q in abroad.examples] == [
        "Как получить загранпаспорт?"
    ]
    assert all(c.nearest_entry is None for c in clusters)  # no entries yet

    first = next(q for q in passport.questions if q.id == seeded.first_passport)
    assert (first.why, first.channel, first.operator_answer) == (Why.UNANSWERED, "telegram", None)
    last = passport.questions[0]
    assert (last.channel, last.citizen_id) == ("vk", first.citizen_id)


async def test_the_operators_answer_is_what_they_sent_in_that_conversation(sessions, embedder):
    seeded = await seed(sessions)

    passport, pothole, *_ = await knowledge_gaps(sessions, embedder, since=SINCE)

    handled = next(q for q in passport.questions if q.id == seeded.operator_question)
    assert handled.why == Why.OPERATOR
    assert handled.operator_answer == OPERATOR_ANSWER
    assert passport.operator_answer == OPERATOR_ANSWER
    assert pothole.operator_answer == POTHOLE_ANSWER
    pothole_handled = next(
        q for q in pothole.questions if q.id == seeded.pothole_operator_question
    )
    assert (pothole_handled.why, pothole_handled.operator_answer) == (Why.OPERATOR, POTHOLE_ANSWER)
    # The later question in the same conversation was not what the operator answered.
    latest = pothole.questions[0]
    assert (latest.id, latest.why, latest.operator_answer) == (
        seeded.pothole[2],
        Why.NOT_HELPED,
        None,
    )


async def test_a_group_becomes_a_draft_entry(sessions, embedder):
    await seed(sessions)
    [passport] = await knowledge_gaps(sessions, embedder, since=SINCE, limit=1)

    draft = draft_from_cluster(passport, category="Документы")

    assert draft.question == passport.title
    assert draft.question not in draft.phrasings
    assert set(draft.phrasings) | {draft.question} == PASSPORT_TEXTS
    assert draft.answer == OPERATOR_ANSWER
    assert (draft.category, draft.status) == ("Документы", EntryStatus.DRAFT)


async def test_the_period_bounds_the_questions(sessions, embedder):
    seeded = await seed(sessions)

    clusters = await knowledge_gaps(sessions, embedder, since=ago(4.5), until=ago(2.5))

    assert [members(c) for c in clusters] == [seeded.passport[1:3], seeded.abroad[2:4]]


async def add_entry(sessions, draft, status: EntryStatus, changed: datetime) -> int:
    async with sessions.begin() as session:
        entry = FaqEntry(
            question=draft.question,
            answer=draft.answer,
            status=str(status),
            created_at=changed,
            updated_at=changed,
            phrasings=[FaqPhrasing(text=t, position=i) for i, t in enumerate(draft.phrasings)],
        )
        session.add(entry)
        await session.flush()
        return entry.id


async def test_a_published_entry_made_from_a_group_covers_the_questions_before_it(
    sessions, embedder
):
    seeded = await seed(sessions)
    [passport] = await knowledge_gaps(sessions, embedder, since=SINCE, limit=1)
    entry = await add_entry(
        sessions, draft_from_cluster(passport), EntryStatus.PUBLISHED, ago(1.5)
    )

    clusters = await knowledge_gaps(sessions, embedder, since=SINCE)

    # Only the question asked after the entry was published is left of the group.
    later = next(c for c in clusters if seeded.passport[3] in members(c))
    assert members(later) == [seeded.passport[3]]
    assert not any(set(seeded.passport[:3]) & set(members(c)) for c in clusters)
    assert later.nearest_entry is not None
    assert (later.nearest_entry.id, later.nearest_entry.status) == (entry, "published")
    assert later.nearest_entry.same_question
    pothole = next(c for c in clusters if members(c) == seeded.pothole)
    assert pothole.nearest_entry is not None and not pothole.nearest_entry.same_question

    everything = await knowledge_gaps(sessions, embedder, since=SINCE, include_covered=True)
    assert members(everything[0]) == seeded.passport


@pytest.mark.parametrize(
    ("status", "days"), [(EntryStatus.DRAFT, 1.5), (EntryStatus.PUBLISHED, 10)]
)
async def test_a_draft_or_an_older_entry_covers_nothing(sessions, embedder, status, days):
    seeded = await seed(sessions)
    [passport] = await knowledge_gaps(sessions, embedder, since=SINCE, limit=1)
    entry = await add_entry(sessions, draft_from_cluster(passport), status, ago(days))

    [again] = await knowledge_gaps(sessions, embedder, since=SINCE, limit=1)

    assert members(again) == seeded.passport
    assert again.nearest_entry is not None
    assert (again.nearest_entry.id, again.nearest_entry.status) == (entry, str(status))
