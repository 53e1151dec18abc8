"""The durable inbox on SQLite and PostgreSQL."""

from collections.abc import AsyncIterator

import pytest

from core import migrate
from core.db import create_engine, create_session_factory
from core.inbox import InboxRepository


@pytest.fixture
async def inbox(database_url) -> AsyncIterator[InboxRepository]:
    engine = create_engine(database_url)
    await migrate.upgrade(engine)
    yield InboxRepository(create_session_factory(engine), max_attempts=2)
    await engine.dispose()


async def test_only_new_updates_are_returned(inbox):
    first = await inbox.put_many("telegram", [("1", {"a": 1}), ("2", {"a": 2})])
    assert [i.update_key for i in first] == ["1", "2"]
    again = await inbox.put_many("telegram", [("2", {"a": 2}), ("3", {"a": 3}), ("3", {})])
    assert [i.update_key for i in again] == ["3"]
    other_channel = await inbox.put_many("vk", [("1", {"b": 1})])
    assert [i.payload for i in other_channel] == [{"b": 1}]


async def test_unprocessed_updates_survive_until_handled(inbox):
    items = await inbox.put_many("vk", [("a", {}), ("b", {}), ("c", {})])
    await inbox.mark_processed(items[0].id)
    await inbox.mark_failed(items[1].id, "boom")
    assert [i.update_key for i in await inbox.unprocessed("vk")] == ["b", "c"]
    await inbox.mark_failed(items[1].id, "boom again")  # max_attempts reached: set aside
    assert [i.update_key for i in await inbox.unprocessed("vk")] == ["c"]
