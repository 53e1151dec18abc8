"""Long polling of ``GET /updates`` with a durable inbox: each batch is stored before the
next request acknowledges it by asking from the new ``marker`` (kept on disk, so a
restart neither skips nor, beyond the last batch, repeats updates; a repeated one is
dropped by the inbox's key).

MAX allows two polls a second: polls are spaced by at least ``MIN_INTERVAL``, and a 429
is waited out with the backoff like any failure."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from maxapi import Bot

from bots.inbox import InboxWorker
from bots.max.processing import as_payload, inbox_key
from bots.polling import Backoff, PositionFile, sleep_unless_stopped, unless_stopped

log = logging.getLogger(__name__)

BATCH = 100
MIN_INTERVAL = 0.5


class PollAnswerError(ValueError):
    """``GET /updates`` answered something that is not a batch of updates."""


class MaxLongPoll:
    def __init__(
        self,
        *,
        bot: Bot,
        worker: InboxWorker,
        marker_file: PositionFile | None = None,
        wait: int = 30,
        backoff: Backoff | None = None,
    ) -> None:
        self._bot = bot
        self._worker = worker
        self._marker_file = marker_file or PositionFile(None)
        self._wait = wait
        self._backoff = backoff or Backoff()

    async def run(self, stop: asyncio.Event) -> None:
        saved = self._marker_file.load()
        marker = int(saved) if saved is not None and saved.lstrip("-").isdigit() else None
        failures = 0
        while not stop.is_set():
            began = time.monotonic()
            try:
                answer = await unless_stopped(
                    self._bot.get_updates(limit=BATCH, timeout=self._wait, marker=marker), stop
                )
                if stop.is_set():
                    return
                marker = await self._accept(answer, marker)
                failures = 0
            except Exception as error:
                # Nothing was acknowledged: the same marker is asked for again.
                failures += 1
                if failures == 1 or failures % 10 == 0:
                    log.warning("MAX long poll failed %d time(s) in a row: %s",
                                failures, _brief(error))  # fmt: skip
                await sleep_unless_stopped(self._backoff.delay(failures), stop)
                continue
            spent = time.monotonic() - began
            if spent < MIN_INTERVAL:
                await sleep_unless_stopped(MIN_INTERVAL - spent, stop)

    async def _accept(self, answer: Any, marker: int | None) -> int | None:
        if not isinstance(answer, dict) or not isinstance(answer.get("updates"), list):
            keys = sorted(answer)[:10] if isinstance(answer, dict) else type(answer).__name__
            raise PollAnswerError(f"updates answered {keys}")
        updates = answer["updates"]
        if updates:
            await self._worker.accept([(inbox_key(u), as_payload(u)) for u in updates])
        found = answer.get("marker")
        if isinstance(found, int) and not isinstance(found, bool):
            self._marker_file.save(found)
            return found
        return marker


def _brief(error: BaseException) -> str:
    """The error without what it may quote (an answer can hold citizens' messages)."""
    if isinstance(error, PollAnswerError):
        return str(error)
    code = getattr(error, "code", None)
    return f"{type(error).__name__} {code}" if isinstance(code, int) else type(error).__name__
