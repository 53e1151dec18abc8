"""The message path's bookkeeping writes on SQLite and PostgreSQL: updates stored, updates
done and replies delivered at the same moment are committed together, each caller with
its own outcome."""

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event, select

from core.db import SessionFactory
from core.domain import DeliveryStatus
from core.inbox import InboxRepository, InboxStatus
from core.models import InboxUpdate, Message
from core.outbox import OutboxRepository
from tests.factories import make_message
from tests.fakes import conversation_service
from tests.integration.test_inbox import refuse_key


@contextmanager
def counted_commits(sessions: SessionFactory) -> Iterator[list[int]]:
    """How many transactions committed meanwhile (a list holding the count)."""
    engine = sessions.kw["bind"].sync_engine
    commits = [0]

    def count(_connection) -> None:
        commits[0] += 1

    event.listen(engine, "commit", count)
    try:
        yield commits
    finally:
        event.remove(engine, "commit", count)


async def test_updates_arriving_together_are_stored_in_one_transaction_each_caller_its_own(
    sessions,
):
    inbox = InboxRepository(sessions)
    await inbox.put_many("web", [("seen", {"n": 0})])
    calls = [[(f"u{n}", {"n": n})] for n in range(20)]
    calls.append([("seen", {"n": 0}), ("u20", {"n": 20})])  # one of them stored before
    calls.append([("u3", {"again": True})])  # the same update from two callers at once
    with counted_commits(sessions) as commits:
        stored = await asyncio.gather(*(inbox.put_many("web", call) for call in calls))
    assert commits[0] <= 2  # the first call alone, then everything that queued behind it
    assert [[i.update_key for i in items] for items in stored[:20]] == [
        [f"u{n}"] for n in range(20)
    ]
    assert [i.update_key for i in stored[20]] == ["u20"]
    assert stored[21] == []  # handled once: the other caller holds it
    async with sessions() as session:
        keys = (await session.scalars(select(InboxUpdate.update_key))).all()
    assert sorted(keys) == sorted(["seen", "u20", *(f"u{n}" for n in range(20))])


async def test_a_batch_with_an_unstorable_update_stores_the_others(sessions, database_url):
    inbox = InboxRepository(sessions)
    await refuse_key(sessions, database_url, "poison")
    calls = [[(f"ok{n}", {"n": n})] for n in range(5)]
    calls.insert(2, [("poison", {"n": -1})])
    stored = await asyncio.gather(*(inbox.put_many("vk", call) for call in calls))
    assert [[i.update_key for i in items] for items in stored] == [
        ["ok0"],
        ["ok1"],
        [],
        ["ok2"],
        ["ok3"],
        ["ok4"],
    ]
    counts = await inbox.counts("vk")
    assert counts == {InboxStatus.PENDING: 5, InboxStatus.QUARANTINED: 1}


async def test_updates_done_together_are_finished_in_one_transaction(sessions):
    inbox = InboxRepository(sessions)
    items = await inbox.put_many("vk", [(str(n), {}) for n in range(30)])
    with counted_commits(sessions) as commits:
        await asyncio.gather(
            *(inbox.finish(i.id) for i in items[:20]),
            *(inbox.finish(i.id, InboxStatus.IGNORED, "nothing to answer") for i in items[20:]),
        )
    assert commits[0] <= 2
    assert await inbox.counts("vk") == {InboxStatus.DONE: 20, InboxStatus.IGNORED: 10}
    async with sessions() as session:
        rows = (await session.scalars(select(InboxUpdate))).all()
    assert {r.claimed_by for r in rows} == {None}
    assert {r.last_error for r in rows if r.status == InboxStatus.IGNORED} == {"nothing to answer"}
    assert all(r.processed_at is not None for r in rows)


async def test_replies_delivered_together_are_recorded_in_one_transaction(sessions):
    service = conversation_service(sessions)
    outbox = OutboxRepository(sessions)
    ids = []
    for n in range(12):
        [reply] = await service.handle(make_message(f"вопрос {n}", user_id=str(n)))
        ids.append(reply.outbox_id)
    for n in range(12):
        assert await outbox.claim_chat(make_message("", user_id=str(n)).channel, str(n))
    with counted_commits(sessions) as commits:
        await asyncio.gather(
            *(outbox.delivered(row_id, f"ext-{k}", k % 3 + 1) for k, row_id in enumerate(ids))
        )
    assert commits[0] <= 2
    async with sessions() as session:
        rows = {
            m.id: m for m in (await session.scalars(select(Message).where(Message.id.in_(ids))))
        }
    for k, row_id in enumerate(ids):
        row = rows[row_id]
        assert row.delivery_status == DeliveryStatus.SENT
        assert (row.external_id, row.parts_sent, row.attempts) == (f"ext-{k}", k % 3 + 1, 1)
        assert row.delivered_at is not None and row.claimed_by is None
