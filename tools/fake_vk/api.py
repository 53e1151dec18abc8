"""The VK API methods the bot uses, answering from a `VkWorld`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tools.fake_vk.media import MESSAGES_ALBUM
from tools.fake_vk.validation import VkError, check_text, param_error, parse_keyboard
from tools.fake_vk.world import ERROR_MESSAGES, VkWorld

Method = Callable[[VkWorld, dict[str, str], str], Any]
DOC_UPLOAD_TYPES = frozenset({"doc", "audio_message", "graffiti"})


def call(world: VkWorld, method: str, params: dict[str, str], longpoll_url: str) -> Any:
    """Run ``method``; return the value for ``{"response": ...}`` or raise ``VkError``."""
    if params.get("access_token") != world.token:
        raise VkError(5, ERROR_MESSAGES[5])
    if not world.admit_call():
        raise VkError(6, ERROR_MESSAGES[6])
    handler = METHODS.get(method)
    if handler is None:
        raise VkError(3, ERROR_MESSAGES[3])
    return handler(world, params, longpoll_url)


def get_by_id(world: VkWorld, params: dict[str, str], _: str) -> Any:
    group = {
        "id": world.group_id,
        "name": "Администрация (тестовое сообщество)",
        "screen_name": f"club{world.group_id}",
        "is_closed": 0,
        "type": "group",
    }
    return {"groups": [group], "profiles": []}


def get_long_poll_server(world: VkWorld, params: dict[str, str], longpoll_url: str) -> Any:
    if _int(params, "group_id") != world.group_id:
        raise VkError(100, "One of the parameters specified was missing or invalid: group_id")
    return {"key": world.new_key(), "server": longpoll_url, "ts": str(world.next_ts)}


def send_message(world: VkWorld, params: dict[str, str], _: str) -> Any:
    peer_id = _int(params, "peer_id") or _int(params, "user_id")
    if not peer_id:
        raise param_error("peer_id is missing")
    if "random_id" not in params:
        raise param_error("random_id is a required parameter")
    random_id = _int(params, "random_id")
    text = params.get("message", "")
    attachment = params.get("attachment") or None
    point = _point(params)
    check_text(text, has_attachment=attachment is not None or point is not None)
    keyboard = parse_keyboard(params["keyboard"]) if params.get("keyboard") else None
    blocked = world.blocked_code(peer_id)
    if blocked is not None:
        raise VkError(blocked, ERROR_MESSAGES.get(blocked, "Access denied"))
    attachments = world.media.resolve(attachment) + point_attachment(point)
    return world.store_sent(peer_id, random_id, text, keyboard, attachment, attachments).id


def _point(params: dict[str, str]) -> tuple[float, float] | None:
    """``lat`` and ``long`` of ``messages.send`` (a point on the map), both or neither."""
    if "lat" not in params and "long" not in params:
        return None
    try:
        latitude, longitude = float(params["lat"]), float(params["long"])
    except (KeyError, ValueError):
        raise param_error("lat and long must be numbers") from None
    if not (abs(latitude) <= 90 and abs(longitude) <= 180):
        raise param_error("lat or long is out of range")
    return latitude, longitude


def point_attachment(point: tuple[float, float] | None) -> tuple[dict[str, Any], ...]:
    if point is None:
        return ()
    return ({"type": "geo", "latitude": point[0], "longitude": point[1]},)


def get_messages_upload_server(world: VkWorld, params: dict[str, str], _: str) -> Any:
    upload_url = world.media.upload_server("photo", _int(params, "peer_id"))
    return {
        "album_id": MESSAGES_ALBUM,
        "upload_url": upload_url,
        "user_id": 0,
        "group_id": world.group_id,
    }


def save_messages_photo(world: VkWorld, params: dict[str, str], _: str) -> Any:
    return world.media.save_messages_photo(params)


def get_docs_upload_server(world: VkWorld, params: dict[str, str], _: str) -> Any:
    doc_type = params.get("type", "doc")
    if doc_type not in DOC_UPLOAD_TYPES:
        raise param_error("type is invalid")
    return {"upload_url": world.media.upload_server("doc", _int(params, "peer_id"), doc_type)}


def save_doc(world: VkWorld, params: dict[str, str], _: str) -> Any:
    return world.media.save_doc(params)


def send_message_event_answer(world: VkWorld, params: dict[str, str], _: str) -> Any:
    for name in ("event_id", "user_id", "peer_id"):
        if not params.get(name):
            raise param_error(f"{name} is missing")
    world.event_answers.append(dict(params))
    return 1


def get_users(world: VkWorld, params: dict[str, str], _: str) -> Any:
    ids = [part.strip() for part in params.get("user_ids", "").split(",") if part.strip()]
    users = []
    for raw in ids:
        if not raw.lstrip("-").isdigit():
            raise param_error("user_ids")
        user_id = int(raw)
        first, last = world.users.get(user_id, ("Гражданин", f"№{user_id}"))
        users.append(
            {
                "id": user_id,
                "first_name": first,
                "last_name": last,
                "can_access_closed": True,
                "is_closed": False,
            }
        )
    return users


def _int(params: dict[str, str], name: str) -> int:
    value = params.get(name, "")
    try:
        return int(value) if value else 0
    except ValueError:
        raise param_error(f"{name} is not integer") from None


METHODS: dict[str, Method] = {
    "docs.getMessagesUploadServer": get_docs_upload_server,
    "docs.save": save_doc,
    "groups.getById": get_by_id,
    "groups.getLongPollServer": get_long_poll_server,
    "messages.send": send_message,
    "messages.sendMessageEventAnswer": send_message_event_answer,
    "photos.getMessagesUploadServer": get_messages_upload_server,
    "photos.saveMessagesPhoto": save_messages_photo,
    "users.get": get_users,
}
