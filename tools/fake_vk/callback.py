"""The Callback API side of the fake: VK POSTs each event to the community's server and
retries until it answers "ok"."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import aiohttp


@dataclass(frozen=True, slots=True)
class CallbackAttempt:
    event_id: str | None
    status: int
    body: str


class CallbackPusher:
    """POSTs events to ``url`` with ``secret`` and ``group_id`` as VK does."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        url: str,
        *,
        secret: str | None,
        group_id: int,
        attempts: int = 5,
        retry_delay: float = 0.05,
    ) -> None:
        self.url = url
        self.secret = secret
        self.group_id = group_id
        self.attempts = attempts
        self.retry_delay = retry_delay
        self.log: list[CallbackAttempt] = []
        self._session = session

    async def confirm(self) -> str:
        """Send the ``confirmation`` event and return the server's answer."""
        event: dict[str, Any] = {"type": "confirmation", "group_id": self.group_id}
        _, body = await self._post(event)
        return body

    async def push(self, event: Any) -> bool:
        """Deliver one event; True once the server answered "ok"."""
        body_event = event
        if isinstance(event, dict):
            body_event = {**event, "group_id": event.get("group_id", self.group_id)}
            if self.secret is not None:
                body_event["secret"] = self.secret
        event_id = event.get("event_id") if isinstance(event, dict) else None
        for attempt in range(self.attempts):
            if attempt:
                await asyncio.sleep(self.retry_delay)
            try:
                status, body = await self._post(body_event)
            except aiohttp.ClientError as error:
                self.log.append(CallbackAttempt(event_id, 0, repr(error)))
                continue
            self.log.append(CallbackAttempt(event_id, status, body))
            if status == 200 and body == "ok":
                return True
        return False

    async def _post(self, event: Any) -> tuple[int, str]:
        async with self._session.post(self.url, json=event) as response:
            return response.status, await response.text()
