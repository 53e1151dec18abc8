"""Learning from use, its pure parts: which signs a logged search gives, which
phrasings the citizens' signs support (with the real embedder), the margin the verdicts
support, and recognising an FAQ answer in an operator's reply."""

import pytest

from core.domain import Decision, Feedback
from knowledge_base import learning
from knowledge_base.learning import (
    MIN_VERDICTS,
    USE_TARGET,
    VERDICTS_PER_CITIZEN,
    Evidence,
    Verdict,
    evidence_of_search,
    learn,
    margin_from_use,
    operator_entry,
)

HITS = [{"id": 7, "score": 0.9}, {"id": 8, "score": 0.86}, {"id": 9, "score": 0.8}]
KNOWN = {7: {"как оплатить жку"}, 8: {"где получить справку"}, 9: {"когда вывоз мусора"}}


@pytest.mark.parametrize(
    ("decision", "feedback", "chosen", "evidence", "right"),
    [
        (Decision.ANSWER, Feedback.HELPED, None, (7, True), True),
        (Decision.ANSWER, Feedback.NOT_HELPED, None, (7, False), False),
        (Decision.ANSWER, None, 8, (8, True), False),  # «Не помогло», then another entry
        (Decision.ANSWER, None, None, None, None),  # no sign at all
        (Decision.CLARIFY, None, 7, (7, True), True),
        (Decision.CLARIFY, None, 9, (9, True), False),
        (Decision.CLARIFY, Feedback.HELPED, 9, (9, True), False),
        (Decision.CLARIFY, Feedback.NOT_HELPED, 9, (9, False), None),
        (Decision.CLARIFY, Feedback.NOT_HELPED, None, None, None),
        (Decision.CLARIFY, Feedback.OPERATOR, None, None, None),
        (Decision.HANDOFF, Feedback.OPERATOR, None, None, None),
    ],
)
def test_signs_and_verdicts_of_a_logged_search(decision, feedback, chosen, evidence, right):
    sign, verdict = evidence_of_search("citizen:1", "текст", HITS, decision, feedback, chosen)

    assert (None if sign is None else (sign.entry_id, sign.positive)) == evidence
    assert (None if verdict is None else verdict.right) == right
    if verdict is not None:
        assert verdict.score == 0.9
        assert verdict.lead == pytest.approx(0.04)


def test_a_search_without_hits_or_text_gives_nothing():
    assert (
        evidence_of_search("citizen:1", "", HITS, Decision.ANSWER, Feedback.HELPED, None)[0]
        is None
    )
    assert evidence_of_search("citizen:1", "х", [], Decision.HANDOFF, None, None) == (None, None)


def signs(text: str, entry_id: int, *whos: str, positive: bool = True) -> list[Evidence]:
    return [Evidence(text, entry_id, who, positive) for who in whos]


def test_two_citizens_asking_alike_teach_a_phrasing(embedder):
    evidence = [
        *signs("куда платить за квартиру и свет", 7, "citizen:1"),
        *signs("куда платить за квартиру и электричество", 7, "citizen:2"),
    ]

    lessons = learn(evidence, embedder, KNOWN)

    assert {(lesson.entry_id, lesson.text) for lesson in lessons} == {
        (7, "куда платить за квартиру и свет"),
        (7, "куда платить за квартиру и электричество"),
    }
    assert all(lesson.citizens == 2 and lesson.opposed == 0 for lesson in lessons)


def test_one_citizen_teaches_nothing_however_often(embedder):
    evidence = [
        *signs("купить слона недорого", 7, *["citizen:troll"] * 30),
        *signs("куда платить за квартиру и свет", 7, "citizen:troll"),
        *signs("куда платить за квартиру и свет", 7, "citizen:troll"),
    ]

    assert learn(evidence, embedder, KNOWN) == []


def test_confirming_an_entry_for_another_question_does_not_support_nonsense(embedder):
    # The troll's nonsense and a real citizen's question for the same entry mean
    # different things, so neither supports the other.
    evidence = [
        *signs("купить слона недорого", 7, "citizen:troll"),
        *signs("куда платить за квартиру и свет", 7, "citizen:1"),
    ]

    assert learn(evidence, embedder, KNOWN) == []


