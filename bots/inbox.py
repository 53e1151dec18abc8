"""Handling stored updates: each as its own task, one chat at a time in arrival order,
a failed one retried in the running process with a growing pause, and one that fails
its last attempt set aside with an apology to the citizen and a request for an operator.

Updates are leased (`core.inbox`): an update a crashed worker held is taken over at
once by the next worker on the machine, or when the lease runs out by any other.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from bots.conversation import ConversationHandler
from bots.locks import KeyedLocks
from core.domain import IncomingMessage
from core.inbox import InboxItem, InboxRepository, InboxStatus
from core.leases import is_transient
from core.metrics import Metrics
from core.settings import Settings
from core.waiting import wait_any

log = logging.getLogger(__name__)

GAVE_UP_REASON = "bot_failure"


class UpdateHandler(Protocol):
    """How one channel turns a stored update into a turn."""

    def chat_of(self, item: InboxItem) -> str:
        """The chat an update belongs to (its updates are handled in order)."""
        ...

    def message_of(self, item: InboxItem) -> IncomingMessage | None:
        """The citizen's message in the update, None when it holds none."""
        ...

    async def process(self, item: InboxItem) -> InboxStatus:
        """Handle the update: DONE, or IGNORED when it needs nothing. Raises when the
        turn failed (the update is retried)."""
        ...


@dataclass(frozen=True, slots=True)
class InboxPolicy:
    """How stored updates are retried.

    Attributes:
        attempts: Attempts at an update before it is set aside (quarantined).
        base_delay: Pause after the first failure; it doubles with each one.
        max_delay: The longest pause.
        poll_interval: Seconds between looks for updates whose retry time came (and
            updates a dead worker left).
        concurrency: Updates handled at the same time. Turns mostly wait for the CPU
            (the search) or for Rasa; more of them at once only queue up for the
            database, and a reply's delivery record waits in that queue too, which
            widens the window in which a crash sends a reply twice (bench/README.md).
        grace: Seconds a stopping worker lets running updates finish.
    """

    attempts: int = 5
    base_delay: float = 1.0
    max_delay: float = 60.0
    poll_interval: float = 1.0
    concurrency: int = 4
    grace: float = 5.0

    @classmethod
    def from_settings(cls, settings: Settings) -> InboxPolicy:
        return cls(attempts=settings.turn_attempts)

    def backoff(self, attempts: int) -> float:
        return min(self.base_delay * 2 ** max(attempts - 1, 0), self.max_delay)


