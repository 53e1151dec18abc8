"""The outbox sender over SQLite and PostgreSQL, with a scripted channel: each chat in
order, retries over a long horizon, give-ups, part progress and dead senders."""

import asyncio
from collections import defaultdict, deque
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from bots.outbox import OutboxPolicy, OutboxSender, RetryAfter, Unavailable, Undeliverable
from core.db import SessionFactory
from core.domain import Channel, DeliveryStatus, Reply
from core.leases import Worker
from core.models import Identity, Message, utcnow
from core.outbox import OutboxRepository
from tests.factories import dead_worker, make_message
from tests.fakes import conversation_service, outbound, wait_for

FAST = OutboxPolicy(base_delay=0.05, max_delay=0.2, sweep_interval=0.05, grace=1.0, rate=1000)


class ScriptedChannel:
    """A channel that fails as scripted per chat; a reply's parts are split at ``|``."""

    channel = Channel.TELEGRAM

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []
        self.failures: dict[str, deque[Exception]] = defaultdict(deque)

    def fail(self, chat_id: str, *errors: Exception) -> None:
        self.failures[chat_id].extend(errors)

    def split(self, reply: Reply) -> list[str]:
        return [part for part in reply.text.split("|") if part]

    async def send_part(self, reply: Reply, index: int, text: str, last: bool) -> str | None:
        await asyncio.sleep(0)
        if self.failures[reply.chat_id]:
            raise self.failures[reply.chat_id].popleft()
        self.sent.append((reply.chat_id, text))
        return str(len(self.sent))

    def to(self, chat_id: str) -> list[str]:
        return [text for chat, text in self.sent if chat == chat_id]


@pytest.fixture
def channel() -> ScriptedChannel:
    return ScriptedChannel()


async def ask(sessions: SessionFactory, chat: str, *questions: str) -> list[int]:
    """Store replies as turns do: each question gets ``Ответ на вопрос: <question>``."""
    service = conversation_service(sessions)
    ids = []
    for question in questions:
        [reply] = await service.handle(make_message(question, user_id=chat))
        ids.append(reply.outbox_id)
    return ids


async def statuses(sessions: SessionFactory) -> dict[int, str]:
    return {m.id: m.delivery_status for m in await outbound(sessions)}


async def run(sender: OutboxSender, until) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(sender.run(stop))
    try:
        await wait_for(until)
    finally:
        stop.set()
        await task


def all_delivered(sessions):
    async def check() -> bool:
        return all(s != DeliveryStatus.PENDING for s in (await statuses(sessions)).values())

    return check


async def test_a_chat_waits_for_its_first_reply_while_other_chats_go_ahead(sessions, channel):
    await ask(sessions, "1001", "первый", "второй")
    await ask(sessions, "2002", "другой чат")
    channel.fail("1001", Unavailable("502"), Unavailable("502"))
    sender = OutboxSender(OutboxRepository(sessions), channel, FAST)
    await run(sender, all_delivered(sessions))
    assert channel.to("1001") == ["Ответ на вопрос: первый", "Ответ на вопрос: второй"]
    assert channel.to("2002") == ["Ответ на вопрос: другой чат"]
    assert channel.sent.index(("2002", "Ответ на вопрос: другой чат")) == 0
    rows = await outbound(sessions, "1001")
    assert [r.attempts for r in rows] == [3, 1]


async def test_replies_wait_out_a_long_outage_instead_of_failing(sessions, channel):
    """Before, about 7.5 s of back-off and the reply was FAILED for good."""
    [reply_id] = await ask(sessions, "1001", "вопрос")
    channel.fail("1001", *[Unavailable("502 Bad Gateway")] * 12)
    sender = OutboxSender(OutboxRepository(sessions), channel, FAST)
    await run(sender, all_delivered(sessions))
    assert (await statuses(sessions))[reply_id] == DeliveryStatus.SENT
    assert channel.to("1001") == ["Ответ на вопрос: вопрос"]


async def test_a_reply_is_given_up_only_after_the_horizon(sessions, channel):
    [old, new] = await ask(sessions, "1001", "старый", "новый")
    async with sessions.begin() as session:
        await session.execute(
            update(Message)
            .where(Message.id == old)
            .values(created_at=utcnow() - timedelta(hours=25))
        )
    sender = OutboxSender(OutboxRepository(sessions), channel, FAST)
    await run(sender, all_delivered(sessions))
    assert await statuses(sessions) == {old: DeliveryStatus.FAILED, new: DeliveryStatus.SENT}
    [row, _] = await outbound(sessions)
    assert "given up" in row.delivery_error


