"""1,000 garbage MAX updates through the real conversation service, knowledge base and
database: no crash, every update ends handled or ignored, and a real question still gets
the FAQ answer."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bots.app import Services, open_services
from bots.max.processing import inbox_key
from core.inbox import InboxStatus
from core.settings import Settings
from nlu import texts
from tests.conftest import faq_answer
from tests.e2e.max.conftest import RunningMaxBot, fake_api_values
from tests.fakes import settled, unanswered
from tests.garbage import ODD_TEXTS, random_scalar, random_value

PLAIN_CITIZEN = 777
QUESTION = "здравствуйте, куда платить за квартиру и свет?"
ENTRY = "zhkh-pay-utilities"


def odd_message(rng: random.Random, index: int) -> dict[str, Any]:
    """A message_created whose every field may be of the wrong type or absurd."""
    user = rng.randint(1, 10**6)
    if rng.random() < 0.3:
        user = rng.choice([-5, 0, "42", 2**64, None, 3.5, True])
    text = rng.choice([*ODD_TEXTS, "я" * rng.choice([4001, 20_000]), random_scalar(rng),
                       "Обычный вопрос про ЖКХ"])  # fmt: skip
    attachments = rng.choice(
        [
            [],
            "image",
            [None],
            [{"type": 5}],
            [{"type": "image", "payload": "x"}],
            [{"type": "location", "latitude": "север"}],
            [{"type": "file", "payload": {"url": "ftp://x"}, "filename": 7}],
            random_value(rng),
        ]
    )
    body = {"mid": rng.choice([f"mid.{index}", None, 5, "", "m" * 500]), "seq": index,
            "text": text, "attachments": attachments}  # fmt: skip
    message = {
        "sender": rng.choice([{"user_id": user, "name": random_scalar(rng)}, None, "x"]),
        "recipient": rng.choice(
            [{"chat_id": 1, "chat_type": "dialog"}, {"chat_type": random_scalar(rng)}, None]
        ),
        "timestamp": rng.choice([0, -1, 10**20, "вчера", None]),
        "body": body,
    }
    return {"update_type": "message_created", "timestamp": random_scalar(rng), "message": message}


def garbage(rng: random.Random, index: int) -> Any:
    kind = rng.random()
    if kind < 0.5:
        return odd_message(rng, index)
    if kind < 0.65:
        callback = {"callback_id": random_scalar(rng), "payload": random_value(rng),
                    "user": rng.choice([{"user_id": random_scalar(rng)}, None])}  # fmt: skip
        return {"update_type": "message_callback", "callback": callback,
                "message": random_value(rng)}  # fmt: skip
    if kind < 0.75:
        return {"update_type": "bot_started", "user": random_value(rng),
                "timestamp": random_scalar(rng)}  # fmt: skip
    if kind < 0.85:
        update_type = rng.choice(["message_removed", "bot_added", "", "😀", None, 5])
        return {"update_type": update_type, "message": random_value(rng)}
    return random_value(rng)


@pytest.fixture
async def services(fake, demo_settings, embedder) -> AsyncIterator[Services]:
    settings = Settings(_env_file=None, **{**dict(demo_settings), **fake_api_values(fake)})
    async with open_services(settings, with_redis=False, embedder=embedder) as services:
        await services.faq.refresh()
        yield services


async def test_a_faq_question_gets_the_faq_answer(fake, services):
    async with RunningMaxBot(
        fake, services.settings, services.conversation, services.inbox, services.outbox
    ):
        fake.citizen(PLAIN_CITIZEN, "Пётр").send_text(QUESTION)
        [sent] = await fake.wait_for_messages(PLAIN_CITIZEN, 1, timeout=30)

    assert sent.text == await faq_answer(services, ENTRY)
    assert [b["text"] for b in sent.buttons()] == [
        texts.BUTTON_HELPED,
        texts.BUTTON_NOT_HELPED,
        texts.BUTTON_OPERATOR,
    ]


async def test_bot_survives_1000_garbage_updates_and_still_answers(fake, services):
    rng = random.Random(20261202)
    async with RunningMaxBot(
        fake, services.settings, services.conversation, services.inbox, services.outbox
    ) as bot:
        pushed = [garbage(rng, index) for index in range(1000)]
        for update in pushed:
            fake.deliver(update)
        fake.citizen(PLAIN_CITIZEN, "Пётр").send_text(QUESTION)

        [sent] = await fake.wait_for_messages(PLAIN_CITIZEN, 1, timeout=180)
        assert sent.text == await faq_answer(services, ENTRY)
        await settled(services.inbox, services.sessions, "max")
        assert bot.alive
    counts = await services.inbox.counts("max")
    assert InboxStatus.QUARANTINED not in counts, counts
    assert counts[InboxStatus.DONE] > 20, counts  # odd yet valid messages were answered
    distinct = {inbox_key(update) for update in pushed}
    assert sum(counts.values()) == len(distinct) + 1  # and the real question
    assert await unanswered(services.sessions) == 0
