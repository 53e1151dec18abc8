"""Checks the real Bot API makes before it accepts a message."""

from __future__ import annotations

import re
from typing import Any

from tools.fake_telegram.errors import bad_request

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_DATA_LIMIT = 64
CALLBACK_ANSWER_LIMIT = 200

_HTML_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)(?:\s[^<>]*)?>")
_HTML_TAGS = frozenset(
    {
        "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span",
        "tg-spoiler", "a", "code", "pre", "blockquote", "tg-emoji",
    }
)  # fmt: skip
_MARKDOWN_V2_RESERVED = ".!-=+#|{}>"
_BUTTON_ACTIONS = (
    "callback_data",
    "url",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "callback_game",
    "pay",
    "web_app",
    "copy_text",
)


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def check_text(text: Any, parse_mode: Any = None) -> str:
    if not isinstance(text, str) or not text.strip():
        raise bad_request("message text is empty")
    check_parse_mode(text, parse_mode)
    if utf16_len(text.strip()) > TEXT_LIMIT:
        raise bad_request("message is too long")
    return text


def check_caption(caption: Any) -> str | None:
    if caption is None:
        return None
    if not isinstance(caption, str):
        raise bad_request("caption must be a String")
    if utf16_len(caption.strip()) > CAPTION_LIMIT:
        raise bad_request("message caption is too long")
    return caption


def check_parse_mode(text: str, parse_mode: Any) -> None:
    if parse_mode in (None, ""):
        return
    mode = str(parse_mode).lower()
    if mode == "html":
        _check_html(text)
    elif mode == "markdownv2":
        _check_markdown_v2(text)
    elif mode == "markdown":
        _check_markdown(text)
    else:
        raise bad_request("unsupported parse_mode")


def _entities_error(reason: str, text: str, index: int) -> Exception:
    offset = len(text[:index].encode())
    return bad_request(f"can't parse entities: {reason} at byte offset {offset}")


def _check_html(text: str) -> None:
    open_tags: list[str] = []
    position = 0
    while (index := text.find("<", position)) != -1:
        match = _HTML_TAG.match(text, index)
        if match is None:
            raise _entities_error("Unexpected end of name token", text, index)
        closing, name = match.group(1), match.group(2).lower()
        if name not in _HTML_TAGS:
            raise _entities_error(f'Unsupported start tag "{name}"', text, index)
        if not closing:
            open_tags.append(name)
        elif not open_tags or open_tags.pop() != name:
            raise _entities_error(f'Unexpected end tag "{name}"', text, index)
        position = match.end()
    if open_tags:
        raise bad_request(
            "can't parse entities: Can't find end tag corresponding to start tag "
            f'"{open_tags[-1]}"'
        )


def _check_markdown_v2(text: str) -> None:
    escaped = False
    for char in text:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char in _MARKDOWN_V2_RESERVED:
            raise bad_request(
                f"can't parse entities: Character '{char}' is reserved and must be "
                "escaped with the preceding '\\'"
            )


def _check_markdown(text: str) -> None:
    for marker in ("*", "_", "`"):
        if text.count(marker) % 2:
            raise _entities_error(
                "Can't find end of the entity starting", text, text.rfind(marker)
            )


def check_markup(markup: Any) -> dict[str, Any] | None:
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in markup:
        _check_inline_keyboard(markup["inline_keyboard"])
    elif not any(key in markup for key in ("keyboard", "remove_keyboard", "force_reply")):
        raise bad_request("can't parse reply keyboard markup JSON object")
    return markup


def _check_inline_keyboard(rows: Any) -> None:
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request(
            'field "inline_keyboard" of the InlineKeyboardMarkup should be an Array of Arrays'
        )
    for row in rows:
        for button in row:
            _check_button(button)


def _check_button(button: Any) -> None:
    if not isinstance(button, dict):
        raise bad_request(
            "can't parse inline keyboard button: InlineKeyboardButton must be an Object"
        )
    text = button.get("text")
    if not isinstance(text, str) or not text.strip():
        raise bad_request(
            'can\'t parse inline keyboard button: Field "text" must be of type String'
        )
    if not any(action in button for action in _BUTTON_ACTIONS):
        raise bad_request(
            "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
        )
    if "callback_data" in button:
        data = button["callback_data"]
        if not isinstance(data, str) or not 1 <= len(data.encode()) <= CALLBACK_DATA_LIMIT:
            raise bad_request("BUTTON_DATA_INVALID")
    if "url" in button:
        url = button["url"]
        if not isinstance(url, str) or not url.startswith(("http://", "https://", "tg://")):
            raise bad_request("BUTTON_URL_INVALID")