async def test_a_blocked_citizen_is_recorded_and_the_reply_not_retried(sessions, channel):
    [reply_id] = await ask(sessions, "1001", "вопрос")
    channel.fail("1001", Undeliverable(DeliveryStatus.BLOCKED, "bot was blocked by the user"))
    sender = OutboxSender(OutboxRepository(sessions), channel, FAST)
    await run(sender, all_delivered(sessions))
    assert (await statuses(sessions))[reply_id] == DeliveryStatus.BLOCKED
    async with sessions() as session:
        assert await session.scalar(select(Identity.blocked_at)) is not None
    assert channel.sent == []


async def test_a_rate_limit_is_waited_out_for_as_long_as_asked(sessions, channel):
    await ask(sessions, "1001", "вопрос")
    channel.fail("1001", RetryAfter(0.5))
    sender = OutboxSender(OutboxRepository(sessions), channel, FAST)
    started = asyncio.get_running_loop().time()
    await run(sender, all_delivered(sessions))
    assert asyncio.get_running_loop().time() - started >= 0.5
    assert channel.to("1001") == ["Ответ на вопрос: вопрос"]


async def test_parts_delivered_before_a_failure_are_not_sent_again(sessions, channel):
    await ask(sessions, "1001", "раз|два|три")
    channel.fail("1001")
    sender = OutboxSender(OutboxRepository(sessions), channel, FAST)

    async def fail_on_the_second_part(reply, index, text, last):
        if index == 1 and not failed:
            failed.append(index)
            raise Unavailable("502")
        return await ScriptedChannel.send_part(channel, reply, index, text, last)

    failed: list[int] = []
    channel.send_part = fail_on_the_second_part  # type: ignore[method-assign]
    await run(sender, all_delivered(sessions))
    assert channel.to("1001") == ["Ответ на вопрос: раз", "два", "три"]
    [row] = await outbound(sessions)
    assert (row.parts_sent, row.delivery_status) == (3, DeliveryStatus.SENT)


async def test_when_the_channel_answers_again_every_waiting_chat_resumes_at_once(
    sessions, channel
):
    await ask(sessions, "1001", "первый")
    await ask(sessions, "2002", "второй")
    slow = OutboxPolicy(base_delay=30, max_delay=30, sweep_interval=0.05, grace=1.0, rate=1000)
    sender = OutboxSender(OutboxRepository(sessions), channel, slow)
    channel.fail("1001", Unavailable("502"))
    channel.fail("2002", Unavailable("502"))
    stop = asyncio.Event()
    task = asyncio.create_task(sender.run(stop))
    try:

        async def both_waiting() -> bool:
            return all(r.attempts == 1 for r in await outbound(sessions))

        await wait_for(both_waiting)
        await ask(sessions, "3003", "третий")  # the channel works for this one
        await wait_for(all_delivered(sessions), guard=5)  # not the 30 s back-off
    finally:
        stop.set()
        await task
    assert len(channel.sent) == 3


async def test_a_dead_senders_replies_are_taken_over_and_a_live_ones_are_not(sessions, channel):
    await ask(sessions, "1001", "вопрос")
    dead = OutboxRepository(sessions, dead_worker())
    assert [r.reply.text for r in await dead.claim_chat(Channel.TELEGRAM, "1001")] == [
        "Ответ на вопрос: вопрос"
    ]
    mine = OutboxRepository(sessions)
    assert await mine.due_chats(Channel.TELEGRAM) == ["1001"]  # the dead one's lease is void
    assert len(await mine.claim_chat(Channel.TELEGRAM, "1001")) == 1
    elsewhere = OutboxRepository(sessions, Worker("another-host", 1, "1.0"))
    assert await elsewhere.claim_chat(Channel.TELEGRAM, "1001") == []  # cannot tell: waits
    await mine.release_held()
    assert len(await elsewhere.claim_chat(Channel.TELEGRAM, "1001")) == 1
    assert await mine.due_chats(Channel.TELEGRAM) == []  # a live sender holds it
    assert await mine.claim_chat(Channel.TELEGRAM, "1001") == []
