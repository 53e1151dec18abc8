import random
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bots.app import Services, open_services
from bots.vk.processing import event_key
from core.inbox import InboxStatus
from core.settings import Settings
from tests.conftest import faq_answer
from tests.e2e.vk.conftest import RunningVkBot, fake_api_values
from tests.fakes import settled, unanswered
from tests.garbage import ODD_TEXTS, random_scalar, random_value
from tools.fake_vk import events

PLAIN_CITIZEN = 777


def odd_message(rng: random.Random, index: int) -> dict[str, Any]:
    """A message_new whose every field may be of the wrong type or absurd."""
    peer = rng.randint(1, 10**6)
    if rng.random() < 0.3:
        peer = rng.choice([-5, 0, "42", 2_000_000_005, 2**64, None, 3.5])
    text = rng.choice(
        [
            *ODD_TEXTS,
            "я" * rng.choice([4097, 20_000]),
            random_scalar(rng),
            "Обычный вопрос про ЖКХ",
        ]
    )
    payload = rng.choice(
        [
            "{not json",
            '{"c": 1}',
            '{"c": "' + "x" * 400 + '"}',
            '{"command": "start"}',
            "[]",
            '"строка"',
            "😀",
            {"c": "fn:1"},
            random_value(rng),
            None,
        ]
    )
    attachments = rng.choice(
        [[], "photo", [None], [{"type": 5}], [{"type": "photo", "photo": "x"}], random_value(rng)]
    )
    message = {
        "id": index + 1 if rng.random() < 0.7 else rng.choice(["1", -1, None, 1.5]),
        "peer_id": peer,
        "from_id": peer,
        "text": text,
        "date": rng.choice([0, -1, 10**20, "вчера", None]),
        "payload": payload,
        "attachments": attachments,
        "geo": rng.choice([None, {"coordinates": "север"}, {"coordinates": {}}, []]),
    }
    obj = rng.choice(
        [{"message": message, "client_info": random_value(rng)}, {"message": message}]
    )
    event = events.envelope(1000, "message_new", obj)
    if rng.random() < 0.2:
        event["event_id"] = rng.choice([None, 5, ["x"], "e" * 500, "повтор"])
    return event


def garbage(rng: random.Random, index: int) -> Any:
    kind = rng.random()
    if kind < 0.5:
        return odd_message(rng, index)
    if kind < 0.65:
        obj = {
            "user_id": random_scalar(rng),
            "peer_id": random_scalar(rng),
            "payload": random_value(rng),
        }
        return events.envelope(1000, "message_event", obj)
    if kind < 0.8:
        event_type = rng.choice(["message_reply", "group_join", "wall_post_new", "", "😀"])
        return events.envelope(1000, event_type, random_value(rng))
    if kind < 0.9:
        return random_value(rng)
    return {"type": "message_new", "object": random_value(rng), "event_id": str(index)}


@pytest.fixture
async def services(vk, demo_settings, embedder) -> AsyncIterator[Services]:
    settings = Settings(_env_file=None, **{**dict(demo_settings), **fake_api_values(vk)})
    async with open_services(settings, with_redis=False, embedder=embedder) as services:
        await services.faq.refresh()
        yield services


async def test_bot_survives_1000_garbage_events_and_still_answers(vk, services):
    """Through the real conversation service, knowledge base and database: every event
    ends handled or ignored, and a real question still gets its answer."""
    rng = random.Random(20240601)
    async with RunningVkBot(
        vk, services.settings, services.conversation, services.inbox, services.outbox
    ) as bot:
        pushed = [garbage(rng, index) for index in range(1000)]
        for event in pushed:
            vk.push_event(event)
        vk.send_text(PLAIN_CITIZEN, "здравствуйте, куда платить за квартиру и свет?")

        [sent] = await vk.wait_sent(PLAIN_CITIZEN, guard=180)
        assert sent.text == await faq_answer(services, "zhkh-pay-utilities")
        await settled(services.inbox, services.sessions, "vk")
        assert bot.alive
    counts = await services.inbox.counts("vk")
    assert InboxStatus.QUARANTINED not in counts, counts
    assert counts[InboxStatus.DONE] > 100, counts
    distinct = {event_key(event) for event in pushed}  # a repeated event id is one event
    assert sum(counts.values()) == len(distinct) + 1  # and the real question
    assert await unanswered(services.sessions) == 0
