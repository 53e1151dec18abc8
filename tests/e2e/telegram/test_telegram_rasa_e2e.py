"""Telegram end to end with the real dialogue: aiogram polls the fake Bot API, the
services are built by ``bots.app.open_services`` as ``djinn run`` builds them, and the
dialogue goes through the real Rasa server and action server (started once a session by
tests/rasa_fixtures.py). Every test is a new citizen."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bots.app import Services, open_services
from core.domain import Channel, ConversationStatus
from core.settings import Settings
from handoff.service import Priority
from nlu import texts as shared_texts
from nlu.actions import texts
from tests.conftest import faq_answer
from tests.e2e.rasa_chat import (
    APPEAL_NUMBER,
    appeals_of,
    back_on_rasa,
    conversation_of,
    next_replies,
    response_texts,
)
from tests.e2e.telegram.conftest import RunningBot, StartBot, fake_api_values
from tests.rasa_fixtures import RasaStack, new_citizen, wait_healthy
from tools.fake_telegram import FakeTelegram

pytestmark = pytest.mark.slow
FAQ_QUESTION = "Как оплатить коммунальные услуги?"
FAQ_ENTRY = "zhkh-pay-utilities"
# Every test's fake Telegram feeds the one database of the session's Rasa stack (the
# action server writes there): their update and callback query ids must not repeat.
_id_ranges = itertools.count(1_000_000_001, 1_000_000)


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(first_id=next(_id_ranges)) as fake:
        yield fake


@pytest.fixture
async def services(tg, rasa_stack: RasaStack, embedder) -> AsyncIterator[Services]:
    await wait_healthy(rasa_stack.settings)  # a test before may have killed Rasa
    # A turn may take longer than the default 2 s on a busy machine; then the knowledge
    # base would answer instead of the dialogue these tests are about.
    values = {**dict(rasa_stack.settings), **fake_api_values(tg), "rasa_timeout": 15.0}
    settings = Settings(_env_file=None, **values)  # type: ignore[call-arg]
    async with open_services(settings, with_redis=False, embedder=embedder) as services:
        await services.faq.refresh()
        assert not services.dialogue.degraded  # type: ignore[attr-defined]
        yield services


@pytest.fixture
async def bot(services: Services, start_bot: StartBot) -> RunningBot:
    # `services` first: the bot stops before the services it uses are closed.
    return await start_bot(
        settings=services.settings,
        handler=services.conversation,
        inbox=services.inbox,
        outbox=services.outbox,
    )


class Citizen:
    """A citizen in the fake Telegram; each action returns the bot's replies to it."""

    def __init__(self, tg: FakeTelegram, services: Services) -> None:
        self.tg = tg
        self.services = services
        self.user_id = int(new_citizen())
        self.client = tg.citizen(self.user_id, "Анна")
        self._seen = 0

    async def say(self, text: str) -> list[dict[str, Any]]:
        self.client.send_text(text)
        return await self._replies()

    async def press(self, messages: list[dict[str, Any]], label: str) -> list[dict[str, Any]]:
        """Press the inline button ``label`` under one of ``messages``."""
        [(message, data)] = [
            (message, button["callback_data"])
            for message in messages
            for row in keyboard(message)
            for button in row
            if button["text"] == label
        ]
        press = self.client.press_button(message, data)
        replies = await self._replies()
        assert press["callback_query"]["id"] in self.tg.state.callback_answers
        return replies

    async def send_photo(self) -> tuple[str, list[dict[str, Any]]]:
        """The file id of the largest size, and the replies."""
        update = self.client.send_photo()
        largest = update["message"]["photo"][-1]["file_id"]
        return largest, await self._replies()

    async def conversation(self):
        return await conversation_of(self.services, Channel.TELEGRAM, self.user_id)

    async def _replies(self) -> list[dict[str, Any]]:
        replies = await next_replies(
            self.services,
            Channel.TELEGRAM,
            self.user_id,
            lambda: self.tg.messages(self.user_id),
            self._seen,
        )
        self._seen += len(replies)
        return replies


def keyboard(message: dict[str, Any]) -> list[list[dict[str, Any]]]:
    return message.get("reply_markup", {}).get("inline_keyboard", [])


def labels(message: dict[str, Any]) -> list[str]:
    return [button["text"] for row in keyboard(message) for button in row]


def text(messages: list[dict[str, Any]]) -> str:
    return "\n".join(m["text"] for m in messages)


async def test_greeting_from_rasa(tg, services, bot):
    citizen = Citizen(tg, services)
    [greeting] = await citizen.say("Здравствуйте!")
    assert greeting["text"] in response_texts("utter_greet")
    assert labels(greeting) == ["Сообщить о проблеме", "Мои заявки"]


async def test_faq_question_answered_through_rasa(tg, services, bot):
    citizen = Citizen(tg, services)
    [answer] = await citizen.say(FAQ_QUESTION)
    assert answer["text"] == await faq_answer(services, FAQ_ENTRY)
    assert labels(answer) == [
        shared_texts.BUTTON_HELPED,
        shared_texts.BUTTON_NOT_HELPED,
        shared_texts.BUTTON_OPERATOR,
    ]
    assert not services.dialogue.degraded


