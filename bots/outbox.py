"""Delivering the outbox: each chat's replies in order, paced under the channel's rate
limit, retried over a long horizon while the channel is unreachable, and every
outcome recorded as soon as the channel reports it.

The conversation service stores replies with the turn that produced them; the adapter
only wakes the chat's lane here. A periodic sweep finds replies whose retry time came,
and replies left by a sender that died (its lease ran out, or its process is gone).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from core.domain import Channel, DeliveryStatus, Reply
from core.logs import conversation_scope
from core.metrics import Metrics
from core.models import utcnow
from core.outbox import UNAVAILABLE, OutboxRepository, OutboxRow
from core.settings import Settings
from core.sliding_window import SlidingWindow
from core.waiting import wait_any

log = logging.getLogger(__name__)


class DeliveryError(Exception):
    """A part of a reply was not delivered."""


class RetryAfter(DeliveryError):
    """The channel asks to wait ``seconds`` before the next message (a rate limit)."""

    def __init__(self, seconds: float, reason: str = "rate limited") -> None:
        super().__init__(reason)
        self.seconds = seconds


class Unavailable(DeliveryError):
    """The channel or the network failed; the reply waits for it to come back."""


class Undeliverable(DeliveryError):
    """The channel refused the reply for good: the citizen blocked the bot (BLOCKED) or
    the message cannot be sent as it is (FAILED)."""

    def __init__(self, status: DeliveryStatus, reason: str) -> None:
        super().__init__(reason)
        self.status = status


class Transport(Protocol):
    """How one channel sends a part of a reply."""

    channel: Channel

    def split(self, reply: Reply) -> list[str]:
        """The reply's text in parts the channel accepts (empty: nothing to send)."""
        ...

    async def send_part(self, reply: Reply, index: int, text: str, last: bool) -> str | None:
        """Send part ``index``; the last part carries the buttons. Returns the channel's
        message id.

        Raises:
            RetryAfter, Unavailable, Undeliverable: As the channel answered.
        """
        ...


@dataclass(frozen=True, slots=True)
class OutboxPolicy:
    """How the outbox paces and retries.

    Attributes:
        horizon: Seconds after which an undelivered reply is given up.
        base_delay: First wait after the channel was unavailable; doubles each time.
        max_delay: The longest wait between two attempts at one reply.
        sweep_interval: Seconds between looks for replies whose retry time came.
        rate: Messages in any one second at most, over all chats (under the channel's
            flood limit).
        lanes: Chats sent to at the same time.
        grace: Seconds a stopping sender lets started deliveries finish.
    """

    horizon: float = 24 * 3600.0
    base_delay: float = 1.0
    max_delay: float = 30.0
    sweep_interval: float = 1.0
    rate: float = 25.0
    lanes: int = 16
    grace: float = 5.0

    @classmethod
    def from_settings(cls, settings: Settings, **values: float) -> OutboxPolicy:
        return cls(horizon=settings.reply_retry_horizon, **values)

    def backoff(self, attempts: int) -> float:
        return min(self.base_delay * 2 ** max(attempts - 1, 0), self.max_delay)


