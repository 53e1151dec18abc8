"""The fake server's memory: chats, messages, the update queue, requests and faults."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from tools.fake_telegram.errors import bad_request, blocked_by_user

UPDATE_TYPES = frozenset(
    {
        "message", "edited_message", "channel_post", "edited_channel_post",
        "business_connection", "business_message", "edited_business_message",
        "deleted_business_messages", "message_reaction", "message_reaction_count",
        "inline_query", "chosen_inline_result", "callback_query", "shipping_query",
        "pre_checkout_query", "purchased_paid_media", "poll", "poll_answer",
        "my_chat_member", "chat_member", "chat_join_request", "chat_boost",
        "removed_chat_boost",
    }
)  # fmt: skip
NOT_SENT_BY_DEFAULT = frozenset({"chat_member", "message_reaction", "message_reaction_count"})


@dataclass(slots=True)
class Topic:
    """A topic of a forum supergroup (see `tools.fake_telegram.forum`)."""

    thread_id: int
    name: str
    icon_color: int
    closed: bool = False
    deleted: bool = False


@dataclass(slots=True)
class RecordedRequest:
    method: str
    params: dict[str, Any]
    at: float
    status: int | None = None


@dataclass(slots=True)
class Fault:
    remaining: int
    status: int | None  # None drops the connection
    retry_after: int = 1


@dataclass(slots=True)
class QueuedUpdate:
    update_id: int
    payload: dict[str, Any]
    forced: bool = False  # a re-delivery ignores the acknowledged offset once


@dataclass(slots=True)
class Webhook:
    url: str
    secret_token: str | None
    allowed_updates: list[str] | None = None
    last_error_date: int | None = None
    last_error_message: str | None = None


@dataclass(slots=True)
class WebhookAttempt:
    update_id: int
    status: int | None
    at: float


class Notifier:
    """Wakes everyone waiting for the state to change."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, seconds: float) -> None:
        event = self._event
        try:
            await asyncio.wait_for(event.wait(), seconds)
        except TimeoutError:
            pass


