"""What the fake MAX knows: the bot, citizens and their dialogs, every message, the update
log with its committed marker, callbacks and their answers, uploads and served files,
webhook subscriptions, recorded requests and the faults a test asked for. No HTTP here;
`tools.fake_max.server.FakeMax` puts it on the wire."""

from __future__ import annotations

import asyncio
import copy
import itertools
import secrets
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any

from tools.fake_max import errors
from tools.fake_max.limits import UPDATES_BATCH, UPDATES_RETENTION, Clock
from tools.fake_max.validation import UPLOAD_KINDS

# Dialog ids are far from user ids so a bot that mixes them up fails loudly.
DIALOG_ID_BASE = 70_000_000_000
# Real sequence numbers and photo ids do not fit 32 bits; neither do the fake's.
SEQ_BASE = 116_000_000_000_000_000
PHOTO_ID_BASE = 4_400_000_000


@dataclass(slots=True)
class Person:
    """A citizen who can write to the bot, with the dialog between them."""

    user_id: int
    first_name: str
    last_name: str | None
    username: str | None
    chat_id: int
    locale: str = "ru"
    blocked: bool = False  # stopped the bot: sends to them answer 403
    last_activity: int = 0

    def user(self) -> dict[str, Any]:
        """The ``User`` object, with the deprecated ``name`` MAX still sends."""
        name = " ".join(p for p in (self.first_name, self.last_name) if p)
        user: dict[str, Any] = {
            "user_id": self.user_id,
            "first_name": self.first_name,
            "last_name": self.last_name or "",
            "is_bot": False,
            "last_activity_time": self.last_activity,
            "name": name,
        }
        if self.username:
            user["username"] = self.username
        return user


@dataclass(slots=True)
class ChatMessage:
    """A message in a dialog, the bot's or a citizen's, as the API shows it now."""

    mid: str
    seq: int
    chat_id: int
    user_id: int  # the citizen of the dialog
    from_bot: bool
    sender: dict[str, Any]
    recipient: dict[str, Any]
    timestamp: int
    text: str | None
    attachments: list[dict[str, Any]]  # in the shape the API returns them
    link: dict[str, Any] | None = None
    format: str | None = None
    notify: bool = True
    # The bot's messages: the request exactly as sent, and every later edit's body.
    request: dict[str, Any] | None = None
    query: dict[str, str] = field(default_factory=dict)
    edits: list[dict[str, Any]] = field(default_factory=list)
    deleted: bool = False

    @property
    def keyboard(self) -> list[list[dict[str, Any]]] | None:
        """The inline keyboard's rows of buttons, if the message has one."""
        for attachment in self.attachments:
            if attachment.get("type") == "inline_keyboard":
                return attachment["payload"]["buttons"]
        return None

    def buttons(self) -> list[dict[str, Any]]:
        return [button for row in self.keyboard or [] for button in row]

    def to_api(self) -> dict[str, Any]:
        """The ``Message`` object."""
        body: dict[str, Any] = {"mid": self.mid, "seq": self.seq, "text": self.text}
        if self.attachments:
            body["attachments"] = copy.deepcopy(self.attachments)
        message: dict[str, Any] = {
            "sender": dict(self.sender),
            "recipient": dict(self.recipient),
            "timestamp": self.timestamp,
            "body": body,
        }
        if self.link is not None:
            message["link"] = copy.deepcopy(self.link)
        return message


@dataclass(frozen=True, slots=True)
class StoredUpdate:
    seq: int  # its place in the log; markers point at these
    payload: Any  # exactly what is delivered: any JSON value, garbage included
    at: float  # the clock's time it was queued (for the 24-hour retention)

    @property
    def update_type(self) -> str | None:
        kind = self.payload.get("update_type") if isinstance(self.payload, dict) else None
        return kind if isinstance(kind, str) else None


@dataclass(slots=True)
class Callback:
    callback_id: str
    user_id: int
    mid: str | None
    payload: str | None
    timestamp: int


@dataclass(frozen=True, slots=True)
class CallbackAnswer:
    """A ``POST /answers`` the bot made: the message it put in place and the notification."""

    callback_id: str
    user_id: int | None
    mid: str | None
    message: dict[str, Any] | None
    notification: str | None


