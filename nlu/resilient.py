"""A dialogue engine that never leaves a citizen without an answer: the primary engine
(Rasa) while it works, the fallback (the knowledge base) while it does not."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Protocol, Self

from nlu.engine import BotMessage, DialogueEngine, DialogueTurn

log = logging.getLogger(__name__)

# A primary that fails again soon after coming back is trusted later each time.
MAX_HOLD = 300.0


class DialogueUnavailable(Exception):
    """The engine has no usable reply for this turn; the message says why, for the log."""


class HealthCheck(Protocol):
    async def problem(self) -> str | None:
        """None when the primary engine can answer; otherwise what is wrong."""
        ...


class ResilientDialogueEngine:
    """Answers with ``primary`` while it works. A turn it cannot answer (it raises,
    times out inside its own client, or says nothing) is answered by ``fallback``, and
    the engine stays on the fallback until a health check passes, no sooner than
    ``hold`` after the failure. Health is checked every ``interval`` in the background
    (also while healthy, so a dead action server is noticed before a citizen does).
    Each switch is logged once.

    Args:
        primary: The dialogue engine to prefer (Rasa).
        fallback: The engine that always answers (the knowledge base).
        health: Says whether the primary can answer.
        name: The primary's name in the log.
        interval: Seconds between health checks.
        clock: Monotonic seconds (injectable for tests).
        sleep: Waits between health checks (injectable for tests).
    """

    def __init__(
        self,
        primary: DialogueEngine,
        fallback: DialogueEngine,
        health: HealthCheck,
        *,
        name: str = "Rasa",
        interval: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        self._primary = primary
        self._fallback = fallback
        self._health = health
        self._name = name
        self._interval = interval
        self._clock = clock
        self._sleep = sleep
        self._hold = interval
        self._degraded_since: float | None = None
        self._recovered_at: float | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._ever_available = False

    @property
    def degraded(self) -> bool:
        """True while turns go to the fallback."""
        return self._degraded_since is not None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def start(self) -> None:
        """Check health now, then keep checking in the background."""
        await self.check()
        self._watcher = asyncio.create_task(self._watch())

    async def aclose(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher

    async def respond(self, turn: DialogueTurn) -> list[BotMessage]:
        if self._degraded_since is None:
            try:
                messages = await self._primary.respond(turn)
                if messages:
                    self._ever_available = True
                    return messages
                self._degrade("an empty reply")
            except DialogueUnavailable as error:
                self._degrade(str(error))
            except Exception as error:
                if self._degraded_since is None:
                    log.exception("%s failed on conversation %s", self._name, turn.conversation_id)
                self._degrade(repr(error))
        return await self._fallback.respond(turn)

    async def check(self) -> None:
        """Probe the primary's health once and switch if it changed."""
        try:
            problem = await self._health.problem()
        except Exception as error:
            problem = f"health check failed: {error!r}"
        if problem is not None:
            self._degrade(problem)
            return
        since = self._degraded_since
        if since is not None and self._clock() - since >= self._hold:
            self._degraded_since = None
            self._recovered_at = self._clock()
            again = " again" if self._ever_available else ""
            log.warning("%s is available%s: the dialogue goes through it", self._name, again)
        self._ever_available = self._ever_available or self._degraded_since is None

    def _degrade(self, reason: str) -> None:
        if self._degraded_since is not None:
            return
        now = self._clock()
        relapse = self._recovered_at is not None and now - self._recovered_at < self._hold
        self._hold = min(self._hold * 2, MAX_HOLD) if relapse else self._interval
        self._degraded_since = now
        state = "unavailable" if self._ever_available else "not ready yet"
        log.warning(
            "%s is %s (%s): answering from the knowledge base until it is",
            self._name,
            state,
            reason,
        )

    async def _watch(self) -> None:
        while True:
            await self._sleep(self._interval)
            await self.check()
