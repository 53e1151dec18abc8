"""Reading Bot API parameters from the query string and JSON, urlencoded or multipart bodies.

Form bodies carry every value as a string (aiogram JSON-encodes lists and objects), so
known fields are coerced to the types the real server would read them as. A file uploaded
in a multipart body becomes an `Upload`, under the field it was posted as or under the
field naming it with ``attach://<field>`` (as aiogram sends files).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tools.fake_telegram.errors import ApiError, bad_request

UPLOAD_LIMIT = 50 * 1024**2  # a bot uploads files of up to 50 MB
_ATTACH = "attach://"


@dataclass(frozen=True, slots=True)
class Upload:
    """A file posted in a multipart body."""

    filename: str
    content_type: str
    data: bytes = field(repr=False)

    def __str__(self) -> str:
        return f"file:{self.filename}"


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
        "duration",
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
        try:
            params.update(await _read_body(request))
        except web.HTTPRequestEntityTooLarge:
            raise entity_too_large() from None
    return {key: coerce(key, value) for key, value in params.items()}


def recordable(params: dict[str, Any]) -> dict[str, Any]:
    """``params`` as a request is recorded: an upload as ``file:<name>``, not its bytes."""
    return {key: str(v) if isinstance(v, Upload) else v for key, v in params.items()}


def entity_too_large() -> ApiError:
    return ApiError(413, "Request Entity Too Large")


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
        return _read_form(await request.post())
    return {}


def _read_form(form: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    uploads: dict[str, Upload] = {}
    for key, value in form.items():
        if isinstance(value, web.FileField):
            data = value.file.read()
            if len(data) > UPLOAD_LIMIT:
                raise entity_too_large()
            uploads[key] = Upload(value.filename or key, value.content_type, data)
        else:
            fields[key] = value
    for key, value in fields.items():
        attached = str(value).removeprefix(_ATTACH)
        if attached != value and attached in uploads:
            fields[key] = uploads.pop(attached)
    return uploads | fields


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
