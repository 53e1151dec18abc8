"""The Bot API methods other than the long poll and the upload server: each takes the
parsed request and answers a JSON object or raises `MaxError`."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tools.fake_max import errors
from tools.fake_max.validation import SENDER_ACTIONS, UPLOAD_KINDS, check_message_body
from tools.fake_max.world import MaxState, Subscription

SECRET_PATTERN = re.compile(r"^[\w-]{5,256}$", re.ASCII)
COMMANDS_LIMIT = 32


@dataclass(slots=True)
class ApiCall:
    query: dict[str, str]
    body: Any
    params: dict[str, str] = field(default_factory=dict)


Method = Callable[[MaxState, ApiCall], dict[str, Any]]


def get_me(state: MaxState, call: ApiCall) -> dict[str, Any]:
    return state.bot_info()


def patch_commands(state: MaxState, call: ApiCall) -> dict[str, Any]:
    commands = _object(call.body).get("commands")
    if not isinstance(commands, list) or len(commands) > COMMANDS_LIMIT:
        raise errors.bad_request(f"commands: must be an array of at most {COMMANDS_LIMIT}")
    for command in commands:
        name = command.get("name") if isinstance(command, dict) else None
        if not isinstance(name, str) or not 1 <= len(name) <= 64:
            raise errors.bad_request("commands.name: must be 1 to 64 characters")
    state.commands = commands
    return {"commands": commands or None}


def get_chat(state: MaxState, call: ApiCall) -> dict[str, Any]:
    return state.chat(_path_int(call, "chatId"))


def send_action(state: MaxState, call: ApiCall) -> dict[str, Any]:
    chat_id = _path_int(call, "chatId")
    state.chat(chat_id)
    action = _object(call.body).get("action")
    if action not in SENDER_ACTIONS:
        raise errors.bad_request(f"action: must be one of {sorted(SENDER_ACTIONS)}")
    state.actions.append((chat_id, action))
    state.notify()
    return {"success": True}


def get_messages(state: MaxState, call: ApiCall) -> dict[str, Any]:
    count = _int(call.query, "count", 50)
    if not 1 <= count <= 100:
        raise errors.bad_request("count: must be between 1 and 100")
    if call.query.get("message_ids"):
        wanted = call.query["message_ids"].split(",")
        found = [state.messages[mid] for mid in wanted if mid in state.messages]
    elif call.query.get("chat_id"):
        chat_id = _int(call.query, "chat_id", 0)
        state.chat(chat_id)
        found = [m for m in reversed(state.messages.values()) if m.chat_id == chat_id]
    else:
        raise errors.bad_request("Either chat_id or message_ids is required")
    shown = [m.to_api() for m in found if not m.deleted][:count]
    return {"messages": shown}


def get_message(state: MaxState, call: ApiCall) -> dict[str, Any]:
    message = state.message(call.params["messageId"])
    if message.deleted:
        raise errors.not_found(f"Message {message.mid} not found")
    return message.to_api()


def send_message(state: MaxState, call: ApiCall) -> dict[str, Any]:
    body = check_message_body(call.body)
    return {"message": state.send(call.query, body).to_api()}


def edit_message(state: MaxState, call: ApiCall) -> dict[str, Any]:
    mid = _required(call.query, "message_id")
    state.edit(mid, check_message_body(call.body, editing=True))
    return {"success": True}


def delete_message(state: MaxState, call: ApiCall) -> dict[str, Any]:
    state.delete(_required(call.query, "message_id"))
    return {"success": True}


def answer_callback(state: MaxState, call: ApiCall) -> dict[str, Any]:
    callback_id = _required(call.query, "callback_id")
    body = _object(call.body)
    if body.get("message") is not None:
        check_message_body(body["message"], editing=True)
    notification = body.get("notification")
    if notification is not None and not isinstance(notification, str):
        raise errors.bad_request("notification: must be a string")
    state.answer(callback_id, body)
    return {"success": True}


def get_upload_url(state: MaxState, call: ApiCall) -> dict[str, Any]:
    kind = call.query.get("type")
    if kind == "photo":
        raise errors.bad_request("type=photo is no longer supported, use type=image")
    if kind not in UPLOAD_KINDS:
        raise errors.bad_request(f"type: must be one of {list(UPLOAD_KINDS)}")
    upload = state.new_upload(kind)
    answer: dict[str, Any] = {"url": upload.url}
    if kind in ("video", "audio"):
        answer["token"] = upload.token
    return answer


def get_subscriptions(state: MaxState, call: ApiCall) -> dict[str, Any]:
    return {"subscriptions": [s.to_api() for s in state.subscriptions.values()]}


def subscribe(state: MaxState, call: ApiCall) -> dict[str, Any]:
    body = _object(call.body)
    url = body.get("url")
    schemes = ("https://",) if state.require_https else ("https://", "http://")
    if not isinstance(url, str) or not url.startswith(schemes):
        raise errors.bad_request(f"url: must start with {' or '.join(schemes)}")
    secret = body.get("secret")
    if secret is not None and (not isinstance(secret, str) or not SECRET_PATTERN.match(secret)):
        raise errors.bad_request("secret: 5 to 256 characters of A-Z, a-z, 0-9, _ and -")
    types = body.get("update_types")
    if types is not None and (
        not isinstance(types, list) or not all(isinstance(t, str) and t for t in types)
    ):
        raise errors.bad_request("update_types: must be an array of strings")
    state.subscriptions[url] = Subscription(url, secret, types or None, state.now_ms())
    state.notify()
    return {"success": True}


def unsubscribe(state: MaxState, call: ApiCall) -> dict[str, Any]:
    url = _required(call.query, "url")
    state.subscriptions.pop(url, None)
    state.notify()
    return {"success": True}


# (HTTP method, path pattern, handler); the operation's name is "METHOD /pattern".
ROUTES: list[tuple[str, str, Method]] = [
    ("GET", "/me", get_me),
    ("PATCH", "/me/commands", patch_commands),
    ("GET", "/chats/{chatId}", get_chat),
    ("POST", "/chats/{chatId}/actions", send_action),
    ("GET", "/messages", get_messages),
    ("POST", "/messages", send_message),
    ("PUT", "/messages", edit_message),
    ("DELETE", "/messages", delete_message),
    ("GET", "/messages/{messageId}", get_message),
    ("POST", "/answers", answer_callback),
    ("POST", "/uploads", get_upload_url),
    ("GET", "/subscriptions", get_subscriptions),
    ("POST", "/subscriptions", subscribe),
    ("DELETE", "/subscriptions", unsubscribe),
]
LONG_POLL = ("GET", "/updates")


def resolve(method: str, path: str) -> tuple[str, Method | None, dict[str, str]]:
    """The operation name, its handler (None for the long poll) and the path parameters;
    raises 404 for an unknown path and 405 for a known path with another method."""
    if path.rstrip("/") == LONG_POLL[1]:
        if method != LONG_POLL[0]:
            raise errors.method_not_allowed(f"Method {method} is not allowed for {path}")
        return f"{method} {LONG_POLL[1]}", None, {}
    path_known = False
    for route_method, pattern, handler in ROUTES:
        params = _match(pattern, path)
        if params is None:
            continue
        path_known = True
        if route_method == method:
            return f"{method} {pattern}", handler, params
    if path_known:
        raise errors.method_not_allowed(f"Method {method} is not allowed for {path}")
    raise errors.not_found(f"Path {path} is not recognized")


def _match(pattern: str, path: str) -> dict[str, str] | None:
    wanted, given = pattern.strip("/").split("/"), path.strip("/").split("/")
    if len(wanted) != len(given):
        return None
    params: dict[str, str] = {}
    for part, value in zip(wanted, given, strict=True):
        if part.startswith("{"):
            if not value:
                return None
            params[part[1:-1]] = value
        elif part != value:
            return None
    return params


def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise errors.bad_request("Request body must be a JSON object")
    return body


def _required(query: dict[str, str], name: str) -> str:
    value = query.get(name, "")
    if not value.strip():
        raise errors.bad_request(f"{name}: required query parameter is missing")
    return value


def _int(query: dict[str, str], name: str, default: int) -> int:
    value = query.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise errors.bad_request(f"{name}: must be an integer") from None


def _path_int(call: ApiCall, name: str) -> int:
    try:
        return int(call.params[name])
    except ValueError:
        raise errors.not_found(f"Path parameter {name} must be an integer") from None
