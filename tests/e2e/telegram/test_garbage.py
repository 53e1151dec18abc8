import random
import string
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bots.app import Services, open_services
from core.inbox import InboxStatus
from core.settings import Settings
from tests.conftest import faq_answer
from tests.e2e.telegram.conftest import fake_api_values
from tests.factories import make_tg_callback, make_tg_message
from tests.fakes import settled, unanswered

ODD_TEXTS = [
    "\u200b\u200c\u200d\ufeff",
    "👨‍👩‍👧‍👦🏳️‍🌈🇷🇺" * 50,
    "\u202eреверс\u202c",
    "A\u0301\u0301\u0301\u0301",
    "\x00\x01\x07",
    "\ud800 одинокий суррогат",
    "<b>не разметка</b> *и не* _markdown_ [ссылка](http://x)",
    "/",
    "/start" + "\u200b",
    "",
]


def random_text(rng: random.Random) -> str:
    if rng.random() < 0.5:
        return rng.choice(ODD_TEXTS)
    alphabet = string.printable + "абвгдеёжзийклмнопрстуфхцчшщъыьэюя" + "😀🙏🔥\u200b"
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60)))


def random_value(rng: random.Random, depth: int = 0) -> Any:
    kinds = ["int", "float", "str", "bool", "none"] + (["list", "dict"] if depth < 3 else [])
    kind = rng.choice(kinds)
    if kind == "int":
        return rng.choice([0, -1, 1, 2**31, -(2**63), 2**70, rng.randint(-1000, 1000)])
    if kind == "float":
        return rng.uniform(-1e9, 1e9)
    if kind == "str":
        return random_text(rng)
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "none":
        return None
    if kind == "list":
        return [random_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return random_dict(rng, depth + 1)


def random_dict(rng: random.Random, depth: int = 0) -> dict[str, Any]:
    keys = [
        "message",
        "callback_query",
        "chat",
        "from",
        "text",
        "id",
        "data",
        "date",
        rng.choice(ODD_TEXTS),
        "".join(rng.choices(string.ascii_lowercase, k=6)),
    ]
    return {rng.choice(keys): random_value(rng, depth) for _ in range(rng.randint(0, 5))}


def wrong_types(rng: random.Random) -> dict[str, Any]:
    message = make_tg_message(user_id=rng.randint(1, 10**6))
    field = rng.choice(["text", "chat", "from", "date", "message_id"])
    message[field] = random_value(rng, 2)
    return {"message": message}


def missing_parts(rng: random.Random) -> dict[str, Any]:
    message = make_tg_message(user_id=rng.randint(1, 10**6))
    for field in rng.sample(["chat", "from", "date", "message_id", "text"], rng.randint(1, 3)):
        message.pop(field)
    return {"message": message}


def huge_text(rng: random.Random) -> dict[str, Any]:
    return {"message": make_tg_message("Вопрос " * rng.randint(700, 3_000), user_id=4004)}


def odd_text(rng: random.Random) -> dict[str, Any]:
    return {"message": make_tg_message(random_text(rng), user_id=rng.randint(1, 10**6))}


def unknown_fields(rng: random.Random) -> dict[str, Any]:
    message = make_tg_message(user_id=rng.randint(1, 10**6), future_field=random_value(rng))
    return {"message": message, "brand_new_update_kind": random_value(rng)}


def unknown_update_type(rng: random.Random) -> dict[str, Any]:
    return {"quantum_reaction": random_dict(rng)}


def broken_callback(rng: random.Random) -> dict[str, Any]:
    data = random_text(rng)[:64] or "x"
    update = make_tg_callback(data, user_id=rng.randint(1, 10**6), query_id=str(rng.random()))
    query = update["callback_query"]
    query.pop(rng.choice(["message", "data", "from", "chat_instance"]))
    return {"callback_query": query}


def group_noise(rng: random.Random) -> dict[str, Any]:
    return {"message": make_tg_message(random_text(rng), chat_type="supergroup")}


MAKERS = [
    random_dict,
    wrong_types,
    missing_parts,
    huge_text,
    odd_text,
    unknown_fields,
    unknown_update_type,
    broken_callback,
    group_noise,
]


def garbage(count: int, seed: int = 20260101) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [rng.choice(MAKERS)(rng) for _ in range(count)]


@pytest.fixture
async def services(tg, demo_settings, embedder) -> AsyncIterator[Services]:
    settings = Settings(_env_file=None, **{**dict(demo_settings), **fake_api_values(tg)})
    async with open_services(settings, with_redis=False, embedder=embedder) as services:
        await services.faq.refresh()
        yield services


async def test_bot_survives_a_thousand_garbage_updates(tg, start_bot, services):
    """Through the real conversation service, knowledge base and database: every update
    ends handled, ignored or set aside, and a real question still gets its answer."""
    bot = await start_bot(
        settings=services.settings,
        handler=services.conversation,
        inbox=services.inbox,
        outbox=services.outbox,
    )
    for update in garbage(1000):
        tg.inject_raw(update)
    tg.citizen(777).send_text("здравствуйте, куда платить за квартиру и свет?")
    [reply] = await tg.wait_for_messages(777, 1, timeout=180)
    assert reply["text"] == await faq_answer(services, "zhkh-pay-utilities")
    assert bot.alive()
    await settled(services.inbox, services.sessions, "telegram")
    await bot.shutdown()
    counts = await services.inbox.counts("telegram")
    assert counts.get(InboxStatus.QUARANTINED, 0) == 0, counts
    assert counts[InboxStatus.DONE] > 100, counts  # garbage that was a message got a turn
    assert sum(counts.values()) >= 990  # updates without a usable id never reach the inbox
    assert tg.state.queue == []
    assert await unanswered(services.sessions) == 0
