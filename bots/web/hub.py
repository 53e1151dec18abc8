"""Who is listening now: each visitor's open sockets and held long polls in this process.
A frame pushed to a visitor goes to every tab they have open; a visitor with none reads
it from the history at the next connection."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any

from bots.web.frames import encode

QUEUE_LIMIT = 256  # frames waiting for one slow socket before it is dropped


class Connection:
    """One open socket's frames to send, in order. A socket that falls this far behind
    is closed (``overflowed``): the browser reconnects and reads the history."""

    __slots__ = ("frames", "overflowed")

    def __init__(self) -> None:
        self.frames: asyncio.Queue[str] = asyncio.Queue(QUEUE_LIMIT)
        self.overflowed = asyncio.Event()

    def push(self, frame: str) -> None:
        try:
            self.frames.put_nowait(frame)
        except asyncio.QueueFull:
            self.overflowed.set()

    def send(self, frame: dict[str, Any]) -> None:
        self.push(encode(frame))


class VisitorHub:
    """The visitors' connections and long-poll waiters."""

    def __init__(self) -> None:
        self._sockets: dict[str, set[Connection]] = {}
        self._waiters: dict[str, set[asyncio.Event]] = {}

    @contextlib.contextmanager
    def attached(self, visitor: str, connection: Connection) -> Iterator[None]:
        self._sockets.setdefault(visitor, set()).add(connection)
        try:
            yield
        finally:
            self._discard(self._sockets, visitor, connection)

    @contextlib.contextmanager
    def waiting(self, visitor: str) -> Iterator[asyncio.Event]:
        """An event set when something is pushed to ``visitor`` (a long poll waits on it)."""
        event = asyncio.Event()
        self._waiters.setdefault(visitor, set()).add(event)
        try:
            yield event
        finally:
            self._discard(self._waiters, visitor, event)

    def push(self, visitor: str, frame: dict[str, Any], skip: Connection | None = None) -> int:
        """Send ``frame`` to the visitor's sockets (but ``skip``) and wake their long polls;
        how many sockets it went to."""
        sockets = [c for c in self._sockets.get(visitor, ()) if c is not skip]
        if sockets:
            encoded = encode(frame)
            for connection in sockets:
                connection.push(encoded)
        for event in self._waiters.get(visitor, ()):
            event.set()
        return len(sockets)

    def sockets(self) -> int:
        """Open sockets in this process."""
        return sum(len(group) for group in self._sockets.values())

    @staticmethod
    def _discard(table: dict[str, set[Any]], visitor: str, item: Any) -> None:
        group = table.get(visitor)
        if group is None:
            return
        group.discard(item)
        if not group:
            del table[visitor]
