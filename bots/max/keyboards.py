"""`Reply.buttons` → a MAX inline keyboard of callback buttons."""

from __future__ import annotations

import logging

from maxapi.types.attachments.buttons import CallbackButton
from maxapi.types.attachments.buttons.attachment_button import AttachmentButton
from maxapi.utils.inline_keyboard import InlineKeyboardBuilder

from core.domain import Button

log = logging.getLogger(__name__)

# MAX allows 30 rows of 7 buttons; our keyboards are far smaller.
INLINE_ROWS = 30
ROW_WIDTH = 7
INLINE_BUTTONS = 210
LABEL_LIMIT = 64  # button text: 1–64 characters
PAYLOAD_LIMIT = 256


def short_label(text: str) -> str:
    """One line, at most ``LABEL_LIMIT`` characters, cut with «…»."""
    label = " ".join(text.split())
    if len(label) <= LABEL_LIMIT:
        return label
    return label[: LABEL_LIMIT - 1].rstrip() + "…"


def build_keyboard(rows: tuple[tuple[Button, ...], ...]) -> AttachmentButton | None:
    """The ``inline_keyboard`` attachment for ``POST /messages``, or None when there is
    nothing to show. A button MAX would refuse is left out and logged: the citizen
    still gets the text."""
    keyboard = InlineKeyboardBuilder()
    total = sum(len(row) for row in rows)
    count = 0
    for row in rows[:INLINE_ROWS]:
        line = []
        for button in row[:ROW_WIDTH]:
            label = short_label(button.text)
            if not label or count >= INLINE_BUTTONS:
                continue
            if len(button.payload) > PAYLOAD_LIMIT:
                log.error("MAX keyboard: button %r left out: payload too long", label)
                continue
            line.append(CallbackButton(text=label, payload=button.payload))
            count += 1
        if line:
            keyboard.row(*line)
    if count < total:
        log.error("MAX keyboard: %d of %d buttons left out", total - count, total)
    return keyboard.as_markup() if count else None
