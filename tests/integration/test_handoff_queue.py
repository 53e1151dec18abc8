"""The operators' queue: events stored with the change that caused them reach the
consumers through the real Redis streams, urgent ones first, each conversation's in
order, each applied once, across Redis outages, data loss and dead consumers."""

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis
from sqlalchemy import event as sqlalchemy_event
from sqlalchemy import select

from core.domain import Channel, ConversationStatus
from core.models import Citizen, Conversation, HandoffEvent, Identity
from handoff.events import EventKind, HandoffEventRepository, StoredEvent, add_event
from handoff.queue import (
    GROUP,
    ConsumerPolicy,
    Entry,
    HandoffConsumer,
    HandoffRelay,
    HandoffStreams,
    TemporaryFailure,
)
from handoff.service import HandoffService, Priority
from tests.fakes import wait_for
from tests.integration.test_kb_notices_redis_restart import free_port, start_redis, wait_serving

FAST = ConsumerPolicy(concurrency=4, retry_delay=0.3, attempts=3, block=0.1, lock_ttl=2.0)
_numbers = itertools.count(1)


class Recorder:
    """An event handler that records what it applied, and can be told to fail."""

    def __init__(self) -> None:
        self.applied: list[StoredEvent] = []
        self.temporary_failures = 0
        self.broken: set[int] = set()  # event ids that always fail
        self.delay = 0.0

    async def apply(self, event: StoredEvent) -> None:
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.temporary_failures > 0:
            self.temporary_failures -= 1
            raise TemporaryFailure("the operator group is unreachable (test)")
        if event.id in self.broken:
            raise ValueError("this event breaks the handler (test)")
        self.applied.append(event)

    def ids(self) -> list[int]:
        return [e.id for e in self.applied]


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis(host="127.0.0.1", port=6379)
    yield client
    await client.aclose()


@pytest.fixture
def streams(handoff_streams: HandoffStreams) -> HandoffStreams:
    return handoff_streams


async def new_conversation(sessions, status=ConversationStatus.WAITING) -> int:
    number = next(_numbers)
    async with sessions.begin() as session:
        identity = Identity(
            citizen=Citizen(), channel="telegram", external_id=str(number), chat_id=str(number)
        )
        session.add(identity)
        await session.flush()
        conversation = Conversation(
            identity_id=identity.id, channel=Channel.TELEGRAM, status=status.value, priority=0
        )
        session.add(conversation)
        await session.flush()
        return conversation.id


async def store(sessions, conversation_id: int, kind=EventKind.CITIZEN_MESSAGE, priority=0):
    async with sessions.begin() as session:
        event = add_event(session, conversation_id, kind, priority, {"n": next(_numbers)})
        await session.flush()
        return event.id


@contextlib.asynccontextmanager
async def running(*workers):
    stop = asyncio.Event()
    tasks = [asyncio.create_task(worker.run(stop)) for worker in workers]
    try:
        yield
    finally:
        stop.set()
        await asyncio.gather(*tasks)


def consumer(streams, sessions, handler, name="c1", policy=FAST) -> HandoffConsumer:
    return HandoffConsumer(streams, HandoffEventRepository(sessions), handler, name, policy)


def relay(streams, sessions, **options) -> HandoffRelay:
    return HandoffRelay(streams, HandoffEventRepository(sessions), interval=0.05, **options)


async def all_applied(sessions) -> bool:
    return await HandoffEventRepository(sessions).unapplied() == 0


async def test_an_operator_request_reaches_the_consumer_once(sessions, streams):
    conversation = await new_conversation(sessions, ConversationStatus.BOT)
    async with sessions.begin() as session:
        assert await HandoffService().request_operator(session, conversation, "citizen_request")
    handler = Recorder()

    async with running(relay(streams, sessions), consumer(streams, sessions, handler)):
        await wait_for(lambda: all_applied(sessions))
        await asyncio.sleep(0.3)

    [event] = handler.applied
    assert (event.conversation_id, event.kind) == (conversation, EventKind.REQUESTED)
    assert event.payload == {"reason": "citizen_request"}
    assert await streams.backlog() == 0  # acknowledged and removed


