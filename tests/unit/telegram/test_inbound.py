import asyncio

import pytest

from bots.locks import KeyedLocks
from bots.telegram.inbound import chat_key
from bots.telegram.polling import Stopped, until_stopped
from tests.factories import make_tg_callback, make_tg_update


@pytest.mark.parametrize(
    ("payload", "key"),
    [
        (make_tg_update(user_id=1001), "1001"),
        ({"edited_message": {"chat": {"id": 7}}}, "7"),
        (make_tg_callback(user_id=2002), "2002"),
        ({"callback_query": {"from": {"id": 3003}}}, "3003"),
        ({"message": {"text": "без чата"}}, "?"),
        ({"message": "строка"}, "?"),
        ({"callback_query": []}, "?"),
        ([], "?"),
        ({}, "?"),
    ],
)
def test_chat_key_reads_any_payload_without_failing(payload, key):
    assert chat_key(payload) == key


async def test_keyed_locks_serialise_one_key_and_forget_it_afterwards():
    locks = KeyedLocks()
    order: list[str] = []

    async def work(key: str, name: str, gate: asyncio.Event | None = None) -> None:
        async with locks.hold(key):
            if gate is not None:
                await gate.wait()
            order.append(name)

    gate = asyncio.Event()
    first = asyncio.create_task(work("a", "a1", gate))
    await asyncio.sleep(0)
    second = asyncio.create_task(work("a", "a2"))
    await work("b", "b1")
    gate.set()
    await asyncio.gather(first, second)
    assert order == ["b1", "a1", "a2"]
    assert len(locks) == 0


async def test_until_stopped_returns_the_result_or_raises_stopped():
    stop = asyncio.Event()
    assert await until_stopped(asyncio.sleep(0, result="готово"), stop) == "готово"
    never = asyncio.Event()
    waiting = asyncio.create_task(until_stopped(never.wait(), stop))
    await asyncio.sleep(0)
    stop.set()
    with pytest.raises(Stopped):
        await waiting
