"""Merging of repeated rows into entries, and the checks that span entries.

Two rules merge records silently:

* a record whose question (compared ignoring case, extra spaces and ё/е) and answer
  repeat an earlier one is folded into it, their phrasings united;
* in tables only (CSV, XLSX), records with exactly the same answer but different
  questions become one entry: the first record's question is the main question and
  the other questions become its phrasings. Real FAQ spreadsheets list several
  wordings of one question as separate rows this way.

Records are merged only when they agree: the same category, status and key, or
none given on one side. The same question with a
different answer, a phrasing that is another entry's question or phrasing, are
problems: the bot could not tell which answer to give.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from knowledge_base.drafts import EntryDraft, EntryStatus
from knowledge_base.io.problems import Origin, ProblemLog
from knowledge_base.io.records import ANSWER, PHRASINGS, QUESTION, Record, quote
from knowledge_base.io.text import question_key
from knowledge_base.io.validation import parse_status


@dataclass(slots=True)
class _Group:
    """Records that become one entry."""

    head: Record
    question: str
    answer: str
    category: str | None
    key: str | None
    status: EntryStatus | None
    phrasings: list[tuple[str, Origin]] = field(default_factory=list)

    @classmethod
    def start(cls, record: Record) -> _Group:
        group = cls(
            record,
            record.question,
            record.answer,
            record.category,
            record.key,
            parse_status(record.status) if record.status else None,
        )
        group.phrasings = [(p, record.at(PHRASINGS)) for p in record.phrasings]
        return group

    def agrees_with(self, other: _Group) -> bool:
        return (
            _same_or_missing(self.category, other.category)
            and _same_or_missing(self.status, other.status)
            and _same_or_missing(self.key, other.key)
        )

    def absorb(self, other: _Group, *, with_question: bool) -> None:
        if with_question:
            self.phrasings.append((other.question, other.head.at(QUESTION)))
        self.phrasings.extend(other.phrasings)
        self.category = self.category or other.category
        self.key = self.key or other.key
        self.status = self.status or other.status

    def to_draft(self) -> EntryDraft:
        seen = {question_key(self.question)}
        phrasings = []
        for phrasing, _ in self.phrasings:
            if question_key(phrasing) not in seen:
                seen.add(question_key(phrasing))
                phrasings.append(phrasing)
        return EntryDraft(
            question=self.question,
            answer=self.answer,
            category=self.category,
            phrasings=tuple(phrasings),
            key=self.key,
            status=self.status or EntryStatus.PUBLISHED,
            origin=self.head.origin.describe(),
        )


def _same_or_missing(first: object, second: object) -> bool:
    return first is None or second is None or first == second


def _where(group: _Group, seen_from: Origin) -> str:
    return group.head.origin.describe(relative_to=seen_from.file)


def merge_records(
    records: Sequence[Record], log: ProblemLog, *, merge_same_answers: bool
) -> list[EntryDraft]:
    """Folds repeated records into entries and reports conflicts between them.

    Args:
        records: Records that have a question and an answer, in file order.
        log: Receives the problems.
        merge_same_answers: Also merge records that share an answer (tables).

    Returns:
        The entries, in the order of their first record.
    """
    groups = _merge_same_questions(records, log)
    if merge_same_answers:
        groups = _merge_same_answers(groups)
    _check_phrasings(groups, log)
    return [group.to_draft() for group in groups]


def _merge_same_questions(records: Sequence[Record], log: ProblemLog) -> list[_Group]:
    by_question: dict[str, _Group] = {}
    for record in records:
        group = _Group.start(record)
        first = by_question.setdefault(question_key(record.question), group)
        if first is group:
            continue
        where = _where(first, record.origin)
        if first.answer != record.answer:
            log.add(
                record.at(ANSWER),
                f"вопрос {quote(record.question)} уже есть ({where}) с другим ответом — "
                "оставьте один ответ или измените один из вопросов",
            )
        elif not first.agrees_with(group):
            log.add(
                record.origin.row_only(),
                f"запись повторяет вопрос и ответ ({where}), но с другой категорией, "
                "статусом или ключом — оставьте одну из этих записей",
            )
        else:
            first.absorb(group, with_question=False)
    return list(by_question.values())


def _merge_same_answers(groups: list[_Group]) -> list[_Group]:
    by_answer: dict[str, list[_Group]] = {}
    kept = []
    for group in groups:
        heads = by_answer.setdefault(group.answer, [])
        head = next((h for h in heads if h.agrees_with(group)), None)
        if head is None:
            heads.append(group)
            kept.append(group)
        else:
            head.absorb(group, with_question=True)
    return kept


def _check_phrasings(groups: list[_Group], log: ProblemLog) -> None:
    owner: dict[str, _Group] = {question_key(g.question): g for g in groups}
    for group in groups:
        for phrasing, place in group.phrasings:
            phrasing_key = question_key(phrasing)
            first = owner.setdefault(phrasing_key, group)
            if first is group:
                continue
            kind = "вопросом" if question_key(first.question) == phrasing_key else "формулировкой"
            log.add(
                place,
                f"формулировка {quote(phrasing)} совпадает с {kind} другой записи "
                f"({_where(first, place)}) — бот не поймёт, какой ответ давать; "
                "оставьте её в одной записи",
            )
