"""`Reply.buttons` → a VK inline keyboard of text buttons."""

from __future__ import annotations

import json
import logging

from vkbottle import Keyboard, Text

from core.domain import Button

log = logging.getLogger(__name__)

INLINE_ROWS = 6
INLINE_BUTTONS = 10
ROW_WIDTH = 5
LABEL_LIMIT = 40
PAYLOAD_LIMIT = 255


class PayloadTooLong(ValueError):
    """A button payload that VK would refuse (over 255 characters of JSON)."""


def encode_payload(payload: str) -> str:
    encoded = json.dumps({"c": payload}, ensure_ascii=False, separators=(",", ":"))
    if len(encoded) > PAYLOAD_LIMIT:
        raise PayloadTooLong(f"payload of {len(encoded)} characters, VK allows {PAYLOAD_LIMIT}")
    return encoded


def short_label(text: str) -> str:
    """The label as VK shows it: one line, at most 40 characters, cut with «…»."""
    label = " ".join(text.split())
    if len(label) <= LABEL_LIMIT:
        return label
    return label[: LABEL_LIMIT - 1].rstrip() + "…"


def build_keyboard(rows: tuple[tuple[Button, ...], ...]) -> str | None:
    """The keyboard JSON for ``messages.send``, or None when there is nothing to show.

    Buttons past VK's inline limits (6 rows, 5 a row, 10 in all) and buttons VK would
    refuse are left out and logged: the citizen still gets the text.
    """
    keyboard = Keyboard(inline=True)
    count = 0
    for row in rows[:INLINE_ROWS]:
        keyboard.row()
        for button in row[:ROW_WIDTH]:
            if count < INLINE_BUTTONS and _add(keyboard, button):
                count += 1
    total = sum(len(row) for row in rows)
    if count < total:
        log.error("VK keyboard: %d of %d buttons left out", total - count, total)
    return keyboard.get_json() if count else None


def _add(keyboard: Keyboard, button: Button) -> bool:
    label = short_label(button.text)
    if not label:
        return False
    try:
        payload = encode_payload(button.payload)
    except PayloadTooLong as error:
        log.error("VK keyboard: button %r left out: %s", label, error)
        return False
    keyboard.add(Text(label, payload=payload))
    return True
