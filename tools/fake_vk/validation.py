"""The checks VK applies to `messages.send` arguments, as far as our bot depends on them."""

from __future__ import annotations

import json
from typing import Any

TEXT_LIMIT = 4096
LABEL_LIMIT = 40
PAYLOAD_LIMIT = 255
ROW_WIDTH = 5
INLINE_ROWS, INLINE_BUTTONS = 6, 10
REGULAR_ROWS, REGULAR_BUTTONS = 10, 40
BUTTON_TYPES = {"text", "callback", "open_link", "location", "vkpay", "open_app"}


class VkError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(code, message)
        self.code = code
        self.message = message


def param_error(detail: str) -> VkError:
    return VkError(100, f"One of the parameters specified was missing or invalid: {detail}")


def check_text(text: str, has_attachment: bool) -> None:
    if len(text) > TEXT_LIMIT:
        raise VkError(914, "Message is too long")
    if not text.strip() and not has_attachment:
        raise param_error("message is empty or invalid")


def parse_keyboard(raw: str) -> dict[str, Any]:
    """Parse and validate a ``keyboard`` argument; raise ``VkError`` 911 when VK would."""
    try:
        keyboard = json.loads(raw)
    except ValueError:
        raise _keyboard_error("not JSON") from None
    if not isinstance(keyboard, dict):
        raise _keyboard_error("not an object")
    rows = keyboard.get("buttons")
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise _keyboard_error("buttons must be an array of arrays")
    inline = bool(keyboard.get("inline", False))
    max_rows, max_buttons = (
        (INLINE_ROWS, INLINE_BUTTONS) if inline else (REGULAR_ROWS, REGULAR_BUTTONS)
    )
    if len(rows) > max_rows:
        raise _keyboard_error(f"more than {max_rows} rows")
    if sum(len(row) for row in rows) > max_buttons:
        raise _keyboard_error(f"more than {max_buttons} buttons")
    for row in rows:
        if len(row) > ROW_WIDTH:
            raise _keyboard_error(f"more than {ROW_WIDTH} buttons in a row")
        for button in row:
            _check_button(button)
    return keyboard


def _check_button(button: Any) -> None:
    action = button.get("action") if isinstance(button, dict) else None
    if not isinstance(action, dict) or action.get("type") not in BUTTON_TYPES:
        raise _keyboard_error("button action is missing or of an unknown type")
    if action["type"] in {"text", "callback", "open_link"}:
        label = action.get("label")
        if not isinstance(label, str) or not label:
            raise _keyboard_error("button label is missing")
        if len(label) > LABEL_LIMIT:
            raise _keyboard_error(f"button label is longer than {LABEL_LIMIT} characters")
    if "payload" in action:
        _check_payload(action["payload"])


def _check_payload(payload: Any) -> None:
    text = payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False)
    if len(text) > PAYLOAD_LIMIT:
        raise _keyboard_error(f"payload is longer than {PAYLOAD_LIMIT} characters")
    try:
        json.loads(text)
    except ValueError:
        raise _keyboard_error("payload is not JSON") from None


def _keyboard_error(detail: str) -> VkError:
    return VkError(911, f"Keyboard format is invalid: {detail}")