@dataclass(slots=True)
class Upload:
    upload_id: str
    kind: str  # image, video, audio or file
    url: str  # where the bot uploads the file
    token: str  # the attachment token (video and audio get it before the upload)
    filename: str | None = None
    content_type: str | None = None
    data: bytes | None = None  # None until uploaded
    file_url: str | None = None  # where the fake serves the uploaded file
    photo_id: int | None = None


@dataclass(frozen=True, slots=True)
class ServedFile:
    data: bytes
    content_type: str
    filename: str


@dataclass(frozen=True, slots=True)
class Subscription:
    url: str
    secret: str | None
    update_types: list[str] | None
    time: int

    def to_api(self) -> dict[str, Any]:
        return {"url": self.url, "time": self.time, "update_types": self.update_types}

    def wants(self, update: StoredUpdate) -> bool:
        return not self.update_types or update.update_type in self.update_types


@dataclass(frozen=True, slots=True)
class WebhookAttempt:
    seq: int
    url: str
    status: int | None  # None when the connection failed
    error: str | None = None


@dataclass(slots=True)
class RecordedRequest:
    operation: str  # "POST /messages", "GET /updates", "upload", ...
    query: dict[str, str]
    body: Any
    status: int | None = None


@dataclass(slots=True)
class Fault:
    remaining: int
    status: int | None  # None closes the connection without an answer
    body: Any = None  # None: MAX's error body for the status; a str goes out as is


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


