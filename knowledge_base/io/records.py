"""A record: one entry as a reader found it, before the checks and merging."""

from __future__ import annotations

from dataclasses import dataclass, field

from knowledge_base.io.problems import Origin

QUESTION = "question"
ANSWER = "answer"
CATEGORY = "category"
PHRASINGS = "phrasings"
KEY = "key"
STATUS = "status"

MAX_QUESTION = 500
# A Telegram message holds 4096 characters; leave room for the bot's own words.
MAX_ANSWER = 4000


@dataclass(slots=True)
class Record:
    """One row of a table or one entry of a YAML file, its texts already cleaned.

    Attributes:
        origin: The row or entry as a whole.
        places: Where each field sits (the cell of a table, the line of a YAML field).
        status: The status as written, parsed by the checks.
    """

    origin: Origin
    question: str
    answer: str
    category: str | None = None
    phrasings: tuple[str, ...] = ()
    key: str | None = None
    status: str | None = None
    places: dict[str, Origin] = field(default_factory=dict)

    def at(self, name: str) -> Origin:
        """The place of one field, or of the whole record if it has none of its own."""
        return self.places.get(name, self.origin)


def quote(text: str, limit: int = 60) -> str:
    """Quotes a text for a message, shortened to ``limit`` characters."""
    short = text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
    return f"«{short}»"
