"""What the fake VK knows: citizens' events, sent messages, recorded requests and the
faults a test asked for. No HTTP here; `server.FakeVk` puts it on the wire."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import defaultdict, deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Literal

from tools.fake_vk import events
from tools.fake_vk.limits import (
    RANDOM_ID_WINDOW,
    VK_COMMUNITY_LIMIT,
    Clock,
    RateLimit,
    SlidingWindow,
)
from tools.fake_vk.media import Media, Photo

ERROR_MESSAGES = {
    3: "Unknown method passed",
    5: "User authorization failed: invalid access_token (4).",
    6: "Too many requests per second",
    7: "Permission to perform this action is denied",
    10: "Internal server error",
    901: "Can't send messages for users without permission",
    902: "Can't send messages to this user due to their privacy settings",
}


@dataclass(frozen=True, slots=True)
class SentMessage:
    id: int
    peer_id: int
    random_id: int
    text: str
    keyboard: dict[str, Any] | None
    attachment: str | None
    # What ``attachment`` holds: a photo or document of the fake's described with its
    # size and sha256 (see `tools.fake_vk.media`), anything else only by ``type``/``ref``.
    attachments: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    method: str
    params: dict[str, str]


@dataclass(frozen=True, slots=True)
class Fault:
    kind: str  # "error" (a VK error code), "http" (a status) or "drop" (close the connection)
    code: int = 0


class VkWorld:
    """The community's side of VK: events waiting for the bot and everything the bot did.

    ``messages.send`` treats a repeated (peer_id, random_id) as the same message for
    ``random_id_window`` seconds; ``rate_limit`` refuses API calls past it with error 6
    (``None`` lifts it). ``clock`` measures both.
    """

    def __init__(
        self,
        *,
        token: str,
        group_id: int,
        random_id_window: float = RANDOM_ID_WINDOW,
        rate_limit: RateLimit | None = VK_COMMUNITY_LIMIT,
        clock: Clock = time.monotonic,
    ) -> None:
        self.token = token
        self.group_id = group_id
        self.random_id_window = random_id_window
        self.rate_limit = rate_limit
        self._clock = clock
        self._calls = (
            SlidingWindow(rate_limit.calls, rate_limit.window, clock) if rate_limit else None
        )
        self.requests: list[RecordedRequest] = []
        self.history: list[Any] = []
        self.event_answers: list[dict[str, str]] = []
        self.users: dict[int, tuple[str, str]] = {}
        self.event_listeners: list[Callable[[Any], None]] = []
        self._sent: dict[int, list[SentMessage]] = defaultdict(list)
        self._by_random_id: dict[tuple[int, int], tuple[float, SentMessage]] = {}
        self._faults: dict[str, deque[Fault]] = defaultdict(deque)
        self._blocked: dict[int, int] = {}
        self._longpoll_failures: deque[int] = deque()
        self._keys: set[str] = set()
        self._next_id = 1
        self.media = Media(group_id, self._take_id)
        self._conversation_ids: dict[int, int] = defaultdict(int)
        self._citizen_messages: dict[int, dict[str, Any]] = {}
        self._changed = asyncio.Event()

    # --- citizens' events -------------------------------------------------------------

    def send_text(
        self,
        peer_id: int,
        text: str,
        *,
        payload: str | dict[str, Any] | None = None,
        event_id: str | None = None,
    ) -> dict[str, Any]:
        return self._message_new(peer_id, text, payload=payload, event_id=event_id)

    def press_button(
        self, peer_id: int, label: str, payload: str | dict[str, Any]
    ) -> dict[str, Any]:
        """A text button press: VK sends the label as text and the button's payload."""
        return self._message_new(peer_id, label, payload=payload)

    def send_attachment(self, peer_id: int, kind: str, text: str = "") -> dict[str, Any]:
        if kind == "photo":
            return self.send_photo(peer_id, text)
        if kind in ("doc", "audio_message", "sticker"):
            item = self.media.citizen_attachment(kind, peer_id)
        else:
            item = events.attachment(kind, owner_id=peer_id, item_id=self._take_id())
        return self._message_new(peer_id, text, attachments=[item])

    def send_photo(
        self,
        peer_id: int,
        text: str = "",
        *,
        width: int = 1280,
        height: int = 960,
        data: bytes | None = None,
    ) -> dict[str, Any]:
        """A photo from the citizen, in ``sizes`` whose URLs the fake serves (once
        started); ``data`` is the photo's bytes, a PNG of the size when None."""
        photo = self.media.citizen_photo(peer_id, width, height, data)
        return self._message_new(
            peer_id, text, attachments=[{"type": "photo", "photo": photo.as_object()}]
        )

    def send_location(self, peer_id: int, latitude: float, longitude: float) -> dict[str, Any]:
        return self._message_new(peer_id, "", geo=events.geo(latitude, longitude))

    def edit_text(self, event: dict[str, Any], text: str) -> dict[str, Any]:
        """The citizen edits the message of an earlier ``message_new`` event: VK sends
        ``message_edit`` whose object is the message itself (no ``client_info``), with
        the same id, the new text and ``update_time``."""
        original = self._citizen_messages[event["object"]["message"]["id"]]
        message = {**original, "text": text, "update_time": int(time.time())}
        self._citizen_messages[message["id"]] = message
        return self.push_event(events.envelope(self.group_id, "message_edit", message))

    def press_callback_button(self, peer_id: int, payload: Any) -> dict[str, Any]:
        self._conversation_ids[peer_id] += 1
        obj = events.message_event_object(
            user_id=peer_id,
            peer_id=peer_id,
            event_id=secrets.token_hex(6),
            payload=payload,
            conversation_message_id=self._conversation_ids[peer_id],
        )
        return self.push_event(events.envelope(self.group_id, "message_event", obj))

    def push_event(self, event: Any) -> Any:
        """Deliver any JSON value as an event, as is (also re-deliveries and garbage)."""
        self.history.append(event)
        for listener in self.event_listeners:
            listener(event)
        self._wake()
        return event

    def _message_new(self, peer_id: int, text: str, **fields: Any) -> dict[str, Any]:
        event_id = fields.pop("event_id", None)
        self._conversation_ids[peer_id] += 1
        message = events.message_object(
            message_id=self._take_id(),
            conversation_message_id=self._conversation_ids[peer_id],
            peer_id=peer_id,
            from_id=peer_id,
            text=text,
            date=int(time.time()),
            **fields,
        )
        self._citizen_messages[message["id"]] = message
        obj = {"message": message, "client_info": events.CLIENT_INFO}
        return self.push_event(events.envelope(self.group_id, "message_new", obj, event_id))

    # --- faults ---------------------------------------------------------------------

    def fail_next(self, method: str, count: int = 1, code: int = 6) -> None:
        self._faults[method].extend(Fault("error", code) for _ in range(count))

    def fail_http(self, method: str, count: int = 1, status: int = 502) -> None:
        self._faults[method].extend(Fault("http", status) for _ in range(count))

    def drop_next(self, method: str, count: int = 1) -> None:
        self._faults[method].extend(Fault("drop") for _ in range(count))

    def block_peer(self, peer_id: int, code: int = 901) -> None:
        self._blocked[peer_id] = code

    def unblock_peer(self, peer_id: int) -> None:
        self._blocked.pop(peer_id, None)

    def fail_longpoll(self, code: int) -> None:
        """Make the next ``a_check`` answer ``{"failed": code}``; 2 and 3 also expire the keys."""
        self._longpoll_failures.append(code)
        self._wake()

    # --- what the bot did -----------------------------------------------------------

    def sent_to(self, peer_id: int) -> list[SentMessage]:
        return list(self._sent.get(peer_id, []))

    def all_sent(self) -> list[SentMessage]:
        return sorted((m for ms in self._sent.values() for m in ms), key=lambda m: m.id)

    def photo(self, ref: str) -> Photo | None:
        """A photo the fake holds by ``photo<owner_id>_<id>``: a citizen's or uploaded."""
        for photo in self.media.photos.values():
            if photo.ref == ref or ref.startswith(photo.ref + "_"):
                return photo
        return None

    def calls(self, method: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == method]

    async def wait_sent(
        self, peer_id: int, count: int = 1, *, guard: float = 5.0
    ) -> list[SentMessage]:
        """Wait until ``peer_id`` has ``count`` messages; ``guard`` only stops a hung test."""
        await self.wait_until(lambda: len(self._sent.get(peer_id, [])) >= count, guard=guard)
        return self.sent_to(peer_id)

    async def wait_until(self, condition: Callable[[], object], *, guard: float = 5.0) -> None:
        """Wait until ``condition()`` holds, re-checking after every request and event."""
        async with asyncio.timeout(guard):
            while not condition():
                await self.changed()

    def changed(self) -> Coroutine[Any, Any, Literal[True]]:
        """Completes at the next change after this call (bound now, not when awaited)."""
        return self._changed.wait()

    # --- used by the HTTP layer -----------------------------------------------------

    def record(self, method: str, params: dict[str, str]) -> None:
        self.requests.append(RecordedRequest(method, params))
        self._wake()

    def take_fault(self, method: str) -> Fault | None:
        queue = self._faults.get(method)
        return queue.popleft() if queue else None

    def admit_call(self) -> bool:
        """Count an API call against the rate limit; False when it is one too many."""
        return self._calls is None or self._calls.admit()

    def blocked_code(self, peer_id: int) -> int | None:
        return self._blocked.get(peer_id)

    def store_sent(
        self,
        peer_id: int,
        random_id: int,
        text: str,
        keyboard: dict[str, Any] | None,
        attachment: str | None,
        attachments: tuple[dict[str, Any], ...] = (),
    ) -> SentMessage:
        """Store a sent message; a non-zero ``random_id`` repeated to the same peer within
        the window (counted from the first send) returns the first message instead."""
        now = self._clock()
        first = self._by_random_id.get((peer_id, random_id)) if random_id else None
        if first is not None and now - first[0] < self.random_id_window:
            return first[1]
        message = SentMessage(
            self._take_id(), peer_id, random_id, text, keyboard, attachment, attachments
        )
        self._sent[peer_id].append(message)
        if random_id:
            self._by_random_id[peer_id, random_id] = (now, message)
        self._wake()
        return message

    def new_key(self) -> str:
        key = secrets.token_hex(16)
        self._keys.add(key)
        return key

    def key_valid(self, key: str) -> bool:
        return key in self._keys

    @property
    def next_ts(self) -> int:
        return len(self.history) + 1

    def events_from(self, ts: int) -> list[Any]:
        return self.history[max(ts, 1) - 1 :]

    def take_longpoll_failure(self) -> int | None:
        if not self._longpoll_failures:
            return None
        code = self._longpoll_failures.popleft()
        if code in (2, 3):
            self._keys.clear()
        return code

    @property
    def has_longpoll_failure(self) -> bool:
        return bool(self._longpoll_failures)

    def _take_id(self) -> int:
        value = self._next_id
        self._next_id += 1
        return value

    def _wake(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()
