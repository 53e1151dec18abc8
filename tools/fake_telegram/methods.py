"""The Bot API methods the fake speaks, with the checks the real server makes."""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

from tools.fake_telegram.errors import ApiError, bad_request, status_error
from tools.fake_telegram.files import media_file, photo_sizes, resolve_file
from tools.fake_telegram.state import FakeState, Webhook
from tools.fake_telegram.validation import (
    CALLBACK_ANSWER_LIMIT,
    check_caption,
    check_markup,
    check_parse_mode,
    check_text,
)

Method = Callable[[FakeState, dict[str, Any]], Awaitable[Any]]
METHODS: dict[str, Method] = {}

_CHAT_ACTIONS = frozenset(
    {
        "typing", "upload_photo", "record_video", "upload_video", "record_voice",
        "upload_voice", "upload_document", "choose_sticker", "find_location",
        "record_video_note", "upload_video_note",
    }
)  # fmt: skip
_COMMAND = re.compile(r"^[a-z0-9_]{1,32}$")
_SECRET_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_NOT_COPIED = frozenset(
    {
        "message_id", "from", "chat", "date", "edit_date", "reply_markup", "forward_origin",
        "message_thread_id", "is_topic_message",
    }
)  # fmt: skip


def api_method(name: str) -> Callable[[Method], Method]:
    def register(function: Method) -> Method:
        METHODS[name.lower()] = function
        return function

    return register


@api_method("getMe")
async def get_me(state: FakeState, params: dict[str, Any]) -> Any:
    return {
        **state.bot_user,
        "can_join_groups": True,
        "can_read_all_group_messages": False,
        "supports_inline_queries": False,
    }


@api_method("getUpdates")
async def get_updates(state: FakeState, params: dict[str, Any]) -> Any:
    if state.webhook is not None:
        raise ApiError(
            409,
            "Conflict: can't use getUpdates method while webhook is active; "
            "use deleteWebhook to delete the webhook first",
        )
    limit = min(max(params.get("limit", 100), 1), 100)
    timeout = max(params.get("timeout", 0), 0)
    if "allowed_updates" in params:
        state.allowed_updates = params["allowed_updates"] or None
    state.acknowledge(params.get("offset"))
    state.poll_generation += 1
    generation = state.poll_generation
    state.changed.notify()
    deadline = time.monotonic() + timeout
    while True:
        if state.outage is not None:
            # A poll held open when Telegram goes down ends with the outage, not an update.
            raise status_error(state.outage)
        if state.poll_generation != generation:
            raise ApiError(
                409,
                "Conflict: terminated by other getUpdates request; "
                "make sure that only one bot instance is running",
            )
        batch = state.take_batch(limit)
        remaining = deadline - time.monotonic()
        if batch or remaining <= 0 or state.closing:
            return batch
        await state.changed.wait(remaining)


@api_method("sendMessage")
async def send_message(state: FakeState, params: dict[str, Any]) -> Any:
    chat = state.resolve_chat(params.get("chat_id"))
    text = check_text(params.get("text"), params.get("parse_mode"))
    markup = check_markup(params.get("reply_markup"))
    thread = state.thread(chat, params.get("message_thread_id"))
    reply = replied_to(state, chat, params)
    return state.bot_message(chat, text=text.strip(), reply_markup=markup, **thread, **reply)


