"""Long polling with durable inbound: a batch is stored in the inbox before the next
getUpdates acknowledges it, so a crash while handlers run loses nothing. While the
database cannot be reached nothing is acknowledged: Telegram keeps the updates."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any, TypeVar

from aiogram import Bot
from aiogram.exceptions import TelegramUnauthorizedError
from aiogram.methods import TelegramMethod

from bots.inbox import InboxWorker
from bots.telegram.inbound import ALLOWED_UPDATES, update_id

logger = logging.getLogger(__name__)

T = TypeVar("T")


class GetRawUpdates(TelegramMethod[list[dict[str, Any]]]):
    """getUpdates answering raw dicts: they are stored exactly as received, and one
    malformed update cannot make the whole batch undecodable."""

    __returning__ = list[dict[str, Any]]
    __api_method__ = "getUpdates"

    offset: int | None = None
    limit: int | None = None
    timeout: int | None = None
    allowed_updates: list[str] | None = None


class Stopped(Exception):
    """The stop event was set while waiting."""


async def until_stopped(awaitable: Awaitable[T], stop: asyncio.Event) -> T:
    """Await ``awaitable`` unless ``stop`` is set first; then cancel it and raise `Stopped`."""
    work = asyncio.ensure_future(awaitable)
    stopper = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({work, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for future in (work, stopper):
            if not future.done():
                future.cancel()
        await asyncio.gather(work, stopper, return_exceptions=True)
    if work.cancelled():
        raise Stopped
    return work.result()


class DurablePolling:
    def __init__(
        self,
        bot: Bot,
        worker: InboxWorker,
        *,
        timeout: int = 25,
        max_backoff: float = 30.0,
    ) -> None:
        self._bot = bot
        self._worker = worker
        self._timeout = timeout
        self._max_backoff = max_backoff

    async def run(self, stop: asyncio.Event) -> None:
        offset: int | None = None
        failures = 0
        while not stop.is_set():
            try:
                batch = await until_stopped(self._fetch(offset), stop)
                await self._worker.accept(_keyed(batch))
            except Stopped:
                return
            except TelegramUnauthorizedError:
                raise
            except Exception as error:  # the loop outlives any single failure
                failures += 1
                delay = min(0.5 * 2 ** (failures - 1), self._max_backoff)
                if failures == 1 or failures % 10 == 0:
                    logger.warning("Polling failed %d time(s) in a row (%s); retrying in %.1f s",
                                   failures, type(error).__name__, delay)  # fmt: skip
                try:
                    await until_stopped(asyncio.sleep(delay), stop)
                except Stopped:
                    return
                continue
            failures = 0
            offset = _next_offset(batch, offset)

    async def _fetch(self, offset: int | None) -> list[dict[str, Any]]:
        method = GetRawUpdates(
            offset=offset, timeout=self._timeout, allowed_updates=ALLOWED_UPDATES
        )
        return await self._bot(method, request_timeout=self._timeout + 10)


def _keyed(batch: list[dict[str, Any]]) -> list[tuple[str, Any]]:
    """The batch's updates under their ids (one without an id cannot be stored)."""
    keyed = []
    for raw in batch:
        if update_id(raw) is None:
            logger.warning("An update without an id skipped (keys: %s)", _keys(raw))
            continue
        keyed.append((str(raw["update_id"]), raw))
    return keyed


def _keys(raw: Any) -> list[str]:
    """What kind of thing an odd update is, without its content."""
    return sorted(str(k)[:32] for k in raw)[:10] if isinstance(raw, dict) else [type(raw).__name__]


def _next_offset(batch: list[dict[str, Any]], offset: int | None) -> int | None:
    ids = [i for raw in batch if (i := update_id(raw)) is not None]
    if not ids:
        return offset
    return max(max(ids) + 1, offset or 0)
