"""The operators' queue on Redis Streams.

The database is the source of truth: a handoff event commits with the turn that caused
it (`handoff.events`). A relay copies new events onto a stream; consumers of one
consumer group, in any number of processes, take entries and apply the events of the
entry's conversation in order, then acknowledge the entry. An entry tells a consumer
which conversation has work; the events themselves are read from the database, so an
entry delivered twice (or published twice) does nothing the second time.

Urgent conversations (emergencies, angry citizens) go onto a stream of their own that
consumers read first; each stream is first in, first out.

Redis being down delays the queue and loses nothing: events wait in the database until
the relay can publish them. A Redis that lost its data (no AOF, a disk lost) is noticed
by its epoch key, and every unapplied event is published again. An entry a consumer
took and never acknowledged (it died, or its attempt failed) is claimed again by a
live consumer once it has been idle for ``retry_delay`` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from core.models import ERROR_LIMIT, utcnow
from core.waiting import wait_any
from handoff.events import HandoffEventRepository, StoredEvent

log = logging.getLogger(__name__)

GROUP = "operators"

# Deletes the lock only if it is still ours / extends it only if it is still ours.
_RELEASE = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"
)
_EXTEND = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then "
    "return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0"
)


class TemporaryFailure(Exception):
    """The event could not take effect now (the operator group or the citizen's channel
    is unreachable); it is retried for as long as it takes."""


class EventHandler(Protocol):
    """What applying an event means (posting to the operator group, relaying)."""

    async def apply(self, event: StoredEvent) -> None:
        """Make the event take effect. Must be idempotent: an event whose effect was
        made but not yet recorded as applied (a crash in between) comes again.

        Raises:
            TemporaryFailure: Try again later, as often as needed.
            Exception: Anything else counts as a failed attempt; after the last one
                the event is set aside with its error.
        """
        ...


class HandoffStreams:
    """The stream, lock and epoch keys of one Djinn installation in a Redis."""

    def __init__(self, redis: Redis, namespace: str = "djinn") -> None:
        self.redis = redis
        self.urgent = f"{namespace}:handoff:urgent"
        self.normal = f"{namespace}:handoff:normal"
        self.epoch_key = f"{namespace}:handoff:epoch"
        self.lock_prefix = f"{namespace}:handoff:lock:"

    @property
    def streams(self) -> tuple[str, str]:
        """In the order consumers read them."""
        return (self.urgent, self.normal)

    def stream_for(self, priority: int) -> str:
        return self.urgent if priority > 0 else self.normal

    async def epoch(self) -> str:
        """The current lifetime of the streams: a new one when Redis lost its data."""
        value = await self.redis.get(self.epoch_key)
        if value is None:
            await self.redis.set(self.epoch_key, uuid.uuid4().hex, nx=True)
            value = await self.redis.get(self.epoch_key)
        return value.decode() if isinstance(value, bytes) else str(value)

    async def ensure_group(self) -> None:
        for stream in self.streams:
            try:
                await self.redis.xgroup_create(stream, GROUP, id="0", mkstream=True)
            except ResponseError as error:
                if "BUSYGROUP" not in str(error):
                    raise

    async def backlog(self) -> int:
        """Entries not yet acknowledged, over both streams."""
        total = 0
        for stream in self.streams:
            with contextlib.suppress(ResponseError):
                total += int(await self.redis.xlen(stream))
        return total


class HandoffRelay:
    """Copies stored events onto the streams."""

    def __init__(
        self,
        streams: HandoffStreams,
        events: HandoffEventRepository,
        *,
        interval: float = 0.5,
        republish_after: float = 300.0,
        batch: int = 500,
    ) -> None:
        self._streams = streams
        self._events = events
        self._interval = interval
        self._republish_after = republish_after
        self._batch = batch
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Publish now (an event was just committed in this process)."""
        self._wake.set()

    async def publish(self) -> int:
        """Publish what is due; returns how many events went onto the streams."""
        total = 0
        while True:
            epoch = await self._streams.epoch()
            stale = utcnow() - timedelta(seconds=self._republish_after)
            due = await self._events.to_publish(epoch, stale, self._batch)
            if not due:
                return total
            pipe = self._streams.redis.pipeline(transaction=False)
            for event in due:
                pipe.xadd(
                    self._streams.stream_for(event.priority),
                    {"event": event.id, "conversation": event.conversation_id},
                )
            await pipe.execute()
            await self._events.published([e.id for e in due], epoch)
            total += len(due)
            if len(due) < self._batch:
                return total

    async def run(self, stop: asyncio.Event) -> None:
        failures = 0
        while not stop.is_set():
            self._wake.clear()
            try:
                await self.publish()
                if failures:
                    log.info("handoff relay publishing again")
                failures = 0
            except Exception as error:
                failures += 1
                if failures == 1:
                    log.warning("handoff relay cannot publish: %s", type(error).__name__)
            await wait_any(self._interval * min(failures + 1, 20), stop, self._wake)


