"""The conversation service with the real Rasa server and action server (started once a
session by tests/rasa_fixtures.py): Rasa answers; when it is killed mid-conversation the
knowledge base answers; when its supervisor has brought it back, the dialogue goes on
from Rasa's stored tracker."""

import asyncio
from typing import Any

import aiohttp
import pytest
import yaml

from bots.app import Services
from core.domain import Reply
from core.models import Message
from nlu import texts
from nlu.project import PROJECT_DIR
from tests.conftest import faq_answer
from tests.factories import make_message
from tests.rasa_fixtures import RasaStack, new_citizen, wait_healthy

pytestmark = pytest.mark.slow
FAQ_QUESTION = "Как оплатить коммунальные услуги?"


def response_texts(name: str) -> list[str]:
    domain = yaml.safe_load((PROJECT_DIR / "domain.yml").read_text(encoding="utf-8"))
    return [variant["text"] for variant in domain["responses"][name]]


class Citizen:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.user_id = new_citizen()

    async def say(self, text: str) -> list[Reply]:
        return await self.services.conversation.handle(make_message(text, user_id=self.user_id))

    async def conversation_id(self, reply: Reply) -> int:
        async with self.services.sessions() as session:
            row = await session.get(Message, reply.outbox_id)
            assert row is not None
            return row.conversation_id


async def tracker(stack: RasaStack, conversation_id: int) -> dict[str, Any]:
    url = f"{stack.settings.rasa_url}/conversations/{conversation_id}/tracker"
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        assert response.status == 200
        return await response.json()


def user_texts(state: dict[str, Any]) -> list[str]:
    return [e["text"] for e in state["events"] if e["event"] == "user"]


async def until_back_on_rasa(services: Services, timeout: float = 120.0) -> None:
    engine = services.dialogue
    async with asyncio.timeout(timeout):
        while engine.degraded:
            await engine.check()
            await asyncio.sleep(0.5)


async def test_rasa_answers_through_the_conversation_service(rasa_services):
    citizen = Citizen(rasa_services)
    [greeting] = await citizen.say("Здравствуйте!")
    assert greeting.text in response_texts("utter_greet")
    assert greeting.text != texts.GREETING
    assert not rasa_services.dialogue.degraded


async def test_rasa_killed_mid_conversation_then_back_with_the_same_tracker(
    rasa_stack, rasa_services
):
    citizen = Citizen(rasa_services)
    [greeting] = await citizen.say("Здравствуйте!")
    assert greeting.text in response_texts("utter_greet")
    asked = await citizen.say("Хочу сообщить о проблеме: во дворе яма на дороге")
    conversation = await citizen.conversation_id(asked[0])
    before = await tracker(rasa_stack, conversation)
    assert before["active_loop"].get("name") == "appeal_form"

    killed = rasa_stack.kill_rasa()
    [answer] = await citizen.say(FAQ_QUESTION)
    assert answer.text == await faq_answer(rasa_services, "zhkh-pay-utilities")
    assert texts.BUTTON_OPERATOR in [b.text for row in answer.buttons for b in row]
    assert rasa_services.dialogue.degraded

    await wait_healthy(rasa_stack.settings)
    await until_back_on_rasa(rasa_services)
    assert rasa_stack.servers.rasa.pid not in (None, killed)
    consent = await citizen.say("Да, согласен")
    assert consent and consent[0].text != texts.NOT_FOUND

    after = await tracker(rasa_stack, conversation)
    assert after["active_loop"].get("name") == "appeal_form"
    assert after["slots"]["appeal_consent"] is True
    said = user_texts(after)
    assert said[: len(user_texts(before))] == user_texts(before)
    assert FAQ_QUESTION not in said  # Rasa never saw what the knowledge base answered
    assert said[-1] == "Да, согласен"
