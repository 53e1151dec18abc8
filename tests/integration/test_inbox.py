"""The durable inbox on SQLite and PostgreSQL: stored once, leased to one worker,
retried no sooner than asked, taken over from a dead worker, set aside when it cannot
even be stored."""

import asyncio
import os
import time

import pytest
from sqlalchemy import select, text

from core.db import SessionFactory
from core.inbox import InboxRepository, InboxStatus
from core.leases import Worker
from core.models import InboxUpdate
from tests.factories import dead_worker


@pytest.fixture
def inbox(sessions) -> InboxRepository:
    return InboxRepository(sessions)


async def test_only_new_updates_are_returned(inbox):
    first = await inbox.put_many("telegram", [("1", {"a": 1}), ("2", {"a": 2})])
    assert [(i.update_key, i.attempts) for i in first] == [("1", 1), ("2", 1)]
    again = await inbox.put_many("telegram", [("2", {"a": 2}), ("3", {"a": 3}), ("3", {})])
    assert [i.update_key for i in again] == ["3"]
    other_channel = await inbox.put_many("vk", [("1", {"b": 1})])
    assert [i.payload for i in other_channel] == [{"b": 1}]


async def test_a_stored_update_is_leased_to_the_worker_that_stored_it(sessions, inbox):
    other = InboxRepository(sessions)
    await inbox.put_many("vk", [("a", {})])
    assert await other.claim_due("vk") == []  # the first worker handles it
    assert await inbox.claim_due("vk") == []  # and is not given it twice


async def test_finished_updates_leave_the_backlog(inbox):
    items = await inbox.put_many("vk", [("a", {}), ("b", {}), ("c", {})])
    await inbox.finish(items[0].id)
    await inbox.finish(items[1].id, InboxStatus.IGNORED, "unusable")
    assert [i.update_key for i in await inbox.unprocessed("vk")] == ["c"]
    assert await inbox.counts("vk") == {
        InboxStatus.DONE: 1,
        InboxStatus.IGNORED: 1,
        InboxStatus.PENDING: 1,
    }


async def test_a_failed_update_is_due_again_after_its_pause_and_counts_its_attempts(
    sessions, inbox
):
    [item] = await inbox.put_many("vk", [("a", {})])
    await inbox.retry_later(item.id, "RuntimeError (attempt 1)", delay=3600)
    assert await inbox.claim_due("vk") == []
    await inbox.retry_later(item.id, "RuntimeError (attempt 1)", delay=0)
    [again] = await inbox.claim_due("vk")
    assert (again.id, again.attempts) == (item.id, 2)
    assert await InboxRepository(sessions).claim_due("vk") == []  # leased again


async def test_a_dead_workers_updates_are_taken_over_at_once(sessions):
    crashed = InboxRepository(sessions, dead_worker())
    await crashed.put_many("telegram", [("1", {"n": 1}), ("2", {"n": 2})])
    alive = InboxRepository(sessions, Worker.current())
    taken = await alive.claim_due("telegram")
    assert [(i.update_key, i.attempts) for i in taken] == [("1", 2), ("2", 2)]


async def test_a_live_workers_lease_is_respected_until_it_runs_out(sessions):
    elsewhere = Worker("another-host", os.getpid(), "x")  # cannot be checked from here
    # Long enough that a busy machine's slow claim still falls inside the lease.
    lease = 3.0
    holder = InboxRepository(sessions, elsewhere, lease=lease)
    await holder.put_many("telegram", [("1", {})])
    leased_at = time.monotonic()
    mine = InboxRepository(sessions)
    assert await mine.claim_due("telegram") == []
    await asyncio.sleep(max(0.0, leased_at + lease + 0.1 - time.monotonic()))
    assert [i.update_key for i in await mine.claim_due("telegram")] == ["1"]


async def test_two_workers_claiming_at_once_get_each_update_once(sessions):
    await InboxRepository(sessions, dead_worker()).put_many(
        "telegram", [(str(n), {}) for n in range(20)]
    )
    workers = [InboxRepository(sessions, Worker.current()) for _ in range(2)]
    claims = await asyncio.gather(*(w.claim_due("telegram", limit=20) for w in workers))
    keys = [i.update_key for claim in claims for i in claim]
    assert sorted(keys, key=int) == [str(n) for n in range(20)]


async def test_a_stopping_worker_gives_its_updates_back(sessions, inbox):
    await inbox.put_many("vk", [("a", {})])
    await inbox.release_held()
    assert [i.update_key for i in await InboxRepository(sessions).claim_due("vk")] == ["a"]


async def test_an_update_the_database_refuses_is_set_aside_and_the_others_are_stored(
    sessions, inbox, database_url
):
    """A poison update in a batch: without this, polling retried the same batch forever
    and the offset never moved."""
    await refuse_key(sessions, database_url, "poison")
    stored = await inbox.put_many(
        "telegram", [("1", {"n": 1}), ("poison", {"n": 2}), ("3", {"n": 3})]
    )
    assert [i.update_key for i in stored] == ["1", "3"]
    async with sessions() as session:
        rows = (await session.scalars(select(InboxUpdate).order_by(InboxUpdate.id))).all()
    assert sorted((r.update_key, r.status) for r in rows) == [
        ("1", InboxStatus.PENDING),
        ("3", InboxStatus.PENDING),
        ("poison", InboxStatus.QUARANTINED),
    ]
    [poison] = [r for r in rows if r.update_key == "poison"]  # recorded, without its content
    assert poison.payload == {"unstorable": True}
    assert "not storable" in poison.last_error


async def refuse_key(sessions: SessionFactory, database_url: str, key: str) -> None:
    """A trigger that refuses one update's payload as a data error, as a database does
    with a value it cannot store."""
    async with sessions.begin() as session:
        if database_url.startswith("sqlite"):
            await session.execute(
                text(
                    "CREATE TRIGGER refuse BEFORE INSERT ON inbox_updates "
                    f"WHEN NEW.update_key = '{key}' AND NEW.status = 'pending' "
                    "BEGIN SELECT RAISE(ABORT, 'value too long for this column'); END"
                )
            )
            return
        await session.execute(
            text(
                "CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN "
                f"IF NEW.update_key = '{key}' AND NEW.status = 'pending' THEN "
                "RAISE EXCEPTION 'unsupported Unicode escape sequence' "
                "USING ERRCODE = '22P05'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql"
            )
        )
        await session.execute(
            text(
                "CREATE TRIGGER refuse BEFORE INSERT ON inbox_updates "
                "FOR EACH ROW EXECUTE FUNCTION refuse()"
            )
        )