class Pacer:
    """At most ``rate`` sends in any ``window`` seconds, across every caller: a burst
    goes out at once, as the platforms allow, and only the send past the limit waits."""

    def __init__(
        self, rate: float, *, window: float = 1.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._window = SlidingWindow(max(int(rate), 1), window, clock)

    async def wait(self) -> None:
        delay = self._window.wait()
        while delay > 0:  # the window frees at a known moment: sleep until then
            await asyncio.sleep(delay)
            delay = self._window.wait()
        self._window.add()


class OutboxSender:
    """Sends one channel's outbox.

    Args:
        repository: The outbox.
        transport: The channel's way of sending.
        policy: Pacing and retries.
        metrics: The process's metrics (deliveries, retries, delivery latency).
        pacer: The channel's pace over every chat; by default one of ``policy.rate``
            (Telegram's is shared with the operator desk: one limit for the bot).
    """

    def __init__(
        self,
        repository: OutboxRepository,
        transport: Transport,
        policy: OutboxPolicy | None = None,
        metrics: Metrics | None = None,
        pacer: Pacer | None = None,
    ) -> None:
        self._repository = repository
        self._metrics = metrics
        self._transport = transport
        self._channel = transport.channel
        self._policy = policy or OutboxPolicy()
        self.pacer = pacer or Pacer(self._policy.rate)
        self._slots = asyncio.Semaphore(self._policy.lanes)
        self._lanes: dict[str, asyncio.Task[None]] = {}
        self._again: set[str] = set()
        self._sweep_now = asyncio.Event()
        self._unavailable = False
        self._stopping = False

    def wake(self, chat_id: str) -> None:
        """Send the chat's pending replies now (the turn that stored them committed).
        A stopping sender starts nothing more: the replies stay stored for the next."""
        if self._stopping:
            return
        lane = self._lanes.get(chat_id)
        if lane is not None and not lane.done():
            self._again.add(chat_id)
            return
        task = asyncio.create_task(self._lane(chat_id), name=f"outbox-{chat_id}")
        self._lanes[chat_id] = task

    async def run(self, stop: asyncio.Event) -> None:
        """Sweep for due replies until ``stop``, then let started deliveries finish."""
        failures = 0
        try:
            while not stop.is_set():
                try:
                    for chat_id in await self._repository.due_chats(self._channel):
                        self.wake(chat_id)
                    failures = 0
                except Exception as error:
                    failures += 1
                    if failures == 1:
                        log.warning("%s outbox unreadable: %s", self._channel, _brief(error))
                await self._pause(stop, self._policy.sweep_interval * min(failures + 1, 30))
        finally:
            await self.drain(self._policy.grace)

    async def drain(self, grace: float) -> None:
        """Wait up to ``grace`` seconds for running lanes, cancel the rest and give
        their replies back (they are sent by the next sender)."""
        self._stopping = True
        lanes = [t for t in self._lanes.values() if not t.done()]
        if lanes:
            _, late = await asyncio.wait(lanes, timeout=grace) if grace > 0 else ((), lanes)
            for task in late:
                task.cancel()
            await asyncio.gather(*lanes, return_exceptions=True)
        with contextlib.suppress(Exception):
            await self._repository.release_held()

    async def _pause(self, stop: asyncio.Event, seconds: float) -> None:
        await wait_any(seconds, stop, self._sweep_now)
        self._sweep_now.clear()

    async def _lane(self, chat_id: str) -> None:
        try:
            async with self._slots:
                while True:
                    self._again.discard(chat_id)
                    await self._send_chat(chat_id)
                    if chat_id not in self._again:
                        return
        except Exception as error:
            # The replies stay pending; the sweep offers them again.
            log.warning("%s outbox lane stopped: %s", self._channel, _brief(error))
        finally:
            if self._lanes.get(chat_id) is asyncio.current_task():
                del self._lanes[chat_id]

    async def _send_chat(self, chat_id: str) -> None:
        rows = await self._repository.claim_chat(self._channel, chat_id)
        for position, row in enumerate(rows):
            if not await self._send(row):
                await self._repository.release([r.id for r in rows[position:]])
                return

    async def _send(self, row: OutboxRow) -> bool:
        """Deliver one reply; False when the chat must wait (the reply is not done)."""
        with conversation_scope(row.conversation_id):
            return await self._deliver(row)

    async def _deliver(self, row: OutboxRow) -> bool:
        now = utcnow()
        if row.next_attempt_at is not None and row.next_attempt_at > now:
            return False
        if (now - row.created_at).total_seconds() > self._policy.horizon:
            reason = f"given up after {row.attempts} attempts in {self._policy.horizon:.0f} s"
            log.warning("%s reply %s %s", self._channel, row.id, reason)
            await self._undeliverable(row, DeliveryStatus.FAILED, reason)
            return True
        parts = self._transport.split(row.reply)
        if not parts:
            await self._undeliverable(row, DeliveryStatus.FAILED, "empty text")
            return True
        try:
            external_id = await self._send_parts(row, parts)
        except RetryAfter as error:
            self._count_retry("rate_limited")
            await self._repository.retry(row.id, f"{error}", error.seconds)
            return False
        except Undeliverable as error:
            log.info("%s reply %s: %s (%s)", self._channel, row.id, error.status, error)
            await self._undeliverable(row, error.status, str(error))
            return True
        except Unavailable as error:
            self._count_retry("unavailable")
            await self._unreachable(row, str(error))
            return False
        await self._repository.delivered(row.id, external_id, len(parts))
        if self._metrics is not None:
            self._metrics.messages_out.labels(channel=self._channel, status="sent").inc()
            latency = (utcnow() - row.created_at).total_seconds()
            self._metrics.reply_latency_seconds.labels(channel=self._channel).observe(latency)
        if self._unavailable:
            await self._back()
        return True

    async def _undeliverable(self, row: OutboxRow, status: DeliveryStatus, reason: str) -> None:
        await self._repository.undeliverable(row.id, status, reason)
        if self._metrics is not None:
            self._metrics.messages_out.labels(channel=self._channel, status=status.value).inc()

    def _count_retry(self, reason: str) -> None:
        if self._metrics is not None:
            self._metrics.reply_retries.labels(channel=self._channel, reason=reason).inc()

    async def _send_parts(self, row: OutboxRow, parts: list[str]) -> str | None:
        external_id = None
        for index in range(row.parts_sent, len(parts)):
            last = index == len(parts) - 1
            await self.pacer.wait()
            try:
                external_id = await self._transport.send_part(row.reply, index, parts[index], last)
            except DeliveryError:
                raise
            except Exception as error:  # a bug or an unforeseen answer: retry, bounded
                log.exception("%s reply %s: unexpected failure", self._channel, row.id)
                raise Unavailable(_brief(error)) from error
            if not last:
                await self._repository.progress(row.id, index + 1)
        return external_id

    async def _unreachable(self, row: OutboxRow, reason: str) -> None:
        delay = self._policy.backoff(row.attempts + 1)
        if not self._unavailable:
            log.warning("%s unavailable (%s); replies wait for it", self._channel, reason)
        self._unavailable = True
        await self._repository.retry(row.id, UNAVAILABLE + reason, delay)

    async def _back(self) -> None:
        """The channel answers again: everything waiting for it is due at once."""
        self._unavailable = False
        woken = await self._repository.wake_unavailable(self._channel)
        log.warning("%s available again; %d waiting replies resume", self._channel, woken)
        self._sweep_now.set()


def _brief(error: BaseException) -> str:
    """An error for the log without what it may quote (texts, names, bound values)."""
    return type(error).__name__


class Senders:
    """The outbox senders running in this process, by channel: a reply stored outside a
    channel's own turn (an operator's answer) wakes its channel's sender. A channel
    running in another process finds the reply on its next sweep."""

    def __init__(self) -> None:
        self._wake: dict[str, Callable[[str], None]] = {}

    def register(self, channel: str, wake: Callable[[str], None]) -> None:
        self._wake[channel] = wake

    def unregister(self, channel: str) -> None:
        self._wake.pop(channel, None)

    def wake(self, reply: Reply) -> None:
        wake = self._wake.get(reply.channel)
        if wake is not None:
            wake(reply.chat_id)
