"""What Djinn undoes in the real Rasa's tracker (tests/rasa_fixtures.py) when a turn's
reply does not reach the citizen, with a proxy (tests/rasa_proxy.py) between our client
and Rasa that fails the webhook's answers on demand: Rasa applies each message once, and
an appeal submitted in a turn the citizen never saw is registered once."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest

from bots.app import Services, open_services
from core.domain import Channel, MessageKind, Reply
from nlu.actions import texts
from nlu.engine import BotMessage, DialogueTurn
from nlu.rasa import DialogueUnavailable, RasaDialogueEngine
from tests.e2e.rasa_chat import APPEAL_NUMBER, appeals_of, conversation_of
from tests.integration.test_rasa_dialogue import Citizen as DialogueCitizen
from tests.rasa_fixtures import RasaStack, wait_healthy
from tests.rasa_proxy import Fault, RasaProxy

pytestmark = pytest.mark.slow
# Generous, so that only the proxy makes a turn late on a busy two-core machine.
TIMEOUT = 10.0
APPEAL_REQUEST = "Хочу подать заявку: во дворе большая яма"
# Rasa sender ids of conversations that exist only in Rasa, apart from the database's.
_senders = itertools.count(2_000_000_001)


async def rasa_tracker(stack: RasaStack, sender: int, events: str = "ALL") -> dict[str, Any]:
    """The conversation as Rasa itself (not through the proxy) holds it."""
    url = f"{stack.settings.rasa_url}/conversations/{sender}/tracker"
    async with (
        aiohttp.ClientSession() as http,
        http.get(url, params={"include_events": events}) as response,
    ):
        assert response.status == 200
        return await response.json()


def user_message_ids(state: dict[str, Any]) -> list[Any]:
    return [e["metadata"].get("message_id") for e in state["events"] if e["event"] == "user"]


def latest_message_id(state: dict[str, Any]) -> Any:
    return (state["latest_message"].get("metadata") or {}).get("message_id")


def last_turn_rewound(state: dict[str, Any]) -> bool:
    kinds = [e["event"] for e in state["events"]]
    last_user = len(kinds) - 1 - kinds[::-1].index("user")
    return "rewind" in kinds[last_user:]


async def until_tracker(
    stack: RasaStack, sender: int, done: Callable[[dict[str, Any]], bool], timeout: float = 60.0
) -> dict[str, Any]:
    state = await rasa_tracker(stack, sender)
    async with asyncio.timeout(timeout):
        while not done(state):
            await asyncio.sleep(0.2)
            state = await rasa_tracker(stack, sender)
    return state


def said(messages: list[BotMessage] | list[Reply]) -> str:
    return "\n".join(m.text for m in messages)


class Dialogue:
    """Turns of one conversation that only Rasa knows, given to the engine directly."""

    def __init__(self, engine: RasaDialogueEngine) -> None:
        self.engine = engine
        self.sender = next(_senders)

    async def say(self, message_id: int, text: str, *, retry: bool = False) -> list[BotMessage]:
        turn = DialogueTurn(
            self.sender, message_id, Channel.TELEGRAM, MessageKind.TEXT, text, retry=retry
        )
        return await self.engine.respond(turn)


@pytest.fixture
async def proxy(rasa_stack: RasaStack) -> AsyncIterator[RasaProxy]:
    await wait_healthy(rasa_stack.settings)  # a test before may have killed Rasa
    async with RasaProxy(rasa_stack.settings.rasa_url, hold=TIMEOUT + 3) as proxy:
        yield proxy


@pytest.fixture
async def dialogue(proxy: RasaProxy) -> AsyncIterator[Dialogue]:
    async with RasaDialogueEngine(proxy.url, timeout=TIMEOUT) as engine:
        yield Dialogue(engine)


@pytest.mark.parametrize("fault", [Fault.FAIL_AFTER, Fault.GARBAGE_AFTER], ids=["500", "garbage"])
async def test_a_turn_rasa_applied_but_answered_with_an_error_is_rewound(
    rasa_stack, proxy, dialogue, fault
):
    await dialogue.say(1, "Здравствуйте!")
    proxy.fault(fault)
    with pytest.raises(DialogueUnavailable):
        await dialogue.say(2, APPEAL_REQUEST)
    assert proxy.forwarded[-1].status == 200, "Rasa handled the message"

    state = await until_tracker(rasa_stack, dialogue.sender, last_turn_rewound)
    assert latest_message_id(state) == 1
    assert state["active_loop"] == {}, "the form the failed turn started is undone"

    consent = await dialogue.say(3, APPEAL_REQUEST)
    assert "152-ФЗ" in said(consent)
    applied = await rasa_tracker(rasa_stack, dialogue.sender, "APPLIED")
    assert user_message_ids(applied) == [1, 3]
    assert applied["active_loop"]["name"] == "appeal_form"
    assert applied["slots"]["requested_slot"] == "appeal_consent"


async def test_a_500_before_rasa_saw_the_message_keeps_the_previous_turn(
    rasa_stack, proxy, dialogue
):
    await dialogue.say(1, APPEAL_REQUEST)
    proxy.fault(Fault.FAIL_BEFORE)
    with pytest.raises(DialogueUnavailable, match="HTTP 500"):
        await dialogue.say(2, "✅ Согласен(на)")
    await dialogue.say(3, "/affirm")  # waits for the failed turn's check

    state = await rasa_tracker(rasa_stack, dialogue.sender)
    assert user_message_ids(state) == [1, 3]
    assert [e["event"] for e in state["events"]].count("rewind") == 0
    assert state["slots"]["appeal_consent"] is True, "the consent (turn 3) follows turn 1"


async def test_a_retried_message_rasa_had_applied_is_applied_once(rasa_stack, dialogue):
    await dialogue.say(1, "Здравствуйте!")
    first = await dialogue.say(2, APPEAL_REQUEST)  # our side then failed to commit the turn
    again = await dialogue.say(2, APPEAL_REQUEST, retry=True)
    assert said(again) == said(first)

    applied = await rasa_tracker(rasa_stack, dialogue.sender, "APPLIED")
    assert user_message_ids(applied) == [1, 2]
    assert applied["slots"]["requested_slot"] == "appeal_consent"
    everything = await rasa_tracker(rasa_stack, dialogue.sender)
    assert user_message_ids(everything) == [1, 2, 2], "the first attempt is kept, reverted"


class Citizen(DialogueCitizen):
    async def fill_the_appeal_form(self) -> list[Reply]:
        """Through to the summary; its replies."""
        replies = await self.say(APPEAL_REQUEST)
        replies = await self.press(replies, texts.BUTTON_YES_CONSENT)
        replies = await self.press(replies, "Дороги и транспорт")
        replies = await self.say("ул. Ленина, 12")
        replies = await self.say("Глубокая яма у второго подъезда, машины бьют колёса")
        replies = await self.press(replies, texts.BUTTON_NO_PHOTO)
        replies = await self.say("8 (912) 345-67-89")
        assert texts.SUMMARY_HEAD in said(replies), said(replies)
        return replies


async def until_back_on_rasa(services: Services, timeout: float = 120.0) -> None:
    engine = services.dialogue
    async with asyncio.timeout(timeout):
        while engine.degraded:
            await engine.check()
            await asyncio.sleep(0.5)


async def test_an_appeal_submitted_in_a_turn_that_timed_out_is_registered_once(
    rasa_stack, proxy, embedder
):
    settings = rasa_stack.settings.model_copy(
        update={"rasa_url": proxy.url, "rasa_timeout": TIMEOUT}
    )
    async with open_services(settings, with_redis=False, embedder=embedder) as services:
        await services.faq.refresh()
        citizen = Citizen(services)
        summary = await citizen.fill_the_appeal_form()
        conversation = await conversation_of(services, Channel.TELEGRAM, int(citizen.user_id))

        proxy.fault(Fault.LATE)
        fallback = await citizen.press(summary, texts.BUTTON_SUBMIT)
        assert services.dialogue.degraded, "the knowledge base answered"
        assert not APPEAL_NUMBER.search(said(fallback))
        await until_tracker(rasa_stack, conversation.id, last_turn_rewound)
        [registered] = await appeals_of(services, Channel.TELEGRAM, int(citizen.user_id))

        await until_back_on_rasa(services)
        replies = await citizen.press(summary, texts.BUTTON_SUBMIT)
        [appeal] = await appeals_of(services, Channel.TELEGRAM, int(citizen.user_id))
    assert appeal.number == registered.number
    assert APPEAL_NUMBER.findall(said(replies)) == [appeal.number]
