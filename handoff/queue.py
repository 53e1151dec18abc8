"""The operators' queue on Redis Streams.

The database is the source of truth: a handoff event commits with the turn that caused
it (`handoff.events`). A relay copies new events onto a stream; consumers of one
consumer group, in any number of processes, take entries and apply the events of the
entry's conversation in order, then acknowledge the entry. An entry tells a consumer
which conversation has work; the events themselves are read from the database, so an
entry delivered twice (or published twice) does nothing the second time.

Urgent conversations (emergencies, angry citizens) go onto a stream of their own that
consumers read first; each stream is first in, first out. A consumer takes entries in
batches (urgent ones first, filled up with normal ones) and handles each conversation of
a batch once, under its lock: its pending events applied one by one, each recorded as
applied right after it took effect (a crash repeats at most one event's effect), then
all its entries acknowledged together with the lock's release.

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
import math
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
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
        concurrency: Conversations handled at once.
        retry_delay: Seconds an entry stays untouched before a live consumer takes it
            again (its consumer died or its attempt failed).
        attempts: Failed attempts (other than temporary failures) before an event is
            set aside.
        block: Seconds a read waits for new entries.
        lock_ttl: Seconds a conversation's lock outlives a consumer that died with it.
        batch: The most entries taken from the streams at a time (urgent ones first).
        batch_window: Seconds of work a batch is sized to at the recent pace (at least
            ``concurrency`` entries, at most ``batch``): a consumer whose conversations
            take long (Telegram's pacing) takes few entries at a time, so that urgent
            entries arriving meanwhile do not wait behind many normal ones it took.
    """

    concurrency: int = 4
    retry_delay: float = 5.0
    attempts: int = 10
    block: float = 1.0
    lock_ttl: float = 10.0
    batch: int = 32
    batch_window: float = 0.25


@dataclass(frozen=True, slots=True)
class Entry:
    stream: str
    id: str
    conversation_id: int
    event_id: int | None = None  # the stored event the relay published it for


# Ids of events a consumer recorded applied that it remembers (the newest).
REMEMBERED = 10_000


