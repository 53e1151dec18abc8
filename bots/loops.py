"""A channel's two background loops: the inbox worker and the outbox sender."""

from __future__ import annotations

import asyncio
import logging

from bots.inbox import InboxWorker
from bots.outbox import OutboxSender

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
