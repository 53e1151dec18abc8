"""What every polling channel repeats: pauses after failures, the position it has
acknowledged kept on disk, and waiting that a stop cuts short."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Backoff:
    """Pauses after failed polls: ``base`` doubling up to ``limit`` seconds."""

    base: float = 0.5
    limit: float = 30.0

    def delay(self, failures: int) -> float:
        return min(self.base * 2 ** max(failures - 1, 0), self.limit)


class PositionFile:
    """The last acknowledged position (VK's ``ts``, MAX's ``marker``), kept on disk so
    that a restart resumes where the previous run stopped instead of skipping what
    arrived in between."""

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
            log.warning("could not keep the poll position in %s: %r", self._path, error)


async def unless_stopped(work: Awaitable[T], stop: asyncio.Event) -> T | None:
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


def _retrieve(task: asyncio.Future[Any]) -> None:
    # A poll abandoned at shutdown may still fail; its error is of no interest then.
    if not task.cancelled():
        task.exception()


async def sleep_unless_stopped(delay: float, stop: asyncio.Event) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), delay)
