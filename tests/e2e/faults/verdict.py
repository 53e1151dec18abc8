"""What the citizens got compared with what they asked: lost answers, duplicates, order."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from tests.e2e.faults.pool import Question, normalized
from tests.e2e.faults.traffic import Chat

DUPLICATE_SHARE = 0.01


@dataclass
class Verdict:
    questions: int = 0
    answers: int = 0  # expected answers received, duplicates included
    lost: int = 0
    duplicates: int = 0
    other: int = 0  # replies that are none of the expected answers
    out_of_order: int = 0  # citizens whose answers came in another order than asked
    examples: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"questions={self.questions} answers={self.answers} lost={self.lost} "
            f"duplicates={self.duplicates} other={self.other} out_of_order={self.out_of_order}"
        )

    def note(self, text: str) -> None:
        if len(self.examples) < 12:
            self.examples.append(text)


def reassemble(texts: Sequence[str], expected: set[str]) -> list[str]:
    """Join the parts of a split reply back into one (normalized) text."""
    parts = [normalized(t) for t in texts]
    replies, i = [], 0
    while i < len(parts):
        joined, end = parts[i], i
        while joined not in expected and end + 1 < len(parts):
            longer = f"{joined} {parts[end + 1]}"
            if not any(answer.startswith(longer) for answer in expected):
                break
            joined, end = longer, end + 1
        if joined in expected:
            replies.append(joined)
            i = end + 1
        else:
            replies.append(parts[i])
            i += 1
    return replies


def judge(asked: dict[int, list[Question]], chat: Chat) -> Verdict:
    verdict = Verdict()
    for citizen, questions in sorted(asked.items()):
        answers = [normalized(q.answer) for q in questions]
        replies = reassemble(chat.replies(citizen), set(answers))
        verdict.questions += len(questions)
        for question, answer in zip(questions, answers, strict=True):
            count = replies.count(answer)
            verdict.answers += count
            if count == 0:
                verdict.lost += 1
                verdict.note(f"{chat.name} {citizen}: no answer to {question.text!r}")
            elif count > 1:
                verdict.duplicates += count - 1
                verdict.note(f"{chat.name} {citizen}: {count}x the answer to {question.text!r}")
        for reply in replies:
            if reply not in answers:
                verdict.other += 1
                verdict.note(f"{chat.name} {citizen}: unexpected reply {reply[:80]!r}")
        firsts = [answer for answer in dict.fromkeys(replies) if answer in answers]
        if firsts != [answer for answer in answers if answer in firsts]:
            verdict.out_of_order += 1
            verdict.note(f"{chat.name} {citizen}: answers out of order")
    return verdict