async def test_appeal_interrupted_resumed_corrected_submitted_and_its_status(tg, services, bot):
    citizen = Citizen(tg, services)
    [consent] = await citizen.say("Хочу подать заявку: во дворе большая яма")
    assert "152-ФЗ" in consent["text"]
    assert labels(consent) == [texts.BUTTON_YES_CONSENT, texts.BUTTON_NO_CONSENT]

    [category] = await citizen.press([consent], texts.BUTTON_YES_CONSENT)
    assert category["text"] == texts.ASK_CATEGORY
    [address] = await citizen.press([category], "Дороги и транспорт")
    assert address["text"] == texts.ASK_ADDRESS

    # A question in the middle of the form: answered, then the form asks again.
    *answer, again = await citizen.say(FAQ_QUESTION)
    assert [m["text"] for m in answer] == [await faq_answer(services, FAQ_ENTRY)]
    assert again["text"] == texts.ASK_ADDRESS

    [description] = await citizen.say("ул. Ленина, 12")
    assert description["text"] == texts.ASK_DESCRIPTION
    [photo] = await citizen.say("Глубокая яма у второго подъезда, машины бьют колёса")
    assert photo["text"] == texts.ASK_PHOTO
    file_id, [phone] = await citizen.send_photo()
    assert phone["text"] == texts.ASK_PHONE
    summary = await citizen.say("8 (912) 345-67-89")
    assert texts.SUMMARY_HEAD in summary[-1]["text"]
    assert "+79123456789" in summary[-1]["text"] and "ул. Ленина, 12" in summary[-1]["text"]

    corrected = await citizen.press(summary, texts.FIELD_BUTTONS["address"])
    assert texts.CORRECTING.format(field=texts.FIELD_NAMES["address"]) in text(corrected)
    assert corrected[-1]["text"].endswith(texts.ASK_ADDRESS)
    summary = await citizen.say("ул. Ленина, 21")
    assert texts.SUMMARY_HEAD in summary[-1]["text"] and "ул. Ленина, 21" in summary[-1]["text"]
    assert texts.BUTTON_SUBMIT in labels(summary[-1])

    submitted = await citizen.press(summary, texts.BUTTON_SUBMIT)
    [number] = APPEAL_NUMBER.findall(text(submitted))
    assert "https://pos.gosuslugi.ru/" in text(submitted)
    [appeal] = await appeals_of(services, Channel.TELEGRAM, citizen.user_id)
    assert appeal.number == number
    assert (appeal.channel, appeal.category) == ("telegram", "roads")
    assert (appeal.address, appeal.phone) == ("ул. Ленина, 21", "+79123456789")
    assert appeal.description == "Глубокая яма у второго подъезда, машины бьют колёса"
    assert [p["file_id"] for p in appeal.photos] == [file_id]

    status = await citizen.say("Какой статус у моей заявки?")
    assert texts.STATUS_HEAD in text(status) and number in text(status)


async def test_emergency_numbers_then_a_priority_operator_request(tg, services, bot):
    citizen = Citizen(tg, services)
    numbers, handoff = await citizen.say("Сильно пахнет газом в подъезде!")
    for emergency_number in ("112", "101", "104", "103", "ЕДДС"):
        assert emergency_number in numbers["text"]
    assert handoff["text"] == texts.EMERGENCY_HANDOFF
    assert labels(handoff) == [shared_texts.BUTTON_CANCEL_OPERATOR]
    conversation = await citizen.conversation()
    assert conversation.status == ConversationStatus.WAITING
    assert (conversation.status_reason, conversation.priority) == ("emergency", Priority.HIGH)


async def test_operator_on_request(tg, services, bot):
    citizen = Citizen(tg, services)
    [requested] = await citizen.say("Соедините меня с оператором")
    assert requested["text"] == shared_texts.OPERATOR_REQUESTED
    assert labels(requested) == [shared_texts.BUTTON_CANCEL_OPERATOR]
    conversation = await citizen.conversation()
    assert (conversation.status, conversation.status_reason) == (
        ConversationStatus.WAITING,
        "citizen_request",
    )


async def test_rasa_killed_mid_conversation_then_the_form_goes_on(
    tg, rasa_stack: RasaStack, services, bot
):
    citizen = Citizen(tg, services)
    [consent] = await citizen.say("Хочу сообщить о проблеме: во дворе яма на дороге")
    [category] = await citizen.press([consent], texts.BUTTON_YES_CONSENT)
    assert category["text"] == texts.ASK_CATEGORY

    killed = rasa_stack.kill_rasa()
    [answer] = await citizen.say(FAQ_QUESTION)
    assert answer["text"] == await faq_answer(services, FAQ_ENTRY)
    assert shared_texts.BUTTON_OPERATOR in labels(answer)
    assert services.dialogue.degraded

    await wait_healthy(rasa_stack.settings)
    await back_on_rasa(services)
    assert rasa_stack.servers.rasa.pid not in (None, killed)
    # The form Rasa kept in its tracker goes on where it stopped: the category buttons
    # sent before Rasa died still work.
    [address] = await citizen.press([category], "Благоустройство и дворы")
    assert address["text"] == texts.ASK_ADDRESS
    [description] = await citizen.say("пр. Мира, 7")
    assert description["text"] == texts.ASK_DESCRIPTION
    assert (await citizen.conversation()).status == ConversationStatus.BOT
