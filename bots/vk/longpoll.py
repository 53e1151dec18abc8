"""Bots Long Poll with a durable inbox: each batch of events is stored before the next
``a_check`` acknowledges it by asking with the new ``ts``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from vkbottle.api import ABCAPI
from vkbottle.polling import BotPolling

from bots.inbox import InboxWorker
from bots.vk.processing import as_payload, event_key

log = logging.getLogger(__name__)

T = TypeVar("T")

# After this many failures in a row the server and key are asked for again.
FAILURES_BEFORE_NEW_SERVER = 3


@dataclass(frozen=True, slots=True)
class Backoff:
    """Pauses after failed polls: ``base`` doubling up to ``limit`` seconds."""

    base: float = 0.5
    limit: float = 30.0

    def delay(self, failures: int) -> float:
        return min(self.base * 2 ** max(failures - 1, 0), self.limit)


class LongPollAnswerError(ValueError):
    """The long-poll server answered something that is neither updates nor ``failed``."""


class TsFile:
    """The last acknowledged ``ts``, kept on disk so that a restart resumes where the
    previous run stopped instead of skipping what arrived in between."""

    def __init__(self, path: Path | None) -> None:
        self._path = path

    def load(self) -> str | None:
        if self._path is None:
            return None
        try:
            ts = self._path.read_text(encoding="utf-8").strip()
        except OSError:
            return None
        return ts or None

    def save(self, ts: Any) -> None:
        if self._path is None:
            return
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            temp = self._path.with_suffix(".tmp")
            temp.write_text(str(ts), encoding="utf-8")
            temp.replace(self._path)
        except OSError as error:
            log.warning("could not keep the VK long poll ts in %s: %r", self._path, error)


class VkLongPoll:
    def __init__(
        self,
        *,
        api: ABCAPI,
        group_id: int | None,
        worker: InboxWorker,
        ts_file: TsFile | None = None,
        wait: int = 25,
        backoff: Backoff | None = None,
    ) -> None:
        self._polling = BotPolling(api=api, group_id=group_id, wait=wait)
        self._ts_file = ts_file or TsFile(None)
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
                answer = await _unless_stopped(self._polling.get_event(server), stop)
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
                await _sleep_unless_stopped(self._backoff.delay(failures), stop)

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


async def _unless_stopped(work: Awaitable[T], stop: asyncio.Event) -> T | None:
    """The result of ``work``, or None when ``stop`` is set first (``work`` is cancelled)."""
    task = asyncio.ensure_future(work)
    task.add_done_callback(_retrieve)
    stopped = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
        if not task.done():
            task.cancel()
    if not task.done() or task.cancelled():
        return None
    return task.result()


def _brief(error: BaseException) -> str:
    """The error without what it may quote (an answer can hold citizens' messages)."""
    if isinstance(error, LongPollAnswerError):
        return str(error)
    return type(error).__name__


def _retrieve(task: asyncio.Future[Any]) -> None:
    # A poll abandoned at shutdown may still fail; its error is of no interest then.
    if not task.cancelled():
        task.exception()


async def _sleep_unless_stopped(delay: float, stop: asyncio.Event) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), delay)
