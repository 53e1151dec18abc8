"""The counting the fault tests rely on, on made-up transcripts (no bot process)."""

from tests.e2e.faults.database import unanswered
from tests.e2e.faults.pool import Question
from tests.e2e.faults.verdict import judge


class RecordedChat:
    name = "recorded"
    first_citizen = 1

    def __init__(self, replies: dict[int, list[str]]) -> None:
        self._replies = replies

    def ask(self, citizen: int, text: str) -> None:
        raise AssertionError("nobody asks here")

    def replies(self, citizen: int) -> list[str]:
        return self._replies.get(citizen, [])

    def sent_count(self) -> int:
        return sum(map(len, self._replies.values()))


def question(number: int) -> Question:
    return Question(f"k{number}", f"вопрос {number}", f"Ответ {number}.\nПодробности {number}.")


def test_split_duplicated_lost_and_reordered_replies_are_counted():
    one, two, three = question(1), question(2), question(3)
    chat = RecordedChat(
        {
            # 1: the first answer split in two parts, the second lost, the third twice.
            1: [
                "Ответ 1.",
                "Подробности 1.",
                "Ответ 3. Подробности 3.",
                "Ответ 3.\nПодробности 3.",
                "Ничего не нашлось",
            ],
            # 2: both answers, in the wrong order.
            2: ["Ответ 2. Подробности 2.", "Ответ 1. Подробности 1."],
        }
    )
    verdict = judge({1: [one, two, three], 2: [one, two]}, chat)
    assert verdict.line() == ("questions=5 answers=5 lost=1 duplicates=1 other=1 out_of_order=1")


def test_a_reply_row_answers_only_one_earlier_inbound_text():
    rows = [
        # Conversation 1: three questions, two replies (the later ones do not cover it).
        (1, "in", "text"), (1, "in", "text"), (1, "out", "text"), (1, "in", "text"),
        (1, "out", "text"),
        # Conversation 2: a reply before any question answers nothing; a photo needs none.
        (2, "out", "text"), (2, "in", "photo"), (2, "in", "text"), (2, "out", "text"),
    ]  # fmt: skip
    assert unanswered(rows) == (4, 1)
