"""What every channel runs the same way: its two background loops (the inbox worker and
the outbox sender), built around the channel's own mapping of updates and its way of
sending, so that a channel's runner only receives updates."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from bots.conversation import ConversationHandler
from bots.inbox import InboxPolicy, InboxWorker, UpdateHandler
from bots.outbox import OutboxPolicy, OutboxSender, Senders, Transport
from bots.polling import Backoff
from core.inbox import InboxRepository
from core.metrics import Metrics
from core.outbox import OutboxRepository
from core.settings import Settings

log = logging.getLogger(__name__)


class ChannelLoops:
    """Runs a channel's inbox worker and outbox sender from ``start`` to ``stop``.

    They stop in order: the worker first, so that the turns it lets finish can still
    hand their replies to the sender; then the sender, which sends what it can in its
    grace time. Nothing is left running on the database after ``stop``.
    """

    def __init__(self, channel: str, worker: InboxWorker, sender: OutboxSender) -> None:
        self._channel = channel
        self._worker = worker
        self._sender = sender
        self._worker_stop = asyncio.Event()
        self._sender_stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        worker = self._worker.run(self._worker_stop)
        sender = self._sender.run(self._sender_stop)
        self._tasks = [
            asyncio.create_task(worker, name=f"{self._channel}-inbox"),
            asyncio.create_task(sender, name=f"{self._channel}-outbox"),
        ]

    async def stop(self) -> None:
        for halt, task in zip((self._worker_stop, self._sender_stop), self._tasks, strict=True):
            halt.set()
            [outcome] = await asyncio.gather(task, return_exceptions=True)
            if isinstance(outcome, Exception):
                log.error("%s stopped with %s", task.get_name(), type(outcome).__name__)


@dataclass(frozen=True, slots=True)
class RunningChannel:
    """A channel's running loops: its runner hands received updates to ``worker``
    (``worker.accept``); ``sender`` sends the replies."""

    worker: InboxWorker
    sender: OutboxSender


@dataclass(frozen=True, slots=True)
class RunOptions:
    """Knobs tests and benchmarks turn in a channel's runner.

    Attributes:
        poll_wait: Seconds a long poll waits for updates; None: the channel's own.
        poll_backoff: Pauses after failed polls.
        inbox: The inbox worker's policy; None: from the settings.
        outbox: The outbox sender's policy; None: from the settings, at the channel's
            sending rate.
    """

    poll_wait: int | None = None
    poll_backoff: Backoff = field(default_factory=Backoff)
    inbox: InboxPolicy | None = None
    outbox: OutboxPolicy | None = None

    def policies(self, settings: Settings, send_rate: float) -> dict[str, Any]:
        """`running_channel`'s ``inbox_policy`` and ``outbox_policy``."""
        return {
            "inbox_policy": self.inbox or InboxPolicy.from_settings(settings),
            "outbox_policy": self.outbox or OutboxPolicy.from_settings(settings, rate=send_rate),
        }


@contextlib.asynccontextmanager
async def running_channel(
    channel: str,
    transport: Transport,
    updates: Callable[[OutboxSender], UpdateHandler],
    conversation: ConversationHandler,
    inbox: InboxRepository,
    outbox: OutboxRepository,
    *,
    inbox_policy: InboxPolicy,
    outbox_policy: OutboxPolicy,
    metrics: Metrics | None = None,
    senders: Senders | None = None,
) -> AsyncIterator[RunningChannel]:
    """Start the channel's outbox sender over ``transport`` and its inbox worker (over
    the handler ``updates`` builds for that sender), make the sender known to
    ``senders`` (an operator's answer wakes it), and stop them in order on leaving:
    what was received keeps its turns and replies."""
    sender = OutboxSender(outbox, transport, outbox_policy, metrics)
    worker = InboxWorker(
        channel,
        inbox,
        updates(sender),
        conversation,
        sender.wake,
        inbox_policy,
        metrics,
    )
    loops = ChannelLoops(channel, worker, sender)
    loops.start()
    if senders is not None:
        senders.register(channel, sender.wake)
    try:
        yield RunningChannel(worker, sender)
    finally:
        await loops.stop()
        if senders is not None:
            senders.unregister(channel)