async def test_a_withdrawn_request_and_a_raised_priority_are_events_too(sessions):
    conversation = await new_conversation(sessions, ConversationStatus.BOT)
    service = HandoffService()
    async with sessions.begin() as session:
        await service.request_operator(session, conversation, "citizen_request")
        assert not await service.request_operator(
            session, conversation, "emergency", Priority.HIGH
        )
        assert not await service.request_operator(session, conversation, "citizen_request")
        assert await service.cancel_request(session, conversation)
    async with sessions() as session:
        rows = (await session.scalars(select(HandoffEvent).order_by(HandoffEvent.id))).all()
    assert [(r.kind, r.priority) for r in rows] == [
        ("requested", 0),
        ("priority", int(Priority.HIGH)),
        ("cancelled", 0),
    ]


async def test_urgent_conversations_are_taken_first_then_the_oldest(sessions, streams):
    conversations = [await new_conversation(sessions) for _ in range(6)]
    normal = [await store(sessions, c, EventKind.REQUESTED) for c in conversations[:5]]
    urgent = await store(sessions, conversations[5], EventKind.REQUESTED, int(Priority.HIGH))
    await relay(streams, sessions).publish()  # all queued before any operator looks
    handler = Recorder()

    one_at_a_time = ConsumerPolicy(concurrency=1, retry_delay=0.3, block=0.1)
    async with running(consumer(streams, sessions, handler, policy=one_at_a_time)):
        await wait_for(lambda: all_applied(sessions))

    assert handler.ids() == [urgent, *normal]


async def test_a_conversations_events_take_effect_in_order_with_two_consumers(
    sessions, streams, redis
):
    conversations = [await new_conversation(sessions) for _ in range(5)]
    stored = {c: [] for c in conversations}
    for _ in range(8):
        for c in conversations:
            stored[c].append(await store(sessions, c))
    handler = Recorder()
    handler.delay = 0.005
    second = HandoffStreams(Redis(host="127.0.0.1", port=6379), streams.epoch_key.split(":")[0])

    try:
        async with running(
            relay(streams, sessions),
            consumer(streams, sessions, handler, "one"),
            consumer(second, sessions, handler, "two"),
        ):
            await wait_for(lambda: all_applied(sessions), guard=30)
    finally:
        await second.redis.aclose()

    assert sorted(handler.ids()) == sorted(i for ids in stored.values() for i in ids)  # once
    for c in conversations:
        assert [e.id for e in handler.applied if e.conversation_id == c] == stored[c]


async def test_an_entry_delivered_twice_applies_nothing_twice(sessions, streams):
    conversation = await new_conversation(sessions)
    event = await store(sessions, conversation)
    await streams.ensure_group()
    for _ in range(3):  # three entries say the same conversation has work
        await streams.redis.xadd(streams.normal, {"event": event, "conversation": conversation})
    handler = Recorder()

    async with running(consumer(streams, sessions, handler)):
        await wait_for(lambda: all_applied(sessions))
        await wait_for(lambda: _backlog_is(streams, 0))

    assert handler.ids() == [event]


async def _backlog_is(streams, count: int) -> bool:
    return await streams.backlog() == count


async def test_an_entry_a_dead_consumer_took_is_taken_over(sessions, streams):
    conversation = await new_conversation(sessions)
    event = await store(sessions, conversation)
    await relay(streams, sessions).publish()
    await streams.ensure_group()
    taken = await streams.redis.xreadgroup(GROUP, "died", {streams.normal: ">"}, count=10)
    assert taken  # the dead consumer read it and never acknowledged it
    handler = Recorder()

    async with running(consumer(streams, sessions, handler, "alive")):
        await wait_for(lambda: all_applied(sessions))
        await wait_for(lambda: _backlog_is(streams, 0))

    assert handler.ids() == [event]


async def test_temporary_failures_are_retried_until_the_event_takes_effect(sessions, streams):
    conversation = await new_conversation(sessions)
    first = await store(sessions, conversation)
    second = await store(sessions, conversation)
    handler = Recorder()
    handler.temporary_failures = 5  # more than the attempts allowed for errors

    async with running(relay(streams, sessions), consumer(streams, sessions, handler)):
        await wait_for(lambda: all_applied(sessions), guard=20)

    assert handler.ids() == [first, second]


