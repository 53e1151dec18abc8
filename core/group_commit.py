"""Group commit: small writes asked for while one is being committed are committed
together, in one transaction.

On SQLite every transaction waits its turn at the process's write gate and pays a
commit (an fsync); under load the queue at the gate, not the work, is what a message
waits for. The bookkeeping writes of the message path (an update stored in the inbox,
an update done, a reply delivered) are small and independent, so a batch of them costs
about what one costs. Each caller still returns only once its own write is durable,
with its own result, and sees the batch's error when the batch failed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class GroupCommit(Generic[T, R]):
    """Collects requests and commits them in batches, one batch at a time.

    Args:
        commit: Commits a batch of requests in one transaction and returns one result
            per request, in order. When it raises, every request of the batch gets the
            error.
        limit: The most requests in one batch.
    """

    def __init__(
        self, commit: Callable[[list[T]], Awaitable[Sequence[R]]], limit: int = 500
    ) -> None:
        self._commit = commit
        self._limit = limit
        self._queued: list[tuple[T, asyncio.Future[R]]] = []
        self._committing: asyncio.Task[None] | None = None

    async def submit(self, request: T) -> R:
        """Queue ``request`` and return its result once its batch committed."""
        result: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._queued.append((request, result))
        if self._committing is None or self._committing.done():
            self._committing = asyncio.create_task(self._commit_queued())
        # A caller that gives up cancels only its own future: the batch goes on for
        # the others (and may still commit its request).
        return await result

    async def _commit_queued(self) -> None:
        while self._queued:
            batch = self._queued[: self._limit]
            del self._queued[: self._limit]
            try:
                results = await self._commit([request for request, _ in batch])
                if len(results) != len(batch):
                    raise RuntimeError(f"{len(results)} results for {len(batch)} requests")
            except Exception as error:
                for _, result in batch:
                    if not result.done():
                        result.set_exception(error)
                continue
            except BaseException:
                for _, result in batch + self._queued:
                    result.cancel()
                self._queued.clear()
                raise
            for (_, result), value in zip(batch, results, strict=True):
                if not result.done():
                    result.set_result(value)