def replied_to(state: FakeState, chat: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """``reply_to_message`` for a message sent with ``reply_parameters``: Telegram refuses
    a missing original unless ``allow_sending_without_reply``."""
    reply = params.get("reply_parameters")
    if isinstance(reply, str):
        reply = json.loads(reply)
    if not isinstance(reply, dict) or "message_id" not in reply:
        return {}
    original = state.find_message(chat["id"], reply["message_id"])
    if original is None:
        if reply.get("allow_sending_without_reply"):
            return {}
        raise bad_request("message to be replied not found")
    return {"reply_to_message": {k: v for k, v in original.items() if k != "reply_to_message"}}


@api_method("sendPhoto")
async def send_photo(state: FakeState, params: dict[str, Any]) -> Any:
    """A photo uploaded, by file id or by URL (see `tools.fake_telegram.files`), with a
    caption."""
    chat = state.resolve_chat(params.get("chat_id"))
    caption = _caption(params)
    markup = check_markup(params.get("reply_markup"))
    thread = state.thread(chat, params.get("message_thread_id"))
    reply = replied_to(state, chat, params)
    sizes = await photo_sizes(state, params.get("photo"))
    return state.bot_message(
        chat, photo=sizes, caption=caption, reply_markup=markup, **thread, **reply
    )


@api_method("sendDocument")
async def send_document(state: FakeState, params: dict[str, Any]) -> Any:
    """A file uploaded, by file id or by URL (a GIF, PDF or ZIP), with a caption."""
    return await _send_file(state, params, "document")


@api_method("sendVoice")
async def send_voice(state: FakeState, params: dict[str, Any]) -> Any:
    """A voice message uploaded, by file id or by URL (OGG, MP3 or M4A), with a caption."""
    return await _send_file(state, params, "voice")


async def _send_file(state: FakeState, params: dict[str, Any], kind: str) -> Any:
    chat = state.resolve_chat(params.get("chat_id"))
    caption = _caption(params)
    markup = check_markup(params.get("reply_markup"))
    thread = state.thread(chat, params.get("message_thread_id"))
    reply = replied_to(state, chat, params)
    media = await media_file(state, kind, params.get(kind), duration=params.get("duration", 0))
    content = {kind: media, "caption": caption}
    return state.bot_message(chat, **content, reply_markup=markup, **thread, **reply)


def _caption(params: dict[str, Any]) -> str | None:
    """A media message's caption (None when empty), checked as Telegram checks it."""
    caption = (check_caption(params.get("caption")) or "").strip() or None
    if caption is not None:
        check_parse_mode(caption, params.get("parse_mode"))
    return caption


@api_method("sendLocation")
async def send_location(state: FakeState, params: dict[str, Any]) -> Any:
    chat = state.resolve_chat(params.get("chat_id"))
    latitude = _coordinate(params, "latitude", 90)
    longitude = _coordinate(params, "longitude", 180)
    markup = check_markup(params.get("reply_markup"))
    thread = state.thread(chat, params.get("message_thread_id"))
    reply = replied_to(state, chat, params)
    location = {"latitude": latitude, "longitude": longitude}
    return state.bot_message(chat, location=location, reply_markup=markup, **thread, **reply)


def _coordinate(params: dict[str, Any], name: str, bound: float) -> float:
    value = params.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise bad_request(f"{name} is empty")
    try:
        number = math.nan if isinstance(value, bool) else float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number) or abs(number) > bound:
        raise bad_request("wrong location specified")
    return number


@api_method("getFile")
async def get_file(state: FakeState, params: dict[str, Any]) -> Any:
    """Where to download a file from: ``/file/bot<token>/<file_path>``."""
    return resolve_file(state, params.get("file_id")).describe()


@api_method("copyMessage")
async def copy_message(state: FakeState, params: dict[str, Any]) -> Any:
    target = state.resolve_chat(params.get("chat_id"))
    source_chat = params.get("from_chat_id")
    if source_chat not in state.chats:
        raise bad_request("chat not found")
    source = state.find_message(source_chat, params.get("message_id"))
    if source is None:
        raise bad_request("message to copy not found")
    content = {key: value for key, value in source.items() if key not in _NOT_COPIED}
    if "caption" in params:
        content["caption"] = check_caption(params["caption"])
    markup = check_markup(params.get("reply_markup"))
    thread = state.thread(target, params.get("message_thread_id"))
    message = state.bot_message(target, **content, **thread, reply_markup=markup)
    return {"message_id": message["message_id"]}


@api_method("answerCallbackQuery")
async def answer_callback_query(state: FakeState, params: dict[str, Any]) -> Any:
    query_id = str(params.get("callback_query_id", ""))
    if query_id not in state.callback_queries:
        raise bad_request("query is too old and response timeout expired or query ID is invalid")
    text = params.get("text")
    if text is not None and len(str(text)) > CALLBACK_ANSWER_LIMIT:
        raise bad_request("MESSAGE_TOO_LONG")
    del state.callback_queries[query_id]
    state.callback_answers[query_id] = params
    state.changed.notify()
    return True