@dataclass(frozen=True, slots=True)
class ConsumerPolicy:
    """How a consumer works.

    Attributes:
        concurrency: Entries handled at once (different conversations).
        retry_delay: Seconds an entry stays untouched before a live consumer takes it
            again (its consumer died or its attempt failed).
        attempts: Failed attempts (other than temporary failures) before an event is
            set aside.
        block: Seconds a read waits for new entries.
        lock_ttl: Seconds a conversation's lock outlives a consumer that died with it.
    """

    concurrency: int = 4
    retry_delay: float = 5.0
    attempts: int = 10
    block: float = 1.0
    lock_ttl: float = 10.0


@dataclass(frozen=True, slots=True)
class Entry:
    stream: str
    id: str
    conversation_id: int


class HandoffConsumer:
    """One consumer of the group: applies events, urgent conversations first."""

    def __init__(
        self,
        streams: HandoffStreams,
        events: HandoffEventRepository,
        handler: EventHandler,
        name: str,
        policy: ConsumerPolicy | None = None,
    ) -> None:
        self._streams = streams
        self._redis = streams.redis
        self._events = events
        self._handler = handler
        self.name = name
        self._policy = policy or ConsumerPolicy()
        self._local: dict[int, tuple[asyncio.Lock, int]] = {}  # a lock and its users

    async def run(self, stop: asyncio.Event) -> None:
        workers = [
            asyncio.create_task(self._work(stop), name=f"handoff-consumer-{n}")
            for n in range(self._policy.concurrency)
        ]
        try:
            await asyncio.gather(*workers)
        finally:
            for worker in workers:
                worker.cancel()
            await asyncio.gather(*workers, return_exceptions=True)

    async def _work(self, stop: asyncio.Event) -> None:
        failures = 0
        while not stop.is_set():
            try:
                entries = await self._next()
                failures = 0
            except Exception as error:
                failures += 1
                if failures == 1:
                    log.warning("handoff queue unreadable: %s", type(error).__name__)
                if isinstance(error, ResponseError) and "NOGROUP" in str(error):
                    with contextlib.suppress(RedisError):
                        await self._streams.ensure_group()
                await wait_any(min(0.2 * failures, 5.0), stop)
                continue
            for entry in entries:
                await self.handle(entry)

    async def _next(self) -> list[Entry]:
        """Entries to handle: new urgent ones, new normal ones, then ones left idle
        too long by any consumer; else wait for new ones a while."""
        for stream in self._streams.streams:
            got = await self._redis.xreadgroup(GROUP, self.name, {stream: ">"}, count=1)
            if got:
                return _entries(got)
        idle_ms = int(self._policy.retry_delay * 1000)
        for stream in self._streams.streams:
            reply = await self._redis.xautoclaim(
                stream, GROUP, self.name, min_idle_time=idle_ms, start_id="0-0", count=1
            )
            claimed = [m for m in reply[1] if m and m[1]]
            if claimed:
                return _entries([[stream, claimed]])
        got = await self._redis.xreadgroup(
            GROUP,
            self.name,
            dict.fromkeys(self._streams.streams, ">"),
            count=1,
            block=int(self._policy.block * 1000),
        )
        return sorted(_entries(got or []), key=lambda e: e.stream != self._streams.urgent)

    async def handle(self, entry: Entry) -> bool:
        """Apply the pending events of the entry's conversation; acknowledge the entry
        when all took effect (else it is taken again after ``retry_delay``)."""
        try:
            async with self._conversation_lock(entry.conversation_id):
                done = await self._apply_pending(entry.conversation_id)
        except Exception as error:
            log.warning(
                "conversation %s: handoff events not applied: %s",
                entry.conversation_id,
                type(error).__name__,
            )
            return False
        if done:
            pipe = self._redis.pipeline(transaction=True)
            pipe.xack(entry.stream, GROUP, entry.id)
            pipe.xdel(entry.stream, entry.id)
            await pipe.execute()
        return done

    async def _apply_pending(self, conversation_id: int) -> bool:
        for event in await self._events.pending(conversation_id):
            try:
                await self._handler.apply(event)
            except TemporaryFailure as error:
                log.info("conversation %s: %s waits: %s", conversation_id, event.kind, error)
                return False
            except Exception as error:
                attempts = await self._events.failed(event.id, repr(error))
                if attempts < self._policy.attempts:
                    log.warning(
                        "conversation %s: %s failed (attempt %s): %s",
                        conversation_id,
                        event.kind,
                        attempts,
                        type(error).__name__,
                    )
                    return False
                log.error(
                    "conversation %s: %s set aside after %s attempts: %s",
                    conversation_id,
                    event.kind,
                    attempts,
                    type(error).__name__,
                )
                await self._events.applied(event.id, error=f"set aside: {error!r}"[:ERROR_LIMIT])
                continue
            await self._events.applied(event.id)
        return True

    @contextlib.asynccontextmanager
    async def _conversation_lock(self, conversation_id: int) -> AsyncIterator[None]:
        """One consumer at a time applies a conversation's events (across processes)."""
        local, users = self._local.get(conversation_id, (asyncio.Lock(), 0))
        self._local[conversation_id] = (local, users + 1)
        try:
            async with local, self._shared_lock(conversation_id):
                yield
        finally:
            local, users = self._local[conversation_id]
            if users == 1:
                del self._local[conversation_id]
            else:
                self._local[conversation_id] = (local, users - 1)

    @contextlib.asynccontextmanager
    async def _shared_lock(self, conversation_id: int) -> AsyncIterator[None]:
        key = f"{self._streams.lock_prefix}{conversation_id}"
        token = uuid.uuid4().hex
        ttl_ms = int(self._policy.lock_ttl * 1000)
        # Another process may hold it: there is no event to wait on, only Redis to ask.
        while not await self._redis.set(key, token, nx=True, px=ttl_ms):  # noqa: ASYNC110
            await asyncio.sleep(0.02)
        keeper = asyncio.create_task(self._keep(key, token, ttl_ms))
        try:
            yield
        finally:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper
            with contextlib.suppress(RedisError):
                await self._redis.eval(_RELEASE, 1, key, token)

    async def _keep(self, key: str, token: str, ttl_ms: int) -> None:
        while True:
            await asyncio.sleep(ttl_ms / 3000)
            with contextlib.suppress(RedisError):
                await self._redis.eval(_EXTEND, 1, key, token, ttl_ms)


def _entries(reply: Any) -> list[Entry]:
    entries = []
    for stream, messages in reply:
        name = stream.decode() if isinstance(stream, bytes) else stream
        for entry_id, fields in messages:
            if not fields:
                continue
            conversation = fields.get(b"conversation") or fields.get("conversation")
            identifier = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
            entries.append(Entry(name, identifier, int(conversation)))
    return entries
