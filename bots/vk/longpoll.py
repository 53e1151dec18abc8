"""Bots Long Poll with a durable inbox: each batch of events is stored before the next
``a_check`` acknowledges it by asking with the new ``ts``."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from vkbottle.api import ABCAPI
from vkbottle.polling import BotPolling

from bots.inbox import InboxWorker
from bots.polling import Backoff, PositionFile, sleep_unless_stopped, unless_stopped
from bots.vk.processing import as_payload, event_key

log = logging.getLogger(__name__)

# After this many failures in a row the server and key are asked for again.
FAILURES_BEFORE_NEW_SERVER = 3


class LongPollAnswerError(ValueError):
    """The long-poll server answered something that is neither updates nor ``failed``."""


class VkLongPoll:
    def __init__(
        self,
        *,
        api: ABCAPI,
        group_id: int | None,
        worker: InboxWorker,
        ts_file: PositionFile | None = None,
        wait: int = 25,
        backoff: Backoff | None = None,
    ) -> None:
        self._polling = BotPolling(api=api, group_id=group_id, wait=wait)
        self._ts_file = ts_file or PositionFile(None)
        self._worker = worker
        self._backoff = backoff or Backoff()

    async def run(self, stop: asyncio.Event) -> None:
        server: dict[str, Any] | None = None
        resume = self._ts_file.load()
        failures = 0
        while not stop.is_set():
            try:
                if server is None:
                    server = await self._polling.get_server()
                    log.info("VK long poll connected")
                    if resume is not None:
                        server["ts"], resume = resume, None
                answer = await unless_stopped(self._polling.get_event(server), stop)
                if stop.is_set():
                    return
                server = await self._next_server(server, answer)
                failures = 0
            except Exception as error:
                # Nothing was acknowledged: the same ts is asked for again.
                failures += 1
                if failures == 1 or failures % 10 == 0:
                    log.warning("VK long poll failed %d time(s) in a row: %s",
                                failures, _brief(error))  # fmt: skip
                if failures % FAILURES_BEFORE_NEW_SERVER == 0:
                    server = None
                await sleep_unless_stopped(self._backoff.delay(failures), stop)

    async def _next_server(self, server: dict[str, Any], answer: Any) -> dict[str, Any]:
        if not isinstance(answer, dict):
            raise LongPollAnswerError(f"long poll answered a {type(answer).__name__}")
        failed = answer.get("failed")
        if failed is not None:
            return await self._recover(server, failed, answer.get("ts"))
        updates, ts = answer.get("updates"), answer.get("ts")
        if not isinstance(updates, list) or ts is None:
            raise LongPollAnswerError(f"long poll answered keys {sorted(answer)[:10]}")
        await self._store(updates)
        self._ts_file.save(ts)
        return {**server, "ts": ts}

    async def _recover(self, server: dict[str, Any], failed: Any, ts: Any) -> dict[str, Any]:
        log.info("VK long poll answered failed=%r", failed)
        if failed == 1 and ts is not None:
            # Some history is lost; carry on from the ts VK gives.
            self._ts_file.save(ts)
            return {**server, "ts": ts}
        fresh = await self._polling.get_server()
        if failed == 2:
            # Only the key expired: keep our ts so no event is skipped.
            return {**fresh, "ts": server["ts"]}
        return fresh

    async def _store(self, updates: list[Any]) -> None:
        await self._worker.accept([(event_key(event), as_payload(event)) for event in updates])


def _brief(error: BaseException) -> str:
    """The error without what it may quote (an answer can hold citizens' messages)."""
    if isinstance(error, LongPollAnswerError):
        return str(error)
    return type(error).__name__
