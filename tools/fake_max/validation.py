"""The checks MAX applies to a ``NewMessageBody`` (``POST``/``PUT /messages``, the
``message`` of ``POST /answers``): text length, attachment shapes and inline keyboards."""

from __future__ import annotations

from typing import Any

from tools.fake_max.errors import MaxError, bad_request
from tools.fake_max.limits import (
    BUTTON_TEXT_LIMIT,
    CALLBACK_PAYLOAD_LIMIT,
    KEYBOARD_BUTTONS,
    KEYBOARD_ROW_WIDTH,
    KEYBOARD_ROWS,
    LINK_URL_LIMIT,
    TEXT_LIMIT,
)

FORMATS = frozenset({"markdown", "html"})
LINK_TYPES = frozenset({"forward", "reply"})
BUTTON_TYPES = frozenset(
    {
        "callback",
        "link",
        "request_contact",
        "request_geo_location",
        "message",
        "open_app",
        "clipboard",
    }
)
INTENTS = frozenset({"default", "positive", "negative"})
UPLOAD_KINDS = ("image", "video", "audio", "file")
ATTACHMENT_TYPES = frozenset(
    {*UPLOAD_KINDS, "sticker", "contact", "inline_keyboard", "location", "share"}
)
SENDER_ACTIONS = frozenset(
    {"typing_on", "sending_photo", "sending_video", "sending_audio", "sending_file", "mark_seen"}
)


def check_message_body(body: Any, *, editing: bool = False) -> dict[str, Any]:
    """Validate a ``NewMessageBody``; return it (a dict) or raise the 400 MAX answers."""
    if not isinstance(body, dict):
        raise bad_request("Request body must be a JSON object")
    text = body.get("text")
    if text is not None and not isinstance(text, str):
        raise bad_request("text: must be a string")
    if isinstance(text, str) and len(text) > TEXT_LIMIT:
        raise bad_request(f"text: size must be between 0 and {TEXT_LIMIT}")
    attachments = body.get("attachments")
    if attachments is not None:
        if not isinstance(attachments, list):
            raise bad_request("attachments: must be an array")
        for attachment in attachments:
            check_attachment(attachment)
        keyboards = [a for a in attachments if a["type"] == "inline_keyboard"]
        if len(keyboards) > 1:
            raise bad_request("attachments: only one inline_keyboard per message")
    if not editing and not text and not attachments:
        raise bad_request("Message must contain text or attachments")
    fmt = body.get("format")
    if fmt is not None and fmt not in FORMATS:
        raise bad_request(f"format: must be one of {sorted(FORMATS)}")
    notify = body.get("notify")
    if notify is not None and not isinstance(notify, bool):
        raise bad_request("notify: must be a boolean")
    link = body.get("link")
    if link is not None:
        if not isinstance(link, dict) or link.get("type") not in LINK_TYPES:
            raise bad_request("link.type: must be forward or reply")
        if not isinstance(link.get("mid"), str) or not link["mid"]:
            raise bad_request("link.mid: must not be empty")
    return body


def check_attachment(attachment: Any) -> None:
    if not isinstance(attachment, dict):
        raise bad_request("attachments: every attachment must be an object")
    kind = attachment.get("type")
    if kind not in ATTACHMENT_TYPES:
        raise bad_request(f"attachments: unknown attachment type {kind!r}")
    payload = attachment.get("payload")
    if kind == "location":
        for key in ("latitude", "longitude"):
            value = attachment.get(key)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise bad_request(f"location.{key}: must be a number")
        return
    if not isinstance(payload, dict):
        raise bad_request(f"{kind}.payload: must be an object")
    if kind == "inline_keyboard":
        check_keyboard(payload)
    elif kind == "image":
        if not any(payload.get(key) for key in ("token", "url", "photos")):
            raise bad_request("image.payload: one of token, url or photos is required")
    elif kind in UPLOAD_KINDS:
        if not isinstance(payload.get("token"), str) or not payload["token"]:
            raise bad_request(f"{kind}.payload.token: must not be empty")
    elif kind == "sticker" and not isinstance(payload.get("code"), str):
        raise bad_request("sticker.payload.code: must not be empty")


def check_keyboard(payload: dict[str, Any]) -> None:
    """30 rows of at most 7 buttons (210 in all); the button fields as the schema has them."""
    rows = payload.get("buttons")
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise _keyboard("buttons must be an array of arrays")
    if not rows:
        raise _keyboard("at least one row of buttons is required")
    if len(rows) > KEYBOARD_ROWS:
        raise _keyboard(f"at most {KEYBOARD_ROWS} rows are allowed, got {len(rows)}")
    for number, row in enumerate(rows, 1):
        if not row:
            raise _keyboard(f"row {number} is empty")
        if len(row) > KEYBOARD_ROW_WIDTH:
            raise _keyboard(
                f"at most {KEYBOARD_ROW_WIDTH} buttons in a row are allowed, "
                f"row {number} has {len(row)}"
            )
        for button in row:
            check_button(button)
    total = sum(len(row) for row in rows)
    if total > KEYBOARD_BUTTONS:
        raise _keyboard(f"at most {KEYBOARD_BUTTONS} buttons are allowed, got {total}")


def check_button(button: Any) -> None:
    if not isinstance(button, dict):
        raise _keyboard("every button must be an object")
    kind = button.get("type")
    if kind not in BUTTON_TYPES:
        raise _keyboard(f"unknown button type {kind!r}")
    text = button.get("text")
    if not isinstance(text, str) or not 1 <= len(text) <= BUTTON_TEXT_LIMIT:
        raise _keyboard(f"button text must be 1 to {BUTTON_TEXT_LIMIT} characters")
    if kind in {"callback", "clipboard"}:
        payload = button.get("payload")
        if not isinstance(payload, str) or not payload:
            raise _keyboard(f"{kind} button payload is required")
        if len(payload) > CALLBACK_PAYLOAD_LIMIT:
            raise _keyboard(f"button payload is longer than {CALLBACK_PAYLOAD_LIMIT} characters")
    if kind == "callback" and button.get("intent", "default") not in INTENTS:
        raise _keyboard(f"button intent must be one of {sorted(INTENTS)}")
    if kind == "link":
        url = button.get("url")
        if not isinstance(url, str) or not url or len(url) > LINK_URL_LIMIT:
            raise _keyboard(f"link button url must be 1 to {LINK_URL_LIMIT} characters")
    if kind == "open_app" and not isinstance(button.get("web_app"), str):
        raise _keyboard("open_app button web_app is required")


def _keyboard(detail: str) -> MaxError:
    return bad_request(f"inline_keyboard: {detail}")
