"""The conversation service with a scripted dialogue engine: what reaches the engine,
and how its own buttons travel through the channels' 64-byte limit."""

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from bots.app import Services, open_services
from bots.conversation import ConversationService
from core.conversations import ConversationRepository
from core.domain import Button, ConversationStatus, MessageKind
from core.models import Conversation
from handoff.service import HandoffService, Priority
from nlu import texts
from nlu.engine import BotMessage, DialogueTurn
from nlu.payloads import Action, decode
from tests.conftest import make_settings
from tests.factories import make_message

LONG_PAYLOAD = '/inform{"appeal_category": "Благоустройство и озеленение двора"}'


class ScriptedEngine:
    def __init__(self) -> None:
        self.turns: list[DialogueTurn] = []

    async def respond(self, turn: DialogueTurn) -> list[BotMessage]:
        self.turns.append(turn)
        return [
            BotMessage(
                f"эхо: {turn.text}",
                ((Button("Благоустройство", LONG_PAYLOAD), Button("Отмена", "/cancel")),),
            )
        ]


@pytest.fixture
async def services(tmp_path, embedder) -> AsyncIterator[tuple[Services, ScriptedEngine]]:
    async with open_services(
        make_settings(tmp_path), with_redis=False, embedder=embedder
    ) as services:
        engine = ScriptedEngine()
        services.conversation = ConversationService(
            services.sessions,
            ConversationRepository(services.sessions),
            engine,
            services.faq,
            HandoffService(),
            "Администрация",
        )
        yield services, engine


async def test_dialogue_buttons_are_short_references_to_the_stored_payload(services):
    services, engine = services
    [reply] = await services.conversation.handle(make_message("хочу подать заявку"))
    assert reply.text == "эхо: хочу подать заявку"
    payloads = [b.payload for row in reply.buttons for b in row]
    assert all(decode(p).action == Action.DIALOGUE for p in payloads)
    assert all(len(p.encode()) <= 64 for p in payloads)

    await services.conversation.handle(
        make_message("Благоустройство", kind=MessageKind.BUTTON, payload=payloads[0])
    )
    assert engine.turns[-1].text == LONG_PAYLOAD
    assert engine.turns[-1].kind == MessageKind.TEXT


async def test_another_citizens_dialogue_button_is_refused(services):
    services, engine = services
    [reply] = await services.conversation.handle(make_message("заявка", user_id="1"))
    payload = reply.buttons[0][0].payload
    [stale] = await services.conversation.handle(
        make_message("Благоустройство", user_id="2", kind=MessageKind.BUTTON, payload=payload)
    )
    assert stale.text == texts.STALE_BUTTON
    assert len(engine.turns) == 1


async def test_media_and_conversation_ids_reach_the_engine(services):
    services, engine = services
    await services.conversation.handle(make_message("", kind=MessageKind.PHOTO))
    turn = engine.turns[-1]
    assert (turn.kind, turn.conversation_id) == (MessageKind.PHOTO, 1)


async def test_commands_and_waiting_conversations_do_not_reach_the_engine(services):
    services, engine = services
    await services.conversation.handle(
        make_message("/start", kind=MessageKind.COMMAND, command="start")
    )
    async with services.sessions.begin() as session:
        assert await HandoffService().request_operator(session, 1, "test")
    [ack] = await services.conversation.handle(make_message("жду оператора"))
    assert ack.text == texts.WAITING_ACK
    assert engine.turns == []


async def test_priority_rises_for_a_waiting_request_and_cancel_resets_it(services):
    services, _ = services
    await services.conversation.handle(make_message("привет"))
    handoff = HandoffService()
    async with services.sessions.begin() as session:
        assert await handoff.request_operator(session, 1, "citizen_request")
        assert not await handoff.request_operator(session, 1, "emergency", Priority.HIGH)
    async with services.sessions() as session:
        conversation = await session.scalar(select(Conversation))
    assert (conversation.status, conversation.priority, conversation.status_reason) == (
        ConversationStatus.WAITING,
        Priority.HIGH,
        "emergency",
    )
    async with services.sessions.begin() as session:
        assert await handoff.cancel_request(session, 1)
        assert not await handoff.cancel_request(session, 1)
        assert await handoff.status(session, 1) == ConversationStatus.BOT