def _message_to_edit(state: FakeState, params: dict[str, Any]) -> dict[str, Any]:
    if "inline_message_id" in params:
        raise bad_request("MESSAGE_ID_INVALID")
    chat = state.resolve_chat(params.get("chat_id"))
    message = state.find_message(chat["id"], params.get("message_id"))
    if message is None:
        raise bad_request("message to edit not found")
    if message["from"]["id"] != state.bot_user["id"]:
        raise bad_request("message can't be edited")
    return message


def _apply_edit(
    state: FakeState, message: dict[str, Any], text: str | None, markup: dict[str, Any] | None
) -> dict[str, Any]:
    new_text = message.get("text") if text is None else text
    new_markup = markup if markup and markup.get("inline_keyboard") else None
    if new_text == message.get("text") and new_markup == message.get("reply_markup"):
        raise bad_request(
            "message is not modified: specified new message content and reply markup are "
            "exactly the same as a current content and reply markup of the message"
        )
    if new_text is not None:
        message["text"] = new_text
    message.pop("reply_markup", None)
    if new_markup is not None:
        message["reply_markup"] = new_markup
    message["edit_date"] = int(time.time())
    state.changed.notify()
    return message


@api_method("editMessageText")
async def edit_message_text(state: FakeState, params: dict[str, Any]) -> Any:
    message = _message_to_edit(state, params)
    text = check_text(params.get("text"), params.get("parse_mode")).strip()
    markup = check_markup(params.get("reply_markup"))
    return _apply_edit(state, message, text, markup)


@api_method("editMessageReplyMarkup")
async def edit_message_reply_markup(state: FakeState, params: dict[str, Any]) -> Any:
    message = _message_to_edit(state, params)
    markup = check_markup(params.get("reply_markup"))
    return _apply_edit(state, message, None, markup)


@api_method("sendChatAction")
async def send_chat_action(state: FakeState, params: dict[str, Any]) -> Any:
    chat = state.resolve_chat(params.get("chat_id"))
    action = params.get("action")
    if action not in _CHAT_ACTIONS:
        raise bad_request("wrong parameter action in request")
    state.chat_actions[chat["id"]].append(action)
    return True


@api_method("setMyCommands")
async def set_my_commands(state: FakeState, params: dict[str, Any]) -> Any:
    commands = params.get("commands")
    if not isinstance(commands, list) or len(commands) > 100:
        raise bad_request("can't parse commands JSON object")
    for command in commands:
        if not isinstance(command, dict) or not _COMMAND.match(str(command.get("command"))):
            raise bad_request("BOT_COMMAND_INVALID")
        if not 1 <= len(str(command.get("description", ""))) <= 256:
            raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
    state.commands = commands
    return True


@api_method("getMyCommands")
async def get_my_commands(state: FakeState, params: dict[str, Any]) -> Any:
    return state.commands


@api_method("setWebhook")
async def set_webhook(state: FakeState, params: dict[str, Any]) -> Any:
    url = str(params.get("url", ""))
    if not url:
        return await delete_webhook(state, params)
    if not url.startswith(("https://", "http://")):
        raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
    secret = params.get("secret_token")
    if secret is not None and not _SECRET_TOKEN.match(str(secret)):
        raise bad_request("secret token contains unallowed characters")
    if params.get("drop_pending_updates"):
        state.queue.clear()
    allowed = params.get("allowed_updates") or None
    state.webhook = Webhook(url=url, secret_token=secret, allowed_updates=allowed)
    state.poll_generation += 1  # a waiting getUpdates ends with a conflict
    state.changed.notify()
    return True


@api_method("deleteWebhook")
async def delete_webhook(state: FakeState, params: dict[str, Any]) -> Any:
    state.webhook = None
    if params.get("drop_pending_updates"):
        state.queue.clear()
    state.changed.notify()
    return True


@api_method("getWebhookInfo")
async def get_webhook_info(state: FakeState, params: dict[str, Any]) -> Any:
    webhook = state.webhook
    info: dict[str, Any] = {
        "url": webhook.url if webhook else "",
        "has_custom_certificate": False,
        "pending_update_count": len(state.queue),
    }
    if webhook is not None:
        info["max_connections"] = 40
        if webhook.allowed_updates:
            info["allowed_updates"] = webhook.allowed_updates
        if webhook.last_error_date is not None:
            info["last_error_date"] = webhook.last_error_date
            info["last_error_message"] = webhook.last_error_message
    return info