@dataclass
class FakeState:
    bot_user: dict[str, Any]
    chats: dict[int, dict[str, Any]] = field(default_factory=dict)
    users: dict[int, dict[str, Any]] = field(default_factory=dict)
    blocked: set[int] = field(default_factory=set)
    history: dict[int, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    sent: dict[int, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    topics: dict[int, dict[int, Topic]] = field(default_factory=dict)
    members: dict[int, dict[int, str]] = field(default_factory=dict)
    chat_actions: dict[int, list[str]] = field(default_factory=lambda: defaultdict(list))
    callback_queries: dict[str, dict[str, Any]] = field(default_factory=dict)
    callback_answers: dict[str, dict[str, Any]] = field(default_factory=dict)
    commands: list[dict[str, Any]] = field(default_factory=list)
    queue: list[QueuedUpdate] = field(default_factory=list)
    all_updates: dict[int, dict[str, Any]] = field(default_factory=dict)
    allowed_updates: list[str] | None = None
    webhook: Webhook | None = None
    webhook_attempts: list[WebhookAttempt] = field(default_factory=list)
    requests: list[RecordedRequest] = field(default_factory=list)
    faults: dict[str, list[Fault]] = field(default_factory=lambda: defaultdict(list))
    changed: Notifier = field(default_factory=Notifier)
    poll_generation: int = 0
    outage: int | None = None  # the HTTP status every method answers while Telegram is down
    closing: bool = False
    _update_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _message_ids: dict[int, itertools.count[int]] = field(default_factory=dict)
    _serials: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def serial(self) -> int:
        return next(self._serials)

    def next_message_id(self, chat_id: int) -> int:
        return next(self._message_ids.setdefault(chat_id, itertools.count(1)))

    def record(self, method: str, params: dict[str, Any]) -> RecordedRequest:
        request = RecordedRequest(method, params, time.time())
        self.requests.append(request)
        self.changed.notify()
        return request

    def add_fault(self, method: str, fault: Fault) -> None:
        self.faults[method.lower()].append(fault)

    def take_fault(self, method: str) -> Fault | None:
        faults = self.faults.get(method.lower())
        if not faults:
            return None
        fault = faults[0]
        fault.remaining -= 1
        if fault.remaining <= 0:
            faults.pop(0)
        return fault

    def resolve_chat(self, chat_id: Any) -> dict[str, Any]:
        chat = self.chats.get(chat_id) if isinstance(chat_id, int) else None
        if chat is None:
            raise bad_request("chat not found")
        if chat_id in self.blocked:
            raise blocked_by_user()
        return chat

    def thread(self, chat: dict[str, Any], thread_id: Any) -> dict[str, Any]:
        """The fields a message sent into topic ``thread_id`` carries (none without one);
        raises as Telegram does for a topic that does not exist."""
        if thread_id is None:
            return {}
        topics = self.topics.get(chat["id"], {})
        topic = topics.get(thread_id) if isinstance(thread_id, int) else None
        if not chat.get("is_forum") or topic is None or topic.deleted:
            raise bad_request("message thread not found")
        return {"message_thread_id": thread_id, "is_topic_message": True}

    def find_message(self, chat_id: Any, message_id: Any) -> dict[str, Any] | None:
        for message in self.history.get(chat_id, []):
            if message["message_id"] == message_id:
                return message
        return None

    def add_message(self, message: dict[str, Any]) -> dict[str, Any]:
        chat_id = message["chat"]["id"]
        self.history[chat_id].append(message)
        if message.get("from", {}).get("id") == self.bot_user["id"]:
            self.sent[chat_id].append(message)
        self.changed.notify()
        return message

    def bot_message(self, chat: dict[str, Any], **content: Any) -> dict[str, Any]:
        markup = content.pop("reply_markup", None)
        message = {
            "message_id": self.next_message_id(chat["id"]),
            "from": self.bot_user,
            "chat": chat,
            "date": int(time.time()),
            **{key: value for key, value in content.items() if value is not None},
        }
        if markup and "inline_keyboard" in markup:
            message["reply_markup"] = markup
        return self.add_message(message)

    def enqueue(self, body: dict[str, Any]) -> dict[str, Any]:
        update_id = next(self._update_ids)
        payload = {"update_id": update_id, **{k: v for k, v in body.items() if k != "update_id"}}
        self.all_updates[update_id] = payload
        self.queue.append(QueuedUpdate(update_id, payload))
        self.changed.notify()
        return payload

    def redeliver(self, update_id: int) -> None:
        self.queue.append(QueuedUpdate(update_id, self.all_updates[update_id], forced=True))
        self.changed.notify()

    def acknowledge(self, offset: int | None) -> None:
        if offset is None or offset == 0:
            return
        if offset < 0:
            self.queue = self.queue[offset:]
        else:
            self.queue = [u for u in self.queue if u.update_id >= offset or u.forced]

    def take_batch(self, limit: int) -> list[dict[str, Any]]:
        self.queue = [u for u in self.queue if self._wanted(u.payload)]
        batch = self.queue[:limit]
        for update in batch:
            update.forced = False
        return [update.payload for update in batch]

    def _wanted(self, payload: dict[str, Any]) -> bool:
        kind = next((key for key in payload if key in UPDATE_TYPES), None)
        if kind is None:
            return True  # injected oddities reach the bot; that is what they are for
        allowed = self.webhook.allowed_updates if self.webhook else self.allowed_updates
        if allowed:
            return kind in allowed
        return kind not in NOT_SENT_BY_DEFAULT

    def drop_delivered(self, update_id: int) -> None:
        for index, update in enumerate(self.queue):
            if update.update_id == update_id:
                del self.queue[index]
                break
        self.changed.notify()