class InboxWorker:
    """Runs a channel's stored updates through its handler.

    Args:
        channel: The channel name in the inbox.
        inbox: The inbox repository.
        handler: The channel's update handler.
        conversation: The conversation service (for the apology after the last attempt).
        wake: Called with a chat id when replies for it were stored.
        policy: Retries and concurrency.
        metrics: The process's metrics (retried turns, quarantined updates).
    """

    def __init__(
        self,
        channel: str,
        inbox: InboxRepository,
        handler: UpdateHandler,
        conversation: ConversationHandler,
        wake: Callable[[str], None],
        policy: InboxPolicy | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self._channel = channel
        self._metrics = metrics
        self._inbox = inbox
        self._handler = handler
        self._conversation = conversation
        self._wake = wake
        self._policy = policy or InboxPolicy()
        self._chats = KeyedLocks()
        self._slots = asyncio.Semaphore(self._policy.concurrency)
        self._running: dict[int, asyncio.Task[None]] = {}
        self._dropped: set[int] = set()  # held, but the database failed as they ended
        self._poll_now = asyncio.Event()
        self._stopping = False

    async def accept(self, updates: list[tuple[str, Any]]) -> None:
        """Store new ``(update key, payload)`` pairs of the channel and handle them; an
        update stored before is not handled again. Raises when they cannot be stored
        (the channel must then send them again)."""
        for item in await self._inbox.put_many(self._channel, updates):
            self.submit(item)

    def submit(self, item: InboxItem) -> None:
        """Handle a stored update this worker holds (unless it is handling it already).
        A stopping worker starts nothing more: the update waits for the next one."""
        if self._stopping or item.id in self._running:
            return
        self._dropped.discard(item.id)
        task = asyncio.create_task(
            self._process(item), name=f"{self._channel}-update-{item.update_key}"
        )
        self._running[item.id] = task
        task.add_done_callback(lambda _: self._running.pop(item.id, None))

    async def run(self, stop: asyncio.Event) -> None:
        """Take due updates (retries, and what a dead worker left) until ``stop``; then
        let running updates finish for a while and give the rest back."""
        failures = 0
        try:
            while not stop.is_set():
                try:
                    for item in await self._inbox.claim_due(
                        self._channel,
                        limit=self._policy.concurrency,
                        skip=set(self._running),
                        reclaim=set(self._dropped),
                    ):
                        self.submit(item)
                    failures = 0
                except Exception as error:
                    failures += 1
                    if failures == 1:
                        log.warning("%s inbox unreadable: %s", self._channel, type(error).__name__)
                await self._pause(stop, self._policy.poll_interval * min(failures + 1, 30))
        finally:
            await self.drain(self._policy.grace)

    async def drain(self, grace: float) -> None:
        """Let running updates finish for up to ``grace`` seconds, cancel the rest and
        give them back: they are handled again by the next worker, at once."""
        self._stopping = True
        tasks = list(self._running.values())
        if tasks:
            _, late = await asyncio.wait(tasks, timeout=grace) if grace > 0 else ((), tasks)
            for task in late:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        with contextlib.suppress(Exception):
            await self._inbox.release_held()

    async def _pause(self, stop: asyncio.Event, seconds: float) -> None:
        await wait_any(seconds, stop, self._poll_now)
        self._poll_now.clear()

    async def _process(self, item: InboxItem) -> None:
        async with self._chats.hold(self._handler.chat_of(item)), self._slots:
            try:
                if item.attempts > self._policy.attempts:
                    await self._give_up(item, "crashed or stopped during every attempt")
                    return
                if item.attempts > 1 and self._metrics is not None:
                    self._metrics.turn_retries.labels(channel=self._channel).inc()
                try:
                    status = await self._handler.process(item)
                except Exception as error:
                    await self._failed(item, error)
                    return
                await self._inbox.finish(item.id, status)
            except Exception as error:
                # The inbox itself failed (the database is away): this worker takes the
                # update again once the database answers (another one when its lease
                # runs out).
                self._dropped.add(item.id)
                self._schedule_poll(self._policy.backoff(item.attempts))
                log.warning(
                    "%s update id=%s left pending: %s",
                    self._channel, item.update_key, type(error).__name__,
                )  # fmt: skip

    async def _failed(self, item: InboxItem, error: Exception) -> None:
        reason = f"{type(error).__name__} (attempt {item.attempts})"
        transient = is_transient(error)
        log.warning(
            "%s update id=%s failed: %s", self._channel, item.update_key, reason,
            exc_info=not transient,
        )  # fmt: skip
        if item.attempts >= self._policy.attempts and not transient:
            await self._give_up(item, reason)
            return
        delay = self._policy.backoff(item.attempts)
        await self._inbox.retry_later(item.id, reason, delay, counted=not transient)
        self._schedule_poll(delay)

    async def _give_up(self, item: InboxItem, reason: str) -> None:
        """The last attempt failed: the citizen hears so and waits for an operator, and
        the update is set aside with the reason."""
        message = self._handler.message_of(item)
        if message is not None:
            try:
                replies = await self._conversation.give_up(message, GAVE_UP_REASON)
            except Exception as error:
                if is_transient(error):
                    raise  # the apology is tried again with the update
                # Not even the apology can be stored: the update is set aside anyway.
                reason = f"{reason}; no apology: {type(error).__name__}"
                replies = []
            if replies:
                self._wake(message.chat_id)
        await self._inbox.finish(item.id, InboxStatus.QUARANTINED, reason)
        log.error("%s update id=%s quarantined: %s", self._channel, item.update_key, reason)
        if self._metrics is not None:
            self._metrics.turns_quarantined.labels(channel=self._channel).inc()

    def _schedule_poll(self, delay: float) -> None:
        loop = asyncio.get_running_loop()
        loop.call_later(delay, self._poll_now.set)
