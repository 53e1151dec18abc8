"""Checks of single records: empty and overlong texts, keys, statuses, repeated keys."""

from __future__ import annotations

import re
from collections.abc import Sequence

from knowledge_base.drafts import EntryStatus
from knowledge_base.io.problems import ProblemLog
from knowledge_base.io.records import (
    ANSWER,
    KEY,
    MAX_ANSWER,
    MAX_QUESTION,
    PHRASINGS,
    QUESTION,
    STATUS,
    Record,
    quote,
)
from knowledge_base.io.text import question_key

KEY_PATTERN = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
MAX_KEY = 64  # the width of faq_entries.key
_STATUS_WORDS: dict[str, EntryStatus] = {
    "published": EntryStatus.PUBLISHED,
    "опубликовано": EntryStatus.PUBLISHED,
    "опубликован": EntryStatus.PUBLISHED,
    "опубликована": EntryStatus.PUBLISHED,
    "draft": EntryStatus.DRAFT,
    "черновик": EntryStatus.DRAFT,
    "archived": EntryStatus.ARCHIVED,
    "archive": EntryStatus.ARCHIVED,
    "архив": EntryStatus.ARCHIVED,
    "в архиве": EntryStatus.ARCHIVED,
    "архивировано": EntryStatus.ARCHIVED,
}
# The words written on export, so that an editor sees Russian in Excel.
STATUS_LABELS: dict[EntryStatus, str] = {
    EntryStatus.PUBLISHED: "опубликовано",
    EntryStatus.DRAFT: "черновик",
    EntryStatus.ARCHIVED: "в архиве",
}


def parse_status(value: str | None) -> EntryStatus | None:
    """Reads a status in English or Russian; empty means published, unknown is None."""
    if not value:
        return EntryStatus.PUBLISHED
    return _STATUS_WORDS.get(question_key(value))


def check_records(records: Sequence[Record], log: ProblemLog) -> list[Record]:
    """Checks every record on its own and keys across records.

    Returns:
        The records that have both a question and an answer, for the cross checks;
        problems of the other kinds do not keep a record out of them.
    """
    complete = []
    for record in records:
        _check_texts(record, log)
        _check_key_and_status(record, log)
        if record.question and record.answer:
            complete.append(record)
    _check_repeated_keys(records, log)
    return complete


def _check_texts(record: Record, log: ProblemLog) -> None:
    if not record.question:
        log.add(record.at(QUESTION), "пустой вопрос — впишите его или уберите эту запись")
    elif len(record.question) > MAX_QUESTION:
        log.add(
            record.at(QUESTION),
            f"вопрос длиннее {MAX_QUESTION} символов ({len(record.question)}) — "
            "похоже, сюда попал ответ; сократите вопрос",
        )
    for phrasing in record.phrasings:
        if len(phrasing) > MAX_QUESTION:
            log.add(
                record.at(PHRASINGS),
                f"формулировка {quote(phrasing)} длиннее {MAX_QUESTION} символов "
                f"({len(phrasing)}) — сократите её",
            )
    if not record.answer:
        log.add(record.at(ANSWER), "пустой ответ — впишите его или уберите эту запись")
    elif len(record.answer) > MAX_ANSWER:
        log.add(
            record.at(ANSWER),
            f"ответ длиннее {MAX_ANSWER} символов ({len(record.answer)}): в Telegram одно "
            "сообщение вмещает не больше 4096 символов — сократите ответ "
            "или разделите его на несколько вопросов",
        )


def _check_key_and_status(record: Record, log: ProblemLog) -> None:
    key = record.key
    if key is not None and (len(key) > MAX_KEY or not KEY_PATTERN.fullmatch(key)):
        log.add(
            record.at(KEY),
            f"ключ {quote(key)} не подходит: нужны строчные латинские буквы, цифры и дефисы "
            f"(например, zhkh-oplata), не длиннее {MAX_KEY} символов",
        )
    if parse_status(record.status) is None:
        log.add(
            record.at(STATUS),
            f"неизвестный статус {quote(record.status or '')}: допустимы «опубликовано» "
            "(published), «черновик» (draft), «в архиве» (archived)",
        )


def _check_repeated_keys(records: Sequence[Record], log: ProblemLog) -> None:
    first_with: dict[str, Record] = {}
    for record in records:
        if record.key is None:
            continue
        first = first_with.setdefault(record.key, record)
        if first is not record:
            where = first.origin.describe(relative_to=record.origin.file)
            log.add(
                record.at(KEY),
                f"ключ {quote(record.key)} уже есть ({where}) — ключи должны быть разными",
            )