async def test_an_event_that_keeps_failing_is_set_aside_and_the_next_ones_go_on(sessions, streams):
    conversation = await new_conversation(sessions)
    broken = await store(sessions, conversation)
    after = await store(sessions, conversation)
    handler = Recorder()
    handler.broken = {broken}

    async with running(relay(streams, sessions), consumer(streams, sessions, handler)):
        await wait_for(lambda: all_applied(sessions), guard=20)

    assert handler.ids() == [after]
    async with sessions() as session:
        row = await session.get(HandoffEvent, broken)
    assert row.attempts == FAST.attempts
    assert "set aside" in row.last_error and "breaks the handler" in row.last_error


async def test_events_stored_while_redis_is_down_arrive_once_it_is_back(sessions, tmp_path):
    port = free_port()
    client = Redis(host="127.0.0.1", port=port)
    streams = HandoffStreams(client, "outage")
    handler = Recorder()
    conversation = await new_conversation(sessions)
    server = None
    try:
        async with running(relay(streams, sessions), consumer(streams, sessions, handler)):
            ids = [await store(sessions, conversation) for _ in range(3)]
            await asyncio.sleep(1.0)  # nothing to publish to, nothing lost
            assert handler.applied == []
            server = start_redis(port, tmp_path)
            await wait_serving(client)
            await wait_for(lambda: all_applied(sessions), guard=30)
        assert handler.ids() == ids
    finally:
        if server is not None:
            server.kill()
            server.wait()
        await client.aclose()


async def test_events_a_redis_lost_with_its_data_are_published_again(sessions, tmp_path):
    """A Redis restarted without its data (no AOF, a lost disk) has an empty stream; the
    relay notices the new epoch and publishes every unapplied event again."""
    port = free_port()
    server = start_redis(port, tmp_path)
    client = Redis(host="127.0.0.1", port=port)
    streams = HandoffStreams(client, "lost")
    conversation = await new_conversation(sessions)
    try:
        await wait_serving(client)
        ids = [await store(sessions, conversation) for _ in range(3)]
        assert await relay(streams, sessions).publish() == 3
        server.kill()  # the server had no persistence: the entries are gone with it
        server.wait()
        server = start_redis(port, tmp_path)
        await wait_serving(client)
        handler = Recorder()

        async with running(relay(streams, sessions), consumer(streams, sessions, handler)):
            await wait_for(lambda: all_applied(sessions), guard=30)

        assert handler.ids() == ids
    finally:
        server.kill()
        server.wait()
        await client.aclose()


async def test_an_unapplied_event_is_published_again_after_a_while(sessions, streams):
    """The last second of entries before a Redis crash may be lost even with AOF: an
    event still unapplied long after it was published goes onto the stream again."""
    conversation = await new_conversation(sessions)
    await store(sessions, conversation)
    publisher = relay(streams, sessions, republish_after=0.2)
    assert await publisher.publish() == 1
    assert await publisher.publish() == 0
    await streams.redis.delete(streams.normal)  # the entry was lost
    await asyncio.sleep(0.3)
    assert await publisher.publish() == 1
    handler = Recorder()

    async with running(consumer(streams, sessions, handler)):
        await wait_for(lambda: all_applied(sessions))

    assert len(handler.applied) == 1


async def test_handling_an_entry_whose_events_were_applied_acknowledges_it(sessions, streams):
    conversation = await new_conversation(sessions)
    await streams.ensure_group()
    entry_id = await streams.redis.xadd(streams.normal, {"event": 1, "conversation": conversation})
    await streams.redis.xreadgroup(GROUP, "c1", {streams.normal: ">"}, count=1)
    handler = Recorder()

    done = await consumer(streams, sessions, handler).handle(
        Entry(streams.normal, entry_id.decode(), conversation)
    )

    assert done and handler.applied == []
    assert await streams.backlog() == 0


class Spy(HandoffConsumer):
    """A consumer that notes each acknowledgement (the entries acknowledged together)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.acks: list[list[Entry]] = []

    def acknowledged(self, entries) -> None:
        self.acks.append(list(entries))


class CountingEvents(HandoffEventRepository):
    """The repository, counting the reads of each conversation's pending events."""

    def __init__(self, sessions) -> None:
        super().__init__(sessions)
        self.reads: list[int] = []

    async def pending(self, conversation_id: int) -> list[StoredEvent]:
        self.reads.append(conversation_id)
        return await super().pending(conversation_id)


