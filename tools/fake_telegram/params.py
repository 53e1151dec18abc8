"""Reading Bot API parameters from the query string and JSON, urlencoded or multipart bodies.

Form bodies carry every value as a string (aiogram JSON-encodes lists and objects), so
known fields are coerced to the types the real server would read them as.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from tools.fake_telegram.errors import bad_request

INT_FIELDS = frozenset(
    {
        "offset",
        "limit",
        "timeout",
        "message_id",
        "cache_time",
        "max_connections",
        "message_thread_id",
        "reply_to_message_id",
        "user_id",
        "icon_color",
    }
)
CHAT_FIELDS = frozenset({"chat_id", "from_chat_id"})
BOOL_FIELDS = frozenset(
    {
        "show_alert",
        "drop_pending_updates",
        "disable_notification",
        "protect_content",
        "disable_web_page_preview",
        "allow_sending_without_reply",
    }
)
JSON_FIELDS = frozenset(
    {
        "reply_markup",
        "allowed_updates",
        "commands",
        "entities",
        "caption_entities",
        "scope",
        "link_preview_options",
        "reply_parameters",
    }
)


async def read_params(request: web.Request) -> dict[str, Any]:
    params: dict[str, Any] = dict(request.query)
    if request.body_exists:
        params.update(await _read_body(request))
    return {key: coerce(key, value) for key, value in params.items()}


async def _read_body(request: web.Request) -> dict[str, Any]:
    if request.content_type == "application/json":
        try:
            body = await request.json()
        except ValueError:
            raise bad_request("can't parse JSON object") from None
        if not isinstance(body, dict):
            raise bad_request("JSON object expected")
        return body
    if request.content_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
        form = await request.post()
        return {
            key: value if isinstance(value, str) else f"file:{getattr(value, 'filename', '')}"
            for key, value in form.items()
        }
    return {}


def coerce(key: str, value: Any) -> Any:
    if key in CHAT_FIELDS:
        return _chat_id(value)
    if key in INT_FIELDS:
        return _integer(key, value)
    if key in BOOL_FIELDS:
        return _boolean(value)
    if key in JSON_FIELDS and isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            raise bad_request(f"can't parse {key} JSON object") from None
    return value


def _chat_id(value: Any) -> int | str:
    if isinstance(value, str) and value.startswith("@"):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    try:
        return int(str(value).strip())
    except ValueError:
        raise bad_request("chat not found") from None


def _integer(key: str, value: Any) -> int:
    if isinstance(value, bool):
        raise bad_request(f"invalid {key} specified")
    if isinstance(value, int):
        return value
    try:
        return int(str(value).strip())
    except ValueError:
        raise bad_request(f"invalid {key} specified") from None


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("true", "1")
