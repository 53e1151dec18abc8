"""Rasa's tracker of a conversation, through Rasa's HTTP API: which of our messages Rasa
applied last, and undoing it.

What Rasa 3.6 does (``rasa/server.py``, ``rasa/shared/core``): ``GET
/conversations/{sender}/tracker`` answers the stored tracker, whose ``latest_message`` is
the last user message still applied, with the ``metadata`` the REST channel was sent
(ours carry ``message_id``); it takes no lock, so a turn Rasa is still processing is not
in it yet (Rasa stores the tracker when the turn is done). ``POST .../tracker/events``
with ``{"event": "rewind"}`` (``UserUtteranceReverted``) undoes the latest applied user
message, everything after it and the ``action_listen`` before it: slots, the active form
and ``latest_message`` are replayed from the events before that. So an ``action_listen``
follows the rewind, or the next message would reach a tracker that is not listening and
no rule would match it (Rasa answers nothing).
"""

from __future__ import annotations

import logging
from typing import Any

import aiohttp

from nlu.engine import DialogueTurn
from nlu.resilient import DialogueUnavailable

log = logging.getLogger(__name__)

# Below Sanic's keep-alive (5 s), so we never send on a connection Rasa is closing.
KEEPALIVE = 3.0
# Rasa answers with the tracker's state; its events are not needed.
NO_EVENTS = {"include_events": "NONE"}
UNDO_TURN = [{"event": "rewind"}, {"event": "action", "name": "action_listen"}]


class LazySession:
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


class RasaTracker:
    """Reads and rewinds conversations in Rasa.

    Args:
        url: Rasa's base URL.
        client: The HTTP session to use.
    """

    def __init__(self, url: str, client: LazySession) -> None:
        self._url = url.rstrip("/")
        self._client = client

    async def forget(self, turn: DialogueTurn) -> bool:
        """Rewind ``turn`` in Rasa if it is the latest user message Rasa applied; never
        anything else (a turn Rasa failed before logging it leaves the previous one
        latest).

        Returns:
            True when the turn was rewound.

        Raises:
            DialogueUnavailable: Rasa did not say, or refused to rewind.
        """
        if await self.latest_message_id(turn.conversation_id) != turn.message_id:
            return False
        await self._call("POST", f"/conversations/{turn.conversation_id}/tracker/events",
                         json=UNDO_TURN)  # fmt: skip
        return True

    async def latest_message_id(self, conversation: int) -> object:
        """Our ``message_id`` of the latest user message Rasa applied in
        ``conversation``; None when there is none.

        Raises:
            DialogueUnavailable: Rasa did not answer with a tracker.
        """
        state = await self._call("GET", f"/conversations/{conversation}/tracker")
        latest = state.get("latest_message") if isinstance(state, dict) else None
        metadata = latest.get("metadata") if isinstance(latest, dict) else None
        return metadata.get("message_id") if isinstance(metadata, dict) else None

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        url = self._url + path
        try:
            request = self._client.session.request(method, url, params=NO_EVENTS, **kwargs)
            async with request as response:
                if response.status != 200:
                    raise DialogueUnavailable(f"HTTP {response.status} from {method} {path}")
                return await response.json(content_type=None)
        except (aiohttp.ClientError, OSError, TimeoutError, ValueError) as error:
            raise DialogueUnavailable(f"{method} {path} failed ({error!r})") from error