async def take(streams, name: str) -> list[Entry]:
    """What a consumer called ``name`` reads: both streams' new entries, in stream order."""
    got = await streams.redis.xreadgroup(
        GROUP, name, dict.fromkeys(streams.streams, ">"), count=100
    )
    entries = []
    for stream, messages in got:
        for entry_id, fields in messages:
            entries.append(
                Entry(
                    stream.decode(),
                    entry_id.decode(),
                    int(fields[b"conversation"]),
                    int(fields[b"event"]),
                )
            )
    return entries


async def test_a_batchs_urgent_entries_are_handled_before_its_normal_ones(sessions, streams):
    conversations = [await new_conversation(sessions) for _ in range(5)]
    normal = [await store(sessions, c) for c in conversations[:3]]
    urgent = [await store(sessions, c, priority=int(Priority.HIGH)) for c in conversations[3:]]
    await relay(streams, sessions).publish()
    await streams.ensure_group()
    entries = await take(streams, "c1")
    normal_first = sorted(entries, key=lambda e: e.stream == streams.urgent)
    handler = Recorder()
    one_at_a_time = ConsumerPolicy(concurrency=1, retry_delay=0.3, block=0.1)

    assert await consumer(streams, sessions, handler, policy=one_at_a_time).handle(*normal_first)

    assert handler.ids() == [*urgent, *normal]
    assert await streams.backlog() == 0


async def test_a_batch_is_read_urgent_first_and_filled_with_normal_entries(sessions, streams):
    conversations = [await new_conversation(sessions) for _ in range(6)]
    normal = [await store(sessions, c) for c in conversations[:4]]
    urgent = [await store(sessions, c, priority=int(Priority.HIGH)) for c in conversations[4:]]
    await relay(streams, sessions).publish()
    handler = Recorder()
    batch_of_three = ConsumerPolicy(concurrency=1, retry_delay=0.3, block=0.1, batch=3)
    spy = Spy(streams, HandoffEventRepository(sessions), handler, "c1", batch_of_three)

    async with running(spy):
        await wait_for(lambda: all_applied(sessions))
        await wait_for(lambda: _backlog_is(streams, 0))

    assert handler.ids() == [*urgent, *normal]


async def test_a_conversations_entries_of_a_batch_are_acknowledged_together(sessions, streams):
    busy, other = await new_conversation(sessions), await new_conversation(sessions)
    events = [await store(sessions, busy) for _ in range(3)]
    single = await store(sessions, other)
    await relay(streams, sessions).publish()
    handler = Recorder()
    repository = CountingEvents(sessions)
    spy = Spy(streams, repository, handler, "c1", FAST)

    async with running(spy):
        await wait_for(lambda: all_applied(sessions))
        await wait_for(lambda: _backlog_is(streams, 0))

    assert [e.id for e in handler.applied if e.conversation_id == busy] == events
    assert sorted(handler.ids()) == sorted([*events, single])
    assert sorted(repository.reads) == sorted([busy, other])  # one read a conversation
    by_conversation = sorted([e.conversation_id for e in ack] for ack in spy.acks)
    assert by_conversation == sorted([[busy] * 3, [other]])  # one acknowledgement each
    assert not await streams.redis.exists(f"{streams.lock_prefix}{busy}")  # released


async def test_entries_of_events_it_applied_are_acknowledged_without_a_read(sessions, streams):
    conversation = await new_conversation(sessions)
    events = [await store(sessions, conversation) for _ in range(3)]
    await relay(streams, sessions).publish()
    await streams.ensure_group()
    first, *later = await take(streams, "c1")
    repository = CountingEvents(sessions)
    handler = Recorder()
    spy = Spy(streams, repository, handler, "c1", FAST)

    assert await spy.handle(first)  # applies all three events
    assert await spy.handle(*later)  # the events of these are known applied

    assert handler.ids() == events
    assert repository.reads == [conversation]
    assert [len(ack) for ack in spy.acks] == [1, 2]
    assert await streams.backlog() == 0