class MaxState:
    def __init__(
        self,
        *,
        bot_id: int,
        bot_name: str,
        bot_username: str,
        clock: Clock,
        retention: float = UPDATES_RETENTION,
    ) -> None:
        self.bot_id = bot_id
        self.bot_name = bot_name
        self.bot_username = bot_username
        self.bot_description: str | None = "Бот администрации: ответы на частые вопросы"
        self.commands: list[dict[str, Any]] = []
        self.clock = clock
        self.retention = retention
        self.base_url = ""
        self.require_https = False  # MAX itself has refused http:// webhooks since May 2026
        self.people: dict[int, Person] = {}
        self.messages: dict[str, ChatMessage] = {}
        self.updates: list[StoredUpdate] = []
        self.committed = 0  # the first seq not yet committed by a marker
        self.webhook_next = 0  # the first seq the webhook has not pushed yet
        self.subscriptions: dict[str, Subscription] = {}
        self.webhook_attempts: list[WebhookAttempt] = []
        self.callbacks: dict[str, Callback] = {}
        self.answers: list[CallbackAnswer] = []
        self.actions: list[tuple[int, str]] = []
        self.uploads: dict[str, Upload] = {}
        self.files: dict[str, ServedFile] = {}
        self.requests: list[RecordedRequest] = []
        self.faults: dict[str, deque[Fault]] = defaultdict(deque)
        self.not_ready = 0  # sends with an uploaded attachment still to refuse as not ready
        self.outage: int | None = None
        self.closing = False
        self.changed = Notifier()
        self._seqs = itertools.count(SEQ_BASE)
        self._photo_ids = itertools.count(PHOTO_ID_BASE)
        self._last_ms = 0

    # --- ids and time -------------------------------------------------------------

    def now_ms(self) -> int:
        """Wall-clock milliseconds, never going back, so timestamps keep the order of events."""
        self._last_ms = max(self._last_ms + 1, int(time.time() * 1000))
        return self._last_ms

    @staticmethod
    def new_mid() -> str:
        return "mid." + secrets.token_hex(16)

    def next_message_seq(self) -> int:
        return next(self._seqs)

    def next_photo_id(self) -> int:
        return next(self._photo_ids)

    def bot_user(self) -> dict[str, Any]:
        return {
            "user_id": self.bot_id,
            "first_name": self.bot_name,
            "last_name": None,
            "username": self.bot_username,
            "is_bot": True,
            "last_activity_time": self._last_ms or self.now_ms(),
            "name": self.bot_name,
        }

    def bot_info(self) -> dict[str, Any]:
        return self.bot_user() | {
            "description": self.bot_description,
            "avatar_url": None,
            "full_avatar_url": None,
            "commands": copy.deepcopy(self.commands) or None,
        }

    # --- citizens -----------------------------------------------------------------

    def person(
        self,
        user_id: int,
        first_name: str | None = None,
        last_name: str | None = None,
        username: str | None = None,
        *,
        chat_id: int | None = None,
        locale: str | None = None,
    ) -> Person:
        """The citizen ``user_id`` (created on first use); given details replace theirs."""
        person = self.people.get(user_id)
        if person is None:
            person = Person(
                user_id,
                first_name or f"Гражданин {user_id}",
                last_name,
                username,
                chat_id if chat_id is not None else DIALOG_ID_BASE + user_id,
            )
            self.people[user_id] = person
            self.notify()
            return person
        if first_name is not None:
            person.first_name = first_name
        if last_name is not None:
            person.last_name = last_name
        if username is not None:
            person.username = username
        if locale is not None:
            person.locale = locale
        return person

    def by_chat(self, chat_id: int) -> Person | None:
        return next((p for p in self.people.values() if p.chat_id == chat_id), None)

    def chat(self, chat_id: int) -> dict[str, Any]:
        """The ``Chat`` object of a dialog (``GET /chats/{chatId}``)."""
        person = self.by_chat(chat_id)
        if person is None:
            raise errors.chat_not_found(chat_id)
        last = max(
            (m.timestamp for m in self.messages.values() if m.chat_id == chat_id), default=0
        )
        return {
            "chat_id": chat_id,
            "type": "dialog",
            "status": "suspended" if person.blocked else "active",
            "title": None,
            "icon": None,
            "last_event_time": last or self.now_ms(),
            "participants_count": 2,
            "is_public": False,
            "link": None,
            "description": None,
            "dialog_with_user": person.user(),
            "messages_count": None,
            "pinned_message": None,
        }

    # --- the update log -------------------------------------------------------------

    def add_update(self, payload: Any) -> StoredUpdate:
        """Queue any JSON value as the next update; returns it with its ``seq``."""
        update = StoredUpdate(len(self.updates), copy.deepcopy(payload), self.clock())
        self.updates.append(update)
        self.notify()
        return update

    def poll(self, start: int, limit: int, types: set[str] | None) -> tuple[list[Any], int]:
        """Updates from ``start`` on, at most ``limit`` (and 100) of them, leaving out expired
        ones and those not of ``types``: the payloads and the marker to pass next time."""
        oldest_kept = self.clock() - self.retention
        found: list[Any] = []
        marker = max(start, 0)
        for update in self.updates[max(start, 0) :]:
            if len(found) >= min(limit, UPDATES_BATCH):
                break
            marker = update.seq + 1
            if update.at < oldest_kept:
                continue
            if types and update.update_type not in types:
                continue
            found.append(copy.deepcopy(update.payload))
        return found, marker

    def commit(self, marker: int) -> None:
        self.committed = max(self.committed, min(marker, len(self.updates)))

    @property
    def pending(self) -> int:
        """Updates not yet committed by a marker or pushed to a webhook."""
        return len(self.updates) - self.committed

    # --- messages -------------------------------------------------------------------

    def message(self, mid: str) -> ChatMessage:
        found = self.messages.get(mid)
        if found is None:
            raise errors.not_found(f"Message {mid} not found")
        return found

    def recipient_of(self, query: dict[str, str]) -> Person:
        chat_id, user_id = _int_param(query, "chat_id"), _int_param(query, "user_id")
        if chat_id is not None:
            person = self.by_chat(chat_id)
            if person is None:
                raise errors.chat_not_found(chat_id)
        elif user_id is not None:
            person = self.people.get(user_id)
            if person is None:
                # The bot cannot open a dialog: the citizen has to write or start it first.
                raise errors.chat_not_found(DIALOG_ID_BASE + user_id)
        else:
            raise errors.bad_request("Either user_id or chat_id is required")
        if person.blocked:
            raise errors.dialog_suspended()
        return person

    def store_citizen_message(
        self,
        person: Person,
        text: str | None,
        attachments: list[dict[str, Any]],
        link: dict[str, Any] | None = None,
    ) -> ChatMessage:
        person.last_activity = self.now_ms()
        message = ChatMessage(
            mid=self.new_mid(),
            seq=self.next_message_seq(),
            chat_id=person.chat_id,
            user_id=person.user_id,
            from_bot=False,
            sender=person.user(),
            recipient={"chat_id": person.chat_id, "chat_type": "dialog", "user_id": self.bot_id},
            timestamp=person.last_activity,
            text=text,
            attachments=attachments,
            link=link,
        )
        self.messages[message.mid] = message
        return message

    def send(self, query: dict[str, str], body: dict[str, Any]) -> ChatMessage:
        """``POST /messages`` with a validated body."""
        person = self.recipient_of(query)
        attachments = self.outgoing_attachments(body.get("attachments") or [])
        message = ChatMessage(
            mid=self.new_mid(),
            seq=self.next_message_seq(),
            chat_id=person.chat_id,
            user_id=person.user_id,
            from_bot=True,
            sender=self.bot_user(),
            recipient={
                "chat_id": person.chat_id,
                "chat_type": "dialog",
                "user_id": person.user_id,
            },
            timestamp=self.now_ms(),
            text=body.get("text"),
            attachments=attachments,
            link=self._linked(body.get("link")),
            format=body.get("format"),
            notify=body.get("notify", True) is not False,
            request=copy.deepcopy(body),
            query=dict(query),
        )
        self.messages[message.mid] = message
        self.notify()
        return message

    def edit(self, mid: str, body: dict[str, Any]) -> ChatMessage:
        """``PUT /messages`` (or an answer's ``message``): ``text`` replaces the text when
        given; ``attachments`` null keeps them, a list (even empty) replaces them."""
        message = self.message(mid)
        if not message.from_bot or message.deleted:
            raise errors.MaxError(403, "access.denied", "Bot can edit only its own messages")
        if message.user_id in self.people and self.people[message.user_id].blocked:
            raise errors.dialog_suspended()
        if body.get("attachments") is not None:
            attachments = self.outgoing_attachments(body["attachments"])
        else:
            attachments = message.attachments
        if body.get("text") is not None:
            message.text = body["text"]
        message.attachments = attachments
        if body.get("format") is not None:
            message.format = body["format"]
        message.edits.append(copy.deepcopy(body))
        self.notify()
        return message

    def delete(self, mid: str) -> None:
        message = self.message(mid)
        if not message.from_bot or message.deleted:
            raise errors.MaxError(403, "access.denied", "Bot can delete only its own messages")
        message.deleted = True
        self.notify()

    def answer(self, callback_id: str, body: dict[str, Any]) -> CallbackAnswer:
        """``POST /answers`` with a validated ``CallbackAnswer``."""
        callback = self.callbacks.get(callback_id)
        if callback is None:
            raise errors.not_found(f"Callback {callback_id} not found")
        new_message = body.get("message")
        if new_message is not None and callback.mid is not None:
            self.edit(callback.mid, new_message)
        answer = CallbackAnswer(
            callback_id,
            callback.user_id,
            callback.mid,
            copy.deepcopy(new_message),
            body.get("notification"),
        )
        self.answers.append(answer)
        self.notify()
        return answer

    def sent(self, user_id: int | None = None, chat_id: int | None = None) -> list[ChatMessage]:
        """The bot's messages, oldest first (deleted ones too, marked), to one citizen or all."""
        return [
            m
            for m in self.messages.values()
            if m.from_bot
            and (user_id is None or m.user_id == user_id)
            and (chat_id is None or m.chat_id == chat_id)
        ]

    def _linked(self, link: dict[str, Any] | None) -> dict[str, Any] | None:
        if link is None:
            return None
        original = self.messages.get(link["mid"])
        if original is None:
            raise errors.not_found(f"Message {link['mid']} not found")
        return {
            "type": link["type"],
            "sender": dict(original.sender),
            "chat_id": original.chat_id,
            "message": original.to_api()["body"],
        }

    # --- attachments ------------------------------------------------------------------

    def outgoing_attachments(self, requested: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The bot's ``AttachmentRequest``s as the sent message shows them."""
        uses_upload = any(
            a["type"] in UPLOAD_KINDS
            and isinstance(a.get("payload"), dict)
            and a["payload"].get("token")
            for a in requested
        )
        if uses_upload and self.not_ready > 0:
            self.not_ready -= 1
            raise errors.attachment_not_ready()
        return [self._outgoing(attachment) for attachment in requested]

    def _outgoing(self, attachment: dict[str, Any]) -> dict[str, Any]:
        kind, payload = attachment["type"], attachment.get("payload") or {}
        if kind == "inline_keyboard":
            rows = [[_with_intent(button) for button in row] for row in payload["buttons"]]
            return {
                "type": kind,
                "callback_id": secrets.token_urlsafe(48),
                "payload": {"buttons": rows},
            }
        if kind == "location":
            return {
                "type": kind,
                "latitude": attachment["latitude"],
                "longitude": attachment["longitude"],
            }
        if kind == "image":
            return self._outgoing_image(payload)
        if kind in UPLOAD_KINDS:
            upload = self._upload_by_token(payload["token"], kind)
            shown: dict[str, Any] = {
                "type": kind,
                "payload": {"url": upload.file_url, "token": upload.token},
            }
            if kind == "file":
                shown |= {"filename": upload.filename, "size": len(upload.data or b"")}
            return shown
        if kind == "sticker":
            code = payload["code"]
            return {
                "type": kind,
                "payload": {"url": f"{self.base_url}/_files/sticker-{code}.png", "code": code},
                "width": 256,
                "height": 256,
            }
        return {"type": kind, "payload": copy.deepcopy(payload)}

    def _outgoing_image(self, payload: dict[str, Any]) -> dict[str, Any]:
        token = payload.get("token")
        photos = payload.get("photos")
        if not token and isinstance(photos, dict) and photos:
            first = next(iter(photos.values()))
            token = first.get("token") if isinstance(first, dict) else None
            if not token:
                raise errors.bad_request("image.payload.photos: token is required")
        if token:
            upload = self._upload_by_token(token, "image")
            return {
                "type": "image",
                "payload": {
                    "photo_id": upload.photo_id,
                    "token": upload.token,
                    "url": upload.file_url,
                },
            }
        return {
            "type": "image",
            "payload": {
                "photo_id": self.next_photo_id(),
                "token": secrets.token_urlsafe(48),
                "url": payload["url"],
            },
        }

    def _upload_by_token(self, token: str, kind: str) -> Upload:
        upload = next((u for u in self.uploads.values() if u.token == token), None)
        if upload is None or upload.data is None:
            raise errors.bad_request(f"{kind}.payload.token: unknown or not uploaded token")
        if upload.kind != kind:
            raise errors.bad_request(f"{kind}.payload.token: the token is of an {upload.kind}")
        return upload

    # --- uploads and files -----------------------------------------------------------

    def new_upload(self, kind: str) -> Upload:
        upload_id = secrets.token_hex(8)
        upload = Upload(
            upload_id,
            kind,
            f"{self.base_url}/_upload/{kind}/{upload_id}",
            secrets.token_urlsafe(32),
        )
        self.uploads[upload_id] = upload
        return upload

    def serve(self, data: bytes, filename: str, content_type: str) -> str:
        """Serve ``data`` under a fresh URL of the fake's; returns the URL."""
        name = f"{secrets.token_hex(6)}-{_safe(filename)}"
        self.files[name] = ServedFile(data, content_type, filename)
        return f"{self.base_url}/_files/{name}"

    # --- requests and faults -----------------------------------------------------------

    def record(self, operation: str, query: dict[str, str], body: Any) -> RecordedRequest:
        recorded = RecordedRequest(operation, query, copy.deepcopy(body))
        self.requests.append(recorded)
        self.notify()
        return recorded

    def add_fault(self, operation: str, fault: Fault) -> None:
        self.faults[operation].append(fault)

    def take_fault(self, operation: str) -> Fault | None:
        for key in (operation, "*"):
            queue = self.faults.get(key)
            if queue:
                fault = queue[0]
                fault.remaining -= 1
                if fault.remaining <= 0:
                    queue.popleft()
                return fault
        return None

    def notify(self) -> None:
        self.changed.notify()


def _with_intent(button: dict[str, Any]) -> dict[str, Any]:
    shown = copy.deepcopy(button)
    if shown.get("type") == "callback":
        shown.setdefault("intent", "default")
    return shown


def _int_param(query: dict[str, str], name: str) -> int | None:
    value = query.get(name)
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise errors.bad_request(f"{name}: must be an integer") from None


def _safe(filename: str) -> str:
    kept = "".join(c if (c.isascii() and c.isalnum()) or c in "._-" else "_" for c in filename)
    return kept.strip("._") or "file"


__all__ = [
    "DIALOG_ID_BASE",
    "Callback",
    "CallbackAnswer",
    "ChatMessage",
    "Fault",
    "MaxState",
    "Person",
    "RecordedRequest",
    "ServedFile",
    "StoredUpdate",
    "Subscription",
    "Upload",
    "WebhookAttempt",
]