class HandoffConsumer:
    """One consumer of the group: applies events, urgent conversations first.

    It reads entries in batches and handles each conversation of a batch once: one lock,
    one read of its pending events, one acknowledgement of all its entries. An entry
    whose event this consumer recorded applied itself (a later entry of a conversation
    whose events an earlier one applied) is acknowledged without either.
    """

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
        self._applied: dict[int, None] = {}  # event ids recorded applied, oldest first
        self._cursors = dict.fromkeys(streams.streams, "0-0")  # of XAUTOCLAIM
        self._claimed_at = -math.inf
        self._pace: float | None = None  # seconds a conversation took, moving average

    async def run(self, stop: asyncio.Event) -> None:
        """Read batches and handle their conversations, ``concurrency`` at a time; the
        next batch is read as soon as a conversation can start."""
        slots = asyncio.Semaphore(self._policy.concurrency)
        running: set[asyncio.Task[bool]] = set()
        failures = 0
        with contextlib.suppress(RedisError):  # unreachable now: the loop retries it
            await self._streams.ensure_group()
        try:
            while not stop.is_set():
                await slots.acquire()  # reserved for the batch's first conversation
                if stop.is_set():
                    slots.release()
                    break
                try:
                    entries = await self._next()
                    failures = 0
                except Exception as error:
                    slots.release()
                    if isinstance(error, ResponseError) and "NOGROUP" in str(error):
                        # Redis lost the streams (restarted without its data): make them
                        # again; the relay republishes what was not applied.
                        log.info("handoff streams missing in Redis: creating them")
                        with contextlib.suppress(RedisError):
                            await self._streams.ensure_group()
                        await wait_any(0.05, stop)
                        continue
                    failures += 1
                    if failures == 1:
                        log.warning("handoff queue unreadable: %s", type(error).__name__)
                    await wait_any(min(0.2 * failures, 5.0), stop)
                    continue
                running = {task for task in running if not task.done()}
                await self._dispatch(entries, slots, running, reserved=True)
            await asyncio.gather(*running)  # what was read is handled before stopping
        finally:
            for task in running:
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)

    async def handle(self, *entries: Entry) -> bool:
        """Handle entries this consumer read (of any conversations, in any order):
        urgent conversations first, up to ``concurrency`` at a time, each applying its
        pending events and acknowledging its entries together when all took effect
        (else they are taken again after ``retry_delay``). True when every entry was
        acknowledged."""
        slots = asyncio.Semaphore(self._policy.concurrency)
        started: set[asyncio.Task[bool]] = set()
        acknowledged = await self._dispatch(list(entries), slots, started, reserved=False)
        results = await asyncio.gather(*started)
        return acknowledged and all(results)

    def acknowledged(self, entries: Sequence[Entry]) -> None:
        """Called with entries just acknowledged; does nothing (a subclass may count)."""

    def _batch_size(self) -> int:
        """Entries to take: about ``batch_window`` seconds of work at the recent pace."""
        policy = self._policy
        low = max(1, min(policy.concurrency, policy.batch))
        if self._pace is None:
            return low
        size = int(policy.concurrency * policy.batch_window / max(self._pace, 1e-6))
        return max(low, min(policy.batch, size))

    def _paced(self, seconds: float) -> None:
        self._pace = seconds if self._pace is None else 0.8 * self._pace + 0.2 * seconds

    async def _next(self) -> list[Entry]:
        """A batch of entries to handle: new urgent ones, filled up with new normal ones;
        then ones left idle too long by any consumer (also every ``retry_delay`` while
        new ones keep coming); else wait a while for new ones."""
        size = self._batch_size()
        entries: list[Entry] = []
        for stream in self._streams.streams:
            got = await self._redis.xreadgroup(
                GROUP, self.name, {stream: ">"}, count=size - len(entries)
            )
            entries += _entries(got or [])
            if len(entries) >= size:
                break
        now = time.monotonic()
        if not entries or now - self._claimed_at >= self._policy.retry_delay:
            self._claimed_at = now
            entries += await self._claim(size)
        if entries:
            return entries
        got = await self._redis.xreadgroup(
            GROUP,
            self.name,
            dict.fromkeys(self._streams.streams, ">"),
            count=size,
            block=int(self._policy.block * 1000),
        )
        return _entries(got or [])

    async def _claim(self, size: int) -> list[Entry]:
        """Up to ``size`` entries idle for ``retry_delay``, urgent ones first; each stream
        is scanned on from where the last claim left it."""
        idle_ms = int(self._policy.retry_delay * 1000)
        claimed: list[Entry] = []
        for stream in self._streams.streams:
            cursor, messages = (
                await self._redis.xautoclaim(
                    stream,
                    GROUP,
                    self.name,
                    min_idle_time=idle_ms,
                    start_id=self._cursors[stream],
                    count=size - len(claimed),
                )
            )[:2]
            self._cursors[stream] = cursor.decode() if isinstance(cursor, bytes) else cursor
            claimed += _entries([[stream, [m for m in messages if m and m[1]]]])
            if len(claimed) >= size:
                break
        return claimed

    async def _dispatch(
        self,
        entries: list[Entry],
        slots: asyncio.Semaphore,
        started: set[asyncio.Task[bool]],
        *,
        reserved: bool,
    ) -> bool:
        """Acknowledge the entries whose events this consumer recorded applied, and start
        handling each conversation of the others, urgent ones first, each once a slot
        is free (``reserved``: one is already taken for the first), adding its task to
        ``started``. Returns whether that first acknowledgement went through."""
        known: list[Entry] = []
        conversations: dict[int, list[Entry]] = {}
        for entry in sorted(entries, key=lambda e: e.stream != self._streams.urgent):
            if entry.event_id in self._applied:
                known.append(entry)
            else:
                conversations.setdefault(entry.conversation_id, []).append(entry)
        acknowledged = True
        if known:
            try:
                await self._acknowledge(known)
            except RedisError as error:
                acknowledged = False
                log.warning("handoff entries not acknowledged: %s", type(error).__name__)
        for conversation_id, group in conversations.items():
            if not reserved:
                await slots.acquire()
            reserved = False
            task = asyncio.create_task(self._handle_conversation(conversation_id, group))
            task.add_done_callback(lambda _: slots.release())
            started.add(task)
        if reserved:
            slots.release()
        return acknowledged

    async def _handle_conversation(self, conversation_id: int, entries: list[Entry]) -> bool:
        """Apply the conversation's pending events under its lock; acknowledge its
        entries (and release the lock) in one transaction when all took effect."""
        acknowledging = False
        started = time.monotonic()
        try:
            async with self._local_lock(conversation_id):
                if all(e.event_id in self._applied for e in entries):
                    # Applied while these waited for the lock, by earlier entries.
                    acknowledging = True
                    await self._acknowledge(entries)
                    return True
                async with self._shared_lock(conversation_id) as release:
                    if not await self._apply_pending(conversation_id):
                        return False
                    acknowledging = True
                    await self._acknowledge(entries, release())
                    return True
        except Exception as error:
            log.warning(
                "conversation %s: %s: %s",
                conversation_id,
                "handoff entries not acknowledged"
                if acknowledging
                else "handoff events not applied",
                type(error).__name__,
            )
            return False
        finally:
            self._paced(time.monotonic() - started)

    async def _acknowledge(self, entries: list[Entry], release: _Release | None = None) -> None:
        """XACK + XDEL the entries, and release the lock if given, in one transaction."""
        pipe = self._redis.pipeline(transaction=True)
        by_stream: dict[str, list[str]] = {}
        for entry in entries:
            by_stream.setdefault(entry.stream, []).append(entry.id)
        for stream, ids in by_stream.items():
            pipe.xack(stream, GROUP, *ids)
            pipe.xdel(stream, *ids)
        if release is not None:
            pipe.eval(_RELEASE, 1, release.key, release.token)
        try:
            await pipe.execute()
        except BaseException:
            if release is not None:
                release.failed()
            raise
        self.acknowledged(entries)

    async def _apply_pending(self, conversation_id: int) -> bool:
        """Apply the conversation's unapplied events in order, recording each one right
        after it took effect; False when one has to be tried again later."""
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
                self._remember(event.id)
                continue
            await self._events.applied(event.id)  # False: another consumer recorded it
            self._remember(event.id)
        return True

    def _remember(self, event_id: int) -> None:
        self._applied[event_id] = None
        if len(self._applied) > REMEMBERED:
            del self._applied[next(iter(self._applied))]

    @contextlib.asynccontextmanager
    async def _local_lock(self, conversation_id: int) -> AsyncIterator[None]:
        """One task of this process at a time handles a conversation."""
        local, users = self._local.get(conversation_id, (asyncio.Lock(), 0))
        self._local[conversation_id] = (local, users + 1)
        try:
            async with local:
                yield
        finally:
            local, users = self._local[conversation_id]
            if users == 1:
                del self._local[conversation_id]
            else:
                self._local[conversation_id] = (local, users - 1)

    @contextlib.asynccontextmanager
    async def _shared_lock(self, conversation_id: int) -> AsyncIterator[Callable[[], _Release]]:
        """One consumer at a time applies a conversation's events (across processes).

        Yields a function that hands the release over to the caller's transaction
        (`_acknowledge`); otherwise the lock is released on leaving. It is extended every
        third of ``lock_ttl`` for as long as it is held, from a third of ``lock_ttl`` on:
        a conversation applied sooner, as nearly all are, costs no extension and no task.
        """
        key = f"{self._streams.lock_prefix}{conversation_id}"
        token = uuid.uuid4().hex
        ttl_ms = int(self._policy.lock_ttl * 1000)
        # Another process may hold it: there is no event to wait on, only Redis to ask.
        while not await self._redis.set(key, token, nx=True, px=ttl_ms):  # noqa: ASYNC110
            await asyncio.sleep(0.02)
        keeper = _Keeper(self._redis, key, token, ttl_ms)
        release = _Release(key, token)

        def hand_over() -> _Release:
            keeper.stop()
            release.handed_over = True
            return release

        try:
            yield hand_over
        finally:
            keeper.stop()
            await keeper.stopped()
            if not release.handed_over:
                with contextlib.suppress(RedisError):
                    await self._redis.eval(_RELEASE, 1, key, token)


