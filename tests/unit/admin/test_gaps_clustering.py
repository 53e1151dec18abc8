"""The grouping of knowledge gaps on hand-made vectors: what falls together, the order of
groups, the title and examples, the «covered» rule and the draft made of a group."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from admin import gaps
from admin.gaps import GapCluster, GapQuestion, Why, cluster_vectors, draft_from_cluster
from knowledge_base.drafts import EntryStatus
from knowledge_base.embedding_cache import EmbeddingCache

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def towards(axis: int, angle: float, towards_axis: int, dim: int = 4) -> np.ndarray:
    """A unit vector ``angle`` radians from ``axis`` in the direction of ``towards_axis``."""
    vector = np.zeros(dim, dtype=np.float32)
    vector[axis] = np.cos(angle)
    vector[towards_axis] = np.sin(angle)
    return vector


def at_cosine(cosine: float) -> float:
    return float(np.arccos(cosine))


class FakeEmbedder:
    """Vectors chosen by the test, by text."""

    name = "fake"
    dim = 4

    def __init__(self, vectors: dict[str, np.ndarray]) -> None:
        self.vectors = vectors

    def encode(self, sentences: Sequence[str], **_: object) -> np.ndarray:
        return np.stack([self.vectors[s] for s in sentences]).astype(np.float32)


def question(
    id: int,
    searched: str,
    citizen: int,
    days_ago: float,
    why: Why = Why.UNANSWERED,
    text: str | None = None,
    answer: str | None = None,
) -> GapQuestion:
    return GapQuestion(
        id=id,
        message_id=id * 10,
        text=text or searched,
        searched=searched,
        asked_at=NOW - timedelta(days=days_ago),
        channel="telegram",
        conversation_id=citizen,
        citizen_id=citizen,
        why=why,
        operator_answer=answer,
    )


def test_close_vectors_fall_together_and_others_stay_apart():
    vectors = np.stack(
        [
            towards(0, 0.0, 1),
            towards(0, 0.2, 1),  # cosine 0.98 with the first
            towards(1, 0.0, 2),
            towards(0, -0.15, 3),
            towards(1, 0.2, 2),
            towards(2, 0.0, 3),
        ]
    )

    assert cluster_vectors(vectors) == [[0, 1, 3], [2, 4], [5]]


def test_the_distance_decides_whether_two_questions_are_one():
    just_inside = np.stack([towards(0, 0, 1), towards(0, at_cosine(1 - gaps.DISTANCE + 0.005), 1)])
    just_outside = np.stack(
        [towards(0, 0, 1), towards(0, at_cosine(1 - gaps.DISTANCE - 0.005), 1)]
    )

    assert cluster_vectors(just_inside) == [[0, 1]]
    assert cluster_vectors(just_outside) == [[0], [1]]
    assert cluster_vectors(np.zeros((0, 4))) == []
    assert cluster_vectors(just_inside[:1]) == [[0]]


def test_average_linkage_does_not_chain_a_drifting_series():
    # Each step is close to the next, but the ends are far apart: single linkage would
    # make one group of all of them.
    series = np.stack([towards(0, 0.12 * i, 1) for i in range(8)])

    groups = cluster_vectors(series)

    assert len(groups) > 1
    assert sorted(row for group in groups for row in group) == list(range(8))


def test_the_most_central_comes_first_then_the_most_different():
    vectors = np.stack(
        [
            towards(0, -0.3, 1),
            towards(0, 0.0, 1),  # the middle one
            towards(0, 0.3, 1),
            towards(0, 0.05, 1),
        ]
    )

    order = gaps.varied_order(vectors, [1, 1, 1, 1])

    assert order[0] == 1
    assert set(order[1:3]) == {0, 2}  # the two ends before the near twin of the middle
    assert order[3] == 3
    assert gaps.varied_order(vectors, [1, 1, 1, 1], count=2) == order[:2]


def test_a_text_asked_often_weighs_more_and_long_stories_are_no_titles():
    vectors = np.stack([towards(0, 0.0, 1), towards(0, 0.3, 1), towards(0, 0.15, 1)])

    assert gaps.varied_order(vectors, [1, 1, 1])[0] == 2
    assert gaps.varied_order(vectors, [1, 9, 1])[0] == 1
    assert gaps.varied_order(vectors, [1, 1, 1], [True, True, False])[0] in {0, 1}
    assert gaps.varied_order(vectors, [1, 1, 1], [False, False, False])[0] == 2


def groups_of(vectors: dict[str, np.ndarray], questions, texts=(), include_covered=False):
    return gaps._gaps(
        questions,
        list(texts),
        FakeEmbedder(vectors),
        EmbeddingCache.in_memory(),
        limit=50,
        include_covered=include_covered,
    )


def test_groups_are_ordered_by_citizens_then_questions_then_the_newest():
    vectors = {
        "a1": towards(0, 0.0, 1),
        "a2": towards(0, 0.1, 1),
        "b": towards(1, 0.0, 2),
        "c": towards(2, 0.0, 3),
        "d": towards(3, 0.0, 0),
    }
    questions = sorted(
        [
            # a: three citizens, three questions
            question(1, "a1", 1, 9),
            question(2, "a2", 2, 8),
            question(3, "a1", 3, 7),
            # b: one citizen asking five times
            *(question(10 + i, "b", 4, 1 + i / 10) for i in range(5)),
            # c and d: two citizens each; d's last question is the newer
            question(20, "c", 5, 6),
            question(21, "c", 6, 5),
            question(30, "d", 7, 6),
            question(31, "d", 8, 2),
        ],
        key=lambda q: q.id,
    )

    clusters = groups_of(vectors, questions)

    assert [c.key for c in clusters] == [1, 30, 20, 10]
    assert [(c.size, c.citizens) for c in clusters] == [(3, 3), (2, 2), (2, 2), (5, 1)]
    a, d, _, b = clusters
    assert [q.id for q in a.questions] == [3, 2, 1]  # newest first
    assert (a.first_seen, a.last_seen) == (NOW - timedelta(days=9), NOW - timedelta(days=7))
    assert [q.searched for q in a.examples] == ["a1", "a2"]
    assert d.last_seen == NOW - timedelta(days=2)
    assert [q.searched for q in b.examples] == ["b"] and b.phrasings == ()
    assert all(c.nearest_entry is None for c in clusters)
    assert len(groups_of(vectors, questions[:3])) == 1


def test_the_limit_keeps_the_largest_groups():
    vectors = {"a": towards(0, 0, 1), "b": towards(1, 0, 2), "c": towards(2, 0, 3)}
    questions = [
        question(1, "a", 1, 3),
        question(2, "b", 2, 3),
        question(3, "b", 3, 3),
        question(4, "c", 4, 3),
        question(5, "c", 5, 3),
        question(6, "c", 6, 3),
    ]

    clusters = gaps._gaps(
        questions, [], FakeEmbedder(vectors), EmbeddingCache.in_memory(), 2, False
    )

    assert [c.key for c in clusters] == [4, 2]


def test_reasons_and_the_operators_answer_given_most_often():
    vectors = {"q": towards(0, 0, 1)}
    questions = [
        question(1, "q", 1, 5, Why.OPERATOR, answer="Обратитесь в МФЦ."),
        question(2, "q", 2, 4, Why.OPERATOR, answer="Обратитесь  в МФЦ"),
        question(3, "q", 3, 3, Why.OPERATOR, answer="Позвоните по номеру 112."),
        question(4, "q", 4, 2, Why.NOT_HELPED),
        question(5, "q", 5, 1, Why.UNANSWERED),
    ]

    [cluster] = groups_of(vectors, questions)

    assert cluster.reasons == {"operator": 3, "not_helped": 1, "unanswered": 1}
    # Two operators gave the same answer (spelled a little differently): the newer wins.
    assert cluster.operator_answer == "Обратитесь  в МФЦ"
    tie = [question(7, "q", 7, 1, answer="Второй."), question(6, "q", 6, 2, answer="Первый.")]
    assert gaps._common_answer(tie) == "Второй."
    assert gaps._common_answer([question(8, "q", 8, 1)]) is None


def entry_text(entry_id: int, text: str, days_ago: float, status=EntryStatus.PUBLISHED):
    return gaps._EntryText(
        entry_id, f"Вопрос {entry_id}", str(status), text, NOW - timedelta(days=days_ago)
    )


def test_questions_an_entry_changed_since_covers_leave_the_page():
    vectors = {
        "lost": towards(0, 0, 1),
        "lost too": towards(0, 0.1, 1),
        "entry": towards(0, 0.05, 1),
        "elsewhere": towards(2, 0, 3),
    }
    questions = [
        question(1, "lost", 1, 10),
        question(2, "lost too", 2, 9),
        question(3, "lost", 3, 1),  # asked after the entry was made
    ]
    made = entry_text(7, "entry", 5)

    [kept] = groups_of(vectors, questions, [made])
    assert [q.id for q in kept.questions] == [3]
    assert kept.nearest_entry is not None
    assert (kept.nearest_entry.id, kept.nearest_entry.same_question) == (7, True)

    [everything] = groups_of(vectors, questions, [made], include_covered=True)
    assert [q.id for q in everything.questions] == [3, 2, 1]

    # An entry that has not changed since the questions, a draft, or one about
    # something else covers nothing.
    for text in (
        entry_text(7, "entry", 20),
        entry_text(7, "entry", 5, EntryStatus.DRAFT),
        entry_text(7, "elsewhere", 5),
    ):
        [cluster] = groups_of(vectors, questions, [text])
        assert cluster.size == 3, text


def test_a_question_is_covered_by_its_closest_entry_only():
    vectors = {
        "q": towards(0, 0, 1),
        "closest": towards(0, 0.05, 1),
        "near": towards(0, 0.25, 1),  # within the distance too, but farther
    }
    questions = [question(1, "q", 1, 10)]

    # The closest entry has not changed since: a change of a neighbour hides nothing.
    [cluster] = groups_of(
        vectors, questions, [entry_text(1, "closest", 30), entry_text(2, "near", 1)]
    )
    assert cluster.size == 1
    assert cluster.nearest_entry is not None and cluster.nearest_entry.id == 1
    assert groups_of(vectors, questions, [entry_text(1, "closest", 1)]) == []


def make_cluster(**values) -> GapCluster:
    first = question(5, "как восстановить паспорт", 1, 3, text="Как восстановить паспорт?")
    fields = {
        "key": 5,
        "title": "Как восстановить паспорт?",
        "questions": (first,),
        "size": 1,
        "citizens": 1,
        "first_seen": first.asked_at,
        "last_seen": first.asked_at,
        "examples": (first,),
        "phrasings": ("Потерял паспорт, что делать", "Утерян паспорт"),
        "reasons": {"operator": 1},
        "operator_answer": "Обратитесь в МФЦ с заявлением об утрате.",
        "nearest_entry": None,
    }
    return GapCluster(**{**fields, **values})


def test_a_draft_from_a_group():
    draft = draft_from_cluster(make_cluster(), category="Документы")

    assert draft.question == "Как восстановить паспорт?"
    assert draft.phrasings == ("Потерял паспорт, что делать", "Утерян паспорт")
    assert draft.answer == "Обратитесь в МФЦ с заявлением об утрате."
    assert draft.category == "Документы"
    assert draft.status == EntryStatus.DRAFT
    assert draft.key is None


def test_a_draft_without_an_operators_answer_has_none():
    draft = draft_from_cluster(make_cluster(operator_answer=None, title="ы" * 600))

    assert draft.answer == ""
    assert draft.category is None
    assert len(draft.question) == 500


def test_phrasings_are_distinct_short_and_not_the_title():
    vectors = {
        "потерял паспорт": towards(0, 0, 1),
        "потерял паспорт что делать": towards(0, -0.03, 1),
        "потеряла паспорт": towards(0, 0.1, 1),
        "история": towards(0, 0.12, 1),
    }
    questions = [
        question(1, "потерял паспорт", 1, 5, text="Потерял паспорт"),
        question(2, "потерял паспорт", 2, 4.5, text="Потерял паспорт!!!"),
        question(3, "потерял паспорт что делать", 3, 4, text="Потерял паспорт, что делать?"),
        question(4, "потеряла паспорт", 4, 3, text="Потеряла паспорт."),
        question(5, "история", 5, 2, text="Долгая история. " * 20),
        question(6, "потеряла паспорт", 6, 1, text="потеряла паспорт"),
    ]

    [cluster] = groups_of(vectors, questions)

    assert cluster.title == "Потерял паспорт!!!"  # the newest question of the central text
    assert sorted(cluster.phrasings) == ["Потерял паспорт, что делать?", "потеряла паспорт"]
    assert len(cluster.examples) == 4  # the story is an example, not a phrasing
    draft = draft_from_cluster(cluster)
    assert draft.question == cluster.title and draft.phrasings == cluster.phrasings


@pytest.mark.parametrize(("key", "found"), [(1, 1), (3, 1), (7, 7), (99, None)])
def test_a_group_is_found_by_its_key_or_by_a_question_in_it(key, found):
    clusters = [
        make_cluster(key=1, questions=(question(1, "a", 1, 1), question(3, "a", 2, 1))),
        make_cluster(key=7, questions=(question(7, "b", 3, 1),)),
    ]

    cluster = gaps.find_cluster(clusters, key)

    assert (cluster.key if cluster else None) == found
