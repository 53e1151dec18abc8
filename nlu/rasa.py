"""The Rasa server as a dialogue engine: its REST channel answers each turn, and its
health endpoints (with the action server's) say whether it can.

A reply that misses the timeout is not cancelled: Rasa finishes the turn (so its
tracker is whole), the reply is dropped because the citizen already got the fallback's
answer, and the turn is rewound in Rasa's tracker, so Rasa goes on from the last thing
the citizen actually saw from it. The next turn of that conversation waits for this.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Coroutine
from typing import Any, Self

import aiohttp

from core.domain import Button, MessageKind
from nlu.engine import BotMessage, DialogueTurn
from nlu.resilient import DialogueUnavailable, ResilientDialogueEngine

log = logging.getLogger(__name__)

WEBHOOK = "/webhooks/rest/webhook"
MEDIA_MESSAGE = "/send_media"
# Below Sanic's keep-alive (5 s), so we never send on a connection Rasa is closing.
KEEPALIVE = 3.0

__all__ = ["DialogueUnavailable", "RasaDialogueEngine", "RasaHealth", "ResilientDialogueEngine"]


class _Client:
    """An aiohttp session opened on first use, inside the running loop."""

    def __init__(self, total_timeout: float) -> None:
        self._timeout = aiohttp.ClientTimeout(total=total_timeout)
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=self._timeout, connector=aiohttp.TCPConnector(keepalive_timeout=KEEPALIVE)
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


class RasaDialogueEngine:
    """Asks Rasa's REST channel what the bot says; the sender is our conversation id.

    Args:
        url: Rasa's base URL (``RASA_URL``).
        timeout: How long a citizen's turn waits for Rasa (``DJINN_RASA_TIMEOUT``).
        late_limit: How long a reply that missed ``timeout`` may still take to finish.
    """

    def __init__(self, url: str, *, timeout: float, late_limit: float = 120.0) -> None:
        self._url = url.rstrip("/")
        self._timeout = timeout
        self._client = _Client(max(late_limit, timeout))
        self._late: dict[int, asyncio.Task[None]] = {}

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        pending = list(self._late.values())
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        await self._client.close()

    async def respond(self, turn: DialogueTurn) -> list[BotMessage]:
        """Rasa's messages for ``turn``.

        Raises:
            DialogueUnavailable: Rasa is unreachable, failed, answered too late or
                said nothing usable; this turn needs another answer.
        """
        conversation = turn.conversation_id
        await self._settle(conversation)
        request = asyncio.ensure_future(self._post(turn))
        try:
            body = await asyncio.wait_for(asyncio.shield(request), self._timeout)
        except TimeoutError:
            self._track(conversation, self._drop_late(turn, request))
            raise DialogueUnavailable(f"no reply within {self._timeout:g} s") from None
        except asyncio.CancelledError:
            request.cancel()
            raise
        messages = bot_messages(body)
        if not messages:
            self._track(conversation, self._rewind(conversation))
            raise DialogueUnavailable("an empty reply")
        return messages

    def _track(self, conversation: int, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._late[conversation] = task

        def forget(done: asyncio.Task[None]) -> None:
            if self._late.get(conversation) is done:
                del self._late[conversation]

        task.add_done_callback(forget)

    async def _settle(self, conversation: int) -> None:
        """Wait until a late reply of this conversation was dropped and rewound."""
        task = self._late.get(conversation)
        if task is None:
            return
        done, _ = await asyncio.wait([task], timeout=self._timeout)
        if not done:
            raise DialogueUnavailable("the previous message is still being processed")

    async def _post(self, turn: DialogueTurn) -> Any:
        media = turn.kind != MessageKind.TEXT
        metadata: dict[str, Any] = {
            "message_id": turn.message_id,
            "channel": str(turn.channel),
            "kind": str(turn.kind),
            "attachments": list(turn.attachments),
        }
        if media and turn.text:
            metadata["caption"] = turn.text
        payload = {
            "sender": str(turn.conversation_id),
            "message": MEDIA_MESSAGE if media else turn.text,
            "metadata": metadata,
        }
        try:
            async with self._client.session.post(self._url + WEBHOOK, json=payload) as response:
                raw = await response.text()
                if response.status != 200:
                    raise DialogueUnavailable(f"HTTP {response.status} from Rasa")
        except (aiohttp.ClientError, OSError, TimeoutError) as error:
            raise DialogueUnavailable(f"Rasa unreachable ({error!r})") from error
        try:
            return json.loads(raw)
        except ValueError as error:
            raise DialogueUnavailable("a reply that is not JSON") from error

    async def _drop_late(self, turn: DialogueTurn, request: asyncio.Future[Any]) -> None:
        try:
            await request
        except DialogueUnavailable:
            return
        log.info(
            "Rasa answered conversation %s after the timeout; the reply is dropped and the "
            "turn rewound",
            turn.conversation_id,
        )
        await self._rewind(turn.conversation_id)

    async def _rewind(self, conversation: int) -> None:
        """Make Rasa forget the last user turn (its reply never reached the citizen)."""
        url = f"{self._url}/conversations/{conversation}/tracker/events"
        try:
            async with self._client.session.post(url, json={"event": "rewind"}) as response:
                if response.status != 200:
                    log.warning("Rasa refused to rewind conversation %s: HTTP %s",
                                conversation, response.status)  # fmt: skip
        except (aiohttp.ClientError, OSError, TimeoutError) as error:
            log.warning("could not rewind conversation %s in Rasa: %r", conversation, error)


class RasaHealth:
    """Whether Rasa (with a model loaded) and the action server answer.

    Args:
        rasa_url: Rasa's base URL; ``GET /status`` answers 200 once a model is loaded.
        action_server_url: The action server's base URL; ``GET /health``.
        timeout: How long each probe may take.
    """

    def __init__(self, rasa_url: str, action_server_url: str, *, timeout: float = 2.0) -> None:
        self._probes = {
            "Rasa": rasa_url.rstrip("/") + "/status",
            "action server": action_server_url.rstrip("/") + "/health",
        }
        self._client = _Client(timeout)

    async def problem(self) -> str | None:
        """None when both answer; otherwise what is wrong, for the log."""
        results = await asyncio.gather(*(self._probe(u) for u in self._probes.values()))
        problems = [f"{name}: {r}" for name, r in zip(self._probes, results, strict=True) if r]
        return "; ".join(problems) or None

    async def _probe(self, url: str) -> str | None:
        try:
            async with self._client.session.get(url) as response:
                await response.read()
                return None if response.status == 200 else f"HTTP {response.status}"
        except (aiohttp.ClientError, OSError, TimeoutError) as error:
            return type(error).__name__

    async def wait(self, timeout: float) -> None:
        """Until both answer.

        Raises:
            TimeoutError: They did not within ``timeout`` seconds; the message says why.
        """
        problem = await self.problem()
        try:
            async with asyncio.timeout(timeout):
                while problem is not None:
                    await asyncio.sleep(0.5)
                    problem = await self.problem()
        except TimeoutError:
            raise TimeoutError(f"not healthy after {timeout:.0f} s: {problem}") from None

    async def aclose(self) -> None:
        await self._client.close()


def bot_messages(body: Any) -> list[BotMessage]:
    """Rasa's REST reply as our messages: ``{"custom": {"djinn": {"text", "buttons": [[{"text",
    "payload"}]]}}}`` from our actions, ``{"text", "buttons": [{"title", "payload"}]}`` from
    the domain's responses (one button a row). The REST channel splits a text without
    buttons at blank lines; consecutive such messages are joined back."""
    if not isinstance(body, list):
        raise DialogueUnavailable("a reply that is not a list of messages")
    messages: list[BotMessage] = []
    for item in body:
        message = _message(item) if isinstance(item, dict) else None
        if message is None:
            # Its shape only: the text can hold the appeal summary (address, phone).
            shape = (
                {str(key): type(value).__name__ for key, value in item.items()}
                if isinstance(item, dict)
                else type(item).__name__
            )
            log.warning("ignoring a Rasa message Djinn cannot show: %s", shape)
        elif messages and not messages[-1].buttons and not message.buttons:
            messages[-1] = BotMessage(f"{messages[-1].text}\n\n{message.text}")
        else:
            messages.append(message)
    return messages


def _message(item: dict[str, Any]) -> BotMessage | None:
    custom = item.get("custom")
    if isinstance(custom, dict):
        ours = custom.get("djinn")
        if not isinstance(ours, dict):
            return None
        rows = ours.get("buttons") or []
        if not isinstance(rows, list):
            return None
        buttons = [[_button(b, "text") for b in r] for r in rows if isinstance(r, list)]
        return _checked(ours.get("text"), buttons)
    parts = [item.get(key) for key in ("text", "image", "attachment")]
    text = "\n".join(p for p in parts if isinstance(p, str) and p)
    buttons = item.get("buttons") or []
    rows = [[_button(b, "title")] for b in buttons] if isinstance(buttons, list) else []
    return _checked(text, rows)


def _button(raw: object, label: str) -> Button | None:
    if not isinstance(raw, dict):
        return None
    payload, title = raw.get("payload"), raw.get(label)
    if not isinstance(payload, str) or not payload:
        return None
    return Button(title if isinstance(title, str) and title else payload, payload)


def _checked(text: object, rows: list[list[Button | None]]) -> BotMessage | None:
    if not isinstance(text, str) or not text.strip():
        return None
    kept = tuple(tuple(b for b in row if b is not None) for row in rows)
    return BotMessage(text, tuple(row for row in kept if row))
