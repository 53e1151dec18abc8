"""How a reply to a message asking several questions is made of the searches of its
questions (`nlu.retrieval.plan_reply`, `part_messages`)."""

from core.domain import Decision
from knowledge_base.index import Hit, IndexedEntry
from knowledge_base.search import SearchResult
from nlu import texts
from nlu.payloads import Action, decode
from nlu.retrieval import part_messages, plan_reply

ENTRIES = {i: IndexedEntry(i, f"Вопрос {i}?", f"Ответ {i}.") for i in range(1, 8)}


def result(decision: Decision, *ids: int, query: str = "q") -> SearchResult:
    hits = [Hit(ENTRIES[i], 0.9 - n / 100, 0.9, 0.5, 0.9) for n, i in enumerate(ids)]
    return SearchResult(query, query, hits, decision, 1)


WHOLE = result(Decision.CLARIFY, 1, 2, 3, query="whole")


def test_one_question_is_the_whole_message():
    assert plan_reply(WHOLE, []) == [(0, WHOLE)]
    assert plan_reply(WHOLE, [result(Decision.ANSWER, 1)]) == [(0, WHOLE)]


def test_two_confident_questions_of_different_entries_get_two_answers():
    first, second = result(Decision.ANSWER, 1, 2), result(Decision.ANSWER, 4, 5)
    assert plan_reply(WHOLE, [first, second]) == [(1, first), (2, second)]


def test_the_same_entry_twice_is_answered_once():
    first, second = result(Decision.ANSWER, 4, 2), result(Decision.ANSWER, 4, 5)
    assert plan_reply(WHOLE, [first, second]) == [(1, first)]


def test_a_confident_and_a_vague_question():
    sure, vague = result(Decision.ANSWER, 4), result(Decision.CLARIFY, 5, 6, 7)
    assert plan_reply(WHOLE, [sure, vague]) == [(1, sure), (2, vague)]
    # The vague one offers the answered entry: the same question put twice.
    overlapping = result(Decision.CLARIFY, 5, 4, 7)
    assert plan_reply(WHOLE, [sure, overlapping]) == [(1, sure)]
    # A question nothing was found for is not mentioned.
    lost = result(Decision.HANDOFF, 6)
    assert plan_reply(WHOLE, [lost, sure]) == [(2, sure)]


def test_one_confident_question_the_whole_message_answers_too_is_answered_as_before():
    whole = result(Decision.ANSWER, 4, 1)
    sure, lost = result(Decision.ANSWER, 4), result(Decision.HANDOFF, 6)
    assert plan_reply(whole, [sure, lost]) == [(0, whole)]


def test_no_confident_question_is_the_whole_message():
    parts = [result(Decision.CLARIFY, 4, 5), result(Decision.HANDOFF, 6)]
    assert plan_reply(WHOLE, parts) == [(0, WHOLE)]


def test_at_most_three_answers():
    parts = [result(Decision.ANSWER, i) for i in (1, 2, 3)]
    assert [n for n, _ in plan_reply(WHOLE, parts)] == [1, 2, 3]


def test_part_messages():
    [answer] = part_messages(result(Decision.ANSWER, 4), 11, "про четыре")
    assert answer.text == texts.answer_to("Вопрос 4?", "Ответ 4.")
    payloads = [decode(b.payload) for row in answer.buttons for b in row]
    assert [(p.action, p.ref) for p in payloads] == [
        (Action.HELPED, 11),
        (Action.NOT_HELPED, 11),
        (Action.OPERATOR, 11),
    ]

    [clarify] = part_messages(result(Decision.CLARIFY, 5, 6, 7), 12, "а " * 60 + "что")
    assert clarify.text.startswith("По вопросу «а а")
    assert "…» уточните" in clarify.text
    assert clarify.text.endswith("1. Вопрос 5?\n2. Вопрос 6?\n3. Вопрос 7?")
    choices = [decode(b.payload) for row in clarify.buttons for b in row]
    assert [(c.action, c.entry_id) for c in choices[:3]] == [(Action.CHOOSE, i) for i in (5, 6, 7)]
    assert {c.ref for c in choices} == {12}