def test_citizens_who_rejected_the_entry_outweigh_those_who_confirmed_it(embedder):
    evidence = [
        *signs("справка о составе семьи", 7, "citizen:1", "citizen:2"),
        *signs("справка о составе семьи", 7, "citizen:3", "citizen:4", "citizen:5",
               positive=False),
    ]  # fmt: skip

    assert learn(evidence, embedder, KNOWN) == []


def test_an_operators_answer_is_enough_on_its_own(embedder):
    evidence = signs("вывезут ли старый диван", 9, "operator:501")

    [lesson] = learn(evidence, embedder, KNOWN)

    assert (lesson.entry_id, lesson.text, lesson.citizens) == (9, "вывезут ли старый диван", 2)


def test_known_texts_and_unknown_entries_are_not_learned(embedder):
    evidence = [
        *signs("как оплатить жку", 7, "citizen:1", "citizen:2"),  # the entry's own question
        *signs("что-то про архивную запись", 99, "citizen:1", "citizen:2"),  # not published
    ]

    assert learn(evidence, embedder, KNOWN) == []


def test_a_question_confirmed_for_two_entries_stays_with_the_better_supported(embedder):
    text = "нужна справка для субсидии на жкх"
    better = learn(
        [*signs(text, 7, "citizen:1", "citizen:2", "citizen:3"),
         *signs(text, 8, "citizen:4", "citizen:5")],
        embedder,
        KNOWN,
    )  # fmt: skip
    tie = learn(
        [*signs(text, 7, "citizen:1", "citizen:2"), *signs(text, 8, "citizen:4", "citizen:5")],
        embedder,
        KNOWN,
    )

    assert [(lesson.entry_id, lesson.citizens) for lesson in better] == [(7, 3)]
    assert tie == []


def verdicts(count: int, right: int, lead: float, who: str = "citizen") -> list[Verdict]:
    return [Verdict(f"{who}:{lead}:{i}", 0.95, lead, i < right) for i in range(count)]


def test_margin_from_use_waits_for_enough_verdicts():
    assert margin_from_use(verdicts(MIN_VERDICTS - 1, MIN_VERDICTS - 1, 0.05), 0.8) is None
    assert margin_from_use([], 0.8) is None


def test_margin_from_use_is_the_smallest_lead_with_enough_right_answers():
    # Leads under 0.03 are right half of the time, above it nearly always.
    found = [*verdicts(40, 20, 0.01), *verdicts(60, 59, 0.04)]

    margin = margin_from_use(found, 0.8)

    assert margin is not None and 0.01 < margin <= 0.04
    kept = [v for v in found if v.lead >= margin]
    assert sum(v.right for v in kept) / len(kept) >= USE_TARGET


def test_margin_from_use_can_go_below_the_recorded_one_and_ignores_low_scores():
    assert margin_from_use(verdicts(50, 50, 0.001), 0.8) == 0.0
    low = [Verdict(f"c:{i}", 0.5, 0.2, False) for i in range(100)]
    assert margin_from_use([*verdicts(50, 50, 0.001), *low], 0.8) == 0.0


def test_one_citizen_counts_only_a_few_verdicts():
    troll = [Verdict("citizen:troll", 0.95, 0.0, False) for _ in range(500)]
    honest = verdicts(MIN_VERDICTS, MIN_VERDICTS, 0.0)

    # Counted whole, the troll's verdicts would leave no margin with enough right ones.
    assert margin_from_use([*troll, *honest], 0.8) == 0.0
    assert VERDICTS_PER_CITIZEN < 0.1 * MIN_VERDICTS


def test_an_operators_reply_repeating_an_answer_names_its_entry():
    answers = {
        1: learning._triples("Оплатить ЖКУ можно на портале ЖКХ, в банке или на почте."),
        2: learning._triples("Справку выдают в МФЦ в течение трёх рабочих дней."),
    }

    pasted = "Добрый день! Справку выдают в МФЦ в течение трёх рабочих дней. Хорошего дня!"
    assert operator_entry(pasted, answers) == 2
    assert operator_entry("Сейчас уточню и вернусь к вам.", answers) is None
