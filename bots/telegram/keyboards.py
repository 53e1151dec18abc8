"""`Reply.buttons` → an inline keyboard; a button's payload becomes its callback data."""

from __future__ import annotations

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from core.domain import Button

CALLBACK_DATA_LIMIT = 64  # bytes, the Bot API's limit


class CallbackDataError(ValueError):
    """A button payload Telegram would refuse (empty or over 64 bytes)."""


def build_keyboard(rows: tuple[tuple[Button, ...], ...]) -> InlineKeyboardMarkup | None:
    keyboard = [[_button(button) for button in row] for row in rows if row]
    return InlineKeyboardMarkup(inline_keyboard=keyboard) if keyboard else None


def _button(button: Button) -> InlineKeyboardButton:
    size = len(button.payload.encode())
    if not 1 <= size <= CALLBACK_DATA_LIMIT:
        raise CallbackDataError(
            f"button {button.text!r}: payload of {size} bytes, Telegram allows "
            f"1-{CALLBACK_DATA_LIMIT}: {button.payload!r}"
        )
    return InlineKeyboardButton(text=button.text, callback_data=button.payload)
