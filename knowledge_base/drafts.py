"""Knowledge-base entries as they come from a file, before they reach the database."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class EntryStatus(StrEnum):
    PUBLISHED = "published"
    DRAFT = "draft"
    ARCHIVED = "archived"


@dataclass(frozen=True, slots=True)
class EntryDraft:
    """One FAQ entry read from an import file.

    Attributes:
        question: The main question.
        answer: The answer shown to citizens (plain text).
        category: The category name, if the file has one.
        phrasings: Alternative ways citizens ask the same question.
        key: A stable identifier from the file (our YAML format), if any.
        status: Published entries are searchable; drafts and archived ones are not.
        origin: Where in the file it came from, for messages (``"faq.csv, строка 12"``).
    """

    question: str
    answer: str
    category: str | None = None
    phrasings: tuple[str, ...] = ()
    key: str | None = None
    status: EntryStatus = EntryStatus.PUBLISHED
    origin: str = ""