async def test_a_failed_conversations_entries_stay_and_are_claimed_again(sessions, streams):
    failing, fine = await new_conversation(sessions), await new_conversation(sessions)
    failing_events = [await store(sessions, failing) for _ in range(2)]
    fine_event = await store(sessions, fine)
    await relay(streams, sessions).publish()
    await streams.ensure_group()
    entries = await take(streams, "c1")
    handler = Recorder()
    handler.temporary_failures = 1  # the first event tried fails: the failing conversation's
    spy = Spy(streams, HandoffEventRepository(sessions), handler, "c1", FAST)

    assert not await spy.handle(*entries)

    assert handler.ids() == [fine_event]
    pending = await streams.redis.xpending_range(streams.normal, GROUP, "-", "+", 10)
    left = {e.id for e in entries if e.conversation_id == failing}
    assert {p["message_id"].decode() for p in pending} == left  # not acknowledged
    assert await streams.backlog() == 2
    assert not await streams.redis.exists(f"{streams.lock_prefix}{failing}")  # released

    async with running(spy):  # claims them once idle for retry_delay
        await wait_for(lambda: all_applied(sessions))
        await wait_for(lambda: _backlog_is(streams, 0))

    assert handler.ids() == [fine_event, *failing_events]
    assert sorted(e.id for e in spy.acks[-1]) == sorted(left)


async def test_the_lock_is_kept_while_applying_outlasts_its_ttl(sessions, streams):
    conversation = await new_conversation(sessions)
    await store(sessions, conversation)
    await relay(streams, sessions).publish()
    await streams.ensure_group()
    entries = await take(streams, "c1")
    key = f"{streams.lock_prefix}{conversation}"
    held: list[bool] = []

    class Slow(Recorder):
        async def apply(self, event: StoredEvent) -> None:
            await asyncio.sleep(0.5)  # more than twice the lock's ttl
            held.append(bool(await streams.redis.exists(key)))
            await super().apply(event)

    short = ConsumerPolicy(concurrency=1, retry_delay=5.0, block=0.1, lock_ttl=0.2)

    assert await consumer(streams, sessions, Slow(), policy=short).handle(*entries)

    assert held == [True]
    assert not await streams.redis.exists(key)


async def test_a_slow_consumer_takes_few_entries_so_urgent_ones_overtake(sessions, streams):
    conversations = [await new_conversation(sessions) for _ in range(8)]
    normal = [await store(sessions, c) for c in conversations[:7]]
    await relay(streams, sessions).publish()
    handler = Recorder()
    handler.delay = 0.1  # a conversation takes far longer than the batch window
    slow = ConsumerPolicy(concurrency=1, retry_delay=5.0, block=0.1, batch=32, batch_window=0.05)

    async def two_applied() -> bool:
        return len(handler.applied) >= 2

    async with running(consumer(streams, sessions, handler, policy=slow)):
        await wait_for(two_applied)
        urgent = await store(sessions, conversations[7], priority=int(Priority.HIGH))
        await relay(streams, sessions).publish()
        await wait_for(lambda: all_applied(sessions))
        await wait_for(lambda: _backlog_is(streams, 0))

    assert sorted(handler.ids()) == sorted([*normal, urgent])
    assert handler.ids().index(urgent) <= 4  # not behind all the normal ones it had taken


async def test_applied_marks_asked_for_together_are_committed_together(sessions):
    conversation = await new_conversation(sessions)
    ids = [await store(sessions, conversation) for _ in range(7)]
    events = HandoffEventRepository(sessions)
    commits: list[int] = []
    engine = sessions.kw["bind"].sync_engine
    count = lambda _: commits.append(1)  # noqa: E731
    sqlalchemy_event.listen(engine, "commit", count)
    try:
        marked = await asyncio.gather(*(events.applied(i) for i in ids[:6]))
    finally:
        sqlalchemy_event.remove(engine, "commit", count)

    assert marked == [True] * 6
    assert len(commits) <= 2  # the first alone, the five asked for meanwhile in one
    async with sessions() as session:
        applied = await session.scalars(
            select(HandoffEvent.id).where(HandoffEvent.applied_at.is_not(None))
        )
        assert sorted(applied) == ids[:6]
    assert await events.applied(ids[0]) is False  # recorded before
    # The same event marked twice at once (two consumers' entries): recorded once.
    assert sorted(await asyncio.gather(events.applied(ids[6]), events.applied(ids[6]))) == [
        False,
        True,
    ]
