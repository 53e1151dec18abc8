"""Button payloads: short strings (Telegram allows 64 bytes) the conversation service
decodes. ``ref`` is the search-log row a feedback or choice button refers to, or the
stored dialogue button a ``DIALOGUE`` payload stands for."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Action(StrEnum):
    HELPED = "fh"
    NOT_HELPED = "fn"
    OPERATOR = "op"
    CHOOSE = "q"
    CANCEL = "cx"
    DIALOGUE = "dg"
    RATE = "rt"  # the citizen's rating of an operator: ref is the case, entry_id the score


@dataclass(frozen=True, slots=True)
class Payload:
    action: Action
    ref: int | None = None
    entry_id: int | None = None

    def encode(self) -> str:
        parts = [self.action.value, str(self.ref or 0)]
        if self.entry_id is not None:
            parts.append(str(self.entry_id))
        return ":".join(parts)


def decode(raw: str | None) -> Payload | None:
    """The payload of a button, or None for anything we did not issue."""
    if not raw or len(raw) > 64:
        return None
    parts = raw.split(":")
    try:
        action = Action(parts[0])
        numbers = [int(p) for p in parts[1:]]
    except ValueError:
        return None
    if not numbers or len(numbers) > 2 or any(n < 0 for n in numbers):
        return None
    if (action in (Action.CHOOSE, Action.RATE)) != (len(numbers) == 2):
        return None
    return Payload(action, numbers[0] or None, numbers[1] if len(numbers) == 2 else None)