@dataclass(slots=True)
class _Release:
    """A held lock whose release goes with the acknowledgement."""

    key: str
    token: str
    handed_over: bool = False

    def failed(self) -> None:
        """The transaction did not go through: release the lock on leaving instead."""
        self.handed_over = False


class _Keeper:
    """Extends a held lock every third of its ttl; the first extension is scheduled, not
    a task, so a lock released within a third of its ttl costs only a timer."""

    def __init__(self, redis: Redis, key: str, token: str, ttl_ms: int) -> None:
        self._redis = redis
        self._key = key
        self._token = token
        self._ttl_ms = ttl_ms
        self._task: asyncio.Task[None] | None = None
        self._timer: asyncio.TimerHandle | None = asyncio.get_running_loop().call_later(
            ttl_ms / 3000, self._start
        )

    def _start(self) -> None:
        self._timer = None
        self._task = asyncio.create_task(self._keep())

    async def _keep(self) -> None:
        while True:
            with contextlib.suppress(RedisError):
                await self._redis.eval(_EXTEND, 1, self._key, self._token, self._ttl_ms)
            await asyncio.sleep(self._ttl_ms / 3000)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._task is not None:
            self._task.cancel()

    async def stopped(self) -> None:
        if self._task is not None:
            await asyncio.wait([self._task])
            self._task = None


def _entries(reply: Any) -> list[Entry]:
    entries = []
    for stream, messages in reply:
        name = stream.decode() if isinstance(stream, bytes) else stream
        for entry_id, fields in messages:
            if not fields:
                continue
            conversation = fields.get(b"conversation") or fields.get("conversation")
            event = fields.get(b"event") or fields.get("event")
            identifier = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
            entries.append(
                Entry(name, identifier, int(conversation), int(event) if event else None)
            )
    return entries
