"""The Rasa server as a dialogue engine: its REST channel answers each turn, and its
health endpoints (with the action server's) say whether it can.

A turn whose reply the citizen does not get from Rasa (Rasa failed, answered garbage,
nothing, or too late) is undone in Rasa's tracker if Rasa applied it, so Rasa goes on from
the last thing the citizen actually saw from it; only that turn, never blindly (a turn
Rasa failed before logging it leaves the previous one in place). A reply that misses the
timeout is not cancelled: Rasa finishes the turn, the reply is dropped (the citizen
already got the fallback's answer) and the turn is undone then; the next turn of that
conversation waits for this. A turn handed to us again (``DialogueTurn.retry``) whose
earlier attempt reached Rasa is undone before it is posted, so Rasa applies it once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Coroutine
from typing import Any, Self

import aiohttp

from core.domain import Button, MessageKind
from nlu.engine import BotMessage, DialogueTurn
from nlu.rasa_tracker import LazySession, RasaTracker
from nlu.resilient import DialogueUnavailable, ResilientDialogueEngine

log = logging.getLogger(__name__)

WEBHOOK = "/webhooks/rest/webhook"
MEDIA_MESSAGE = "/send_media"

__all__ = ["DialogueUnavailable", "RasaDialogueEngine", "RasaHealth", "ResilientDialogueEngine"]


class _NotSent(DialogueUnavailable):
    """No connection to Rasa: the message never reached it, there is nothing to undo."""


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
        self._client = LazySession(max(late_limit, timeout))
        self._tracker = RasaTracker(self._url, self._client)
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
        if turn.retry:
            await self._forget_earlier_attempt(turn)
        request = asyncio.ensure_future(self._post(turn))
        try:
            body = await asyncio.wait_for(asyncio.shield(request), self._timeout)
            messages = bot_messages(body)
            if not messages:
                raise DialogueUnavailable("an empty reply")
        except TimeoutError:
            self._track(conversation, self._forget_late(turn, request))
            raise DialogueUnavailable(f"no reply within {self._timeout:g} s") from None
        except _NotSent:
            raise
        except DialogueUnavailable:
            self._track(conversation, self._forget_failed(turn))
            raise
        except asyncio.CancelledError:
            request.cancel()
            raise
        return messages

    def _track(self, conversation: int, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.create_task(work)
        self._late[conversation] = task

        def forget(done: asyncio.Task[None]) -> None:
            if self._late.get(conversation) is done:
                del self._late[conversation]

        task.add_done_callback(forget)
        return task

    async def _settle(self, conversation: int) -> None:
        """Wait until a failed or late turn of this conversation was undone in Rasa."""
        task = self._late.get(conversation)
        if task is None:
            return
        done, _ = await asyncio.wait([task], timeout=self._timeout)
        if not done:
            raise DialogueUnavailable("the previous message is still being processed")

    async def _forget_earlier_attempt(self, turn: DialogueTurn) -> None:
        """Undo the message in Rasa if an earlier attempt of it got there; without an
        answer from Rasa the message is not posted (it could be applied twice)."""
        undo = self._track(turn.conversation_id, self._undo_retried(turn))
        try:
            await asyncio.wait_for(asyncio.shield(undo), self._timeout)
        except TimeoutError:
            raise DialogueUnavailable("Rasa did not say whether it has the message") from None

    async def _undo_retried(self, turn: DialogueTurn) -> None:
        if await self._tracker.forget(turn):
            log.info("conversation %s: Rasa had applied the retried message %s; rewound",
                     turn.conversation_id, turn.message_id)  # fmt: skip

    async def _forget_late(self, turn: DialogueTurn, request: asyncio.Future[Any]) -> None:
        with contextlib.suppress(DialogueUnavailable):
            await request
        await self._forget_failed(turn)

    async def _forget_failed(self, turn: DialogueTurn) -> None:
        """Undo ``turn`` in Rasa if Rasa applied it: the citizen got another answer."""
        try:
            rewound = await self._tracker.forget(turn)
        except DialogueUnavailable as error:
            log.warning("conversation %s: could not undo a failed turn in Rasa: %s",
                        turn.conversation_id, error)  # fmt: skip
            return
        if rewound:
            log.info("conversation %s: Rasa's reply never reached the citizen; turn rewound",
                     turn.conversation_id)  # fmt: skip

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
        except aiohttp.ClientConnectorError as error:
            raise _NotSent(f"Rasa unreachable ({error!r})") from error
        except (aiohttp.ClientError, OSError, TimeoutError) as error:
            raise DialogueUnavailable(f"Rasa unreachable ({error!r})") from error
        try:
            return json.loads(raw)
        except ValueError as error:
            raise DialogueUnavailable("a reply that is not JSON") from error


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
        self._client = LazySession(timeout)

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
