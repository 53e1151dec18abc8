"""The dialogue through the conversation service, the real Rasa server and our action
server (tests/rasa_fixtures.py): the appeal form interrupted by a question, resumed,
corrected and submitted; status; emergency; operator; cancel; consent refused."""

from __future__ import annotations

import dataclasses
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from bots.app import Services
from core.domain import ConversationStatus, MessageKind, Reply
from core.models import Appeal, Conversation, Message
from handoff.service import Priority
from nlu.actions import texts
from tests.factories import make_message
from tests.rasa_fixtures import new_citizen

pytestmark = pytest.mark.slow


class Citizen:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.user_id = new_citizen()

    async def say(self, text: str) -> list[Reply]:
        return await self.services.conversation.handle(make_message(text, user_id=self.user_id))

    async def press(self, replies: list[Reply], label: str) -> list[Reply]:
        [button] = [b for r in replies for row in r.buttons for b in row if b.text == label]
        message = make_message(
            button.text, user_id=self.user_id, kind=MessageKind.BUTTON, payload=button.payload
        )
        return await self.services.conversation.handle(message)

    async def send_photo(self) -> list[Reply]:
        message = dataclasses.replace(
            make_message("", user_id=self.user_id, kind=MessageKind.PHOTO),
            attachments=({"file_id": "AgAD-test-photo"},),
        )
        return await self.services.conversation.handle(message)

    async def conversation(self, replies: list[Reply]) -> Conversation:
        async with self.services.sessions() as session:
            message = await session.get(Message, replies[0].outbox_id)
            assert message is not None
            row = await session.get(Conversation, message.conversation_id)
            assert row is not None
            return row


def text(replies: list[Reply]) -> str:
    return "\n".join(r.text for r in replies)


async def rasa_tracker(services: Services, conversation_id: int) -> dict[str, Any]:
    url = f"{services.settings.rasa_url}/conversations/{conversation_id}/tracker"
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        assert response.status == 200
        return await response.json()


async def test_appeal_interrupted_resumed_corrected_and_submitted(rasa_services):
    citizen = Citizen(rasa_services)
    replies = await citizen.say("Хочу подать заявку: во дворе большая яма")
    assert "152-ФЗ" in text(replies)

    replies = await citizen.press(replies, texts.BUTTON_YES_CONSENT)
    assert texts.ASK_CATEGORY in text(replies)
    replies = await citizen.press(replies, "Дороги и транспорт")
    assert texts.ASK_ADDRESS in text(replies)

    replies = await citizen.say("А как оплатить коммунальные услуги?")
    assert texts.ASK_ADDRESS in replies[-1].text, "the form asks its question again"
    assert len(replies) >= 2, "the question is answered first"

    replies = await citizen.say("ул. Ленина, 12")
    assert texts.ASK_DESCRIPTION in text(replies)
    replies = await citizen.say("Глубокая яма у второго подъезда, машины бьют колёса")
    assert texts.ASK_PHOTO in text(replies)
    replies = await citizen.send_photo()
    assert texts.ASK_PHONE in text(replies)
    replies = await citizen.say("8 (912) 345-67-89")
    assert texts.SUMMARY_HEAD in text(replies) and "+79123456789" in text(replies)

    replies = await citizen.press(replies, texts.FIELD_BUTTONS["address"])
    assert texts.ASK_ADDRESS in text(replies)
    replies = await citizen.say("ул. Ленина, 21")
    assert "ул. Ленина, 21" in text(replies) and texts.SUMMARY_HEAD in text(replies)

    replies = await citizen.press(replies, texts.BUTTON_SUBMIT)
    conversation = await citizen.conversation(replies)
    async with rasa_services.sessions() as session:
        [appeal] = (
            await session.scalars(select(Appeal).where(Appeal.conversation_id == conversation.id))
        ).all()
    assert appeal.address == "ул. Ленина, 21" and appeal.phone == "+79123456789"
    assert appeal.photos == [{"file_id": "AgAD-test-photo"}]
    assert appeal.number in text(replies) and "https://pos.gosuslugi.ru/" in text(replies)

    replies = await citizen.say("какой статус у моей заявки?")
    assert appeal.number in text(replies)


async def test_consent_refused_stores_nothing(rasa_services):
    citizen = Citizen(rasa_services)
    replies = await citizen.say("хочу подать обращение")
    replies = await citizen.press(replies, texts.BUTTON_NO_CONSENT)
    assert text(replies) == texts.CONSENT_REFUSED


async def test_cancel_in_the_middle_of_the_form(rasa_services):
    citizen = Citizen(rasa_services)
    replies = await citizen.say("хочу оставить заявку")
    replies = await citizen.press(replies, texts.BUTTON_YES_CONSENT)
    replies = await citizen.say("отмена")
    assert text(replies) == texts.CANCELLED
    replies = await citizen.say("да")
    assert text(replies) == texts.ACKNOWLEDGED


async def test_emergency_numbers_then_a_priority_operator(rasa_services):
    citizen = Citizen(rasa_services)
    replies = await citizen.say("Сильно пахнет газом в подъезде!")
    assert "112" in replies[0].text and "104" in replies[0].text
    assert texts.EMERGENCY_HANDOFF in text(replies)
    conversation = await citizen.conversation(replies)
    assert conversation.status == ConversationStatus.WAITING
    assert (conversation.status_reason, conversation.priority) == ("emergency", Priority.HIGH)


async def test_operator_on_request(rasa_services):
    citizen = Citizen(rasa_services)
    replies = await citizen.say("соедините меня с оператором")
    conversation = await citizen.conversation(replies)
    assert (conversation.status, conversation.status_reason) == (
        ConversationStatus.WAITING,
        "citizen_request",
    )


@pytest.mark.parametrize(
    ("message", "reason", "first_words"),
    [
        ("Сильно пахнет газом в подъезде!", "emergency", texts.EMERGENCY),
        ("соедините меня с оператором", "citizen_request", texts.FORM_ABORTED),
    ],
    ids=["emergency", "operator"],
)
async def test_emergency_or_operator_in_the_middle_of_the_form_stops_it(
    rasa_services, message, reason, first_words
):
    citizen = Citizen(rasa_services)
    replies = await citizen.say("хочу оставить заявку")
    replies = await citizen.press(replies, texts.BUTTON_YES_CONSENT)
    assert texts.ASK_CATEGORY in text(replies)

    replies = await citizen.say(message)
    assert replies[0].text.startswith(first_words)
    assert texts.ASK_CATEGORY not in text(replies), "the form does not ask again"
    conversation = await citizen.conversation(replies)
    assert (conversation.status, conversation.status_reason) == (
        ConversationStatus.WAITING,
        reason,
    )
    state = await rasa_tracker(rasa_services, conversation.id)
    assert state["active_loop"].get("name") is None
    assert state["latest_action_name"] == "action_listen"
    assert state["slots"]["appeal_consent"] is None
    assert state["slots"]["requested_slot"] is None
