"""The custom actions against a real SQLite database and the demo knowledge base,
driven as the action server drives them."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from core.appeals import AppealDraft, AppealRepository
from core.conversations import ConversationRepository
from core.domain import ConversationStatus
from core.models import Appeal, Conversation, SearchLog
from handoff.service import Priority
from nlu import texts as shared_texts
from nlu.actions import texts
from nlu.actions.server import ActionServices, build_actions, open_action_services
from nlu.payloads import Action, decode
from tests.factories import make_message
from tests.trackers import djinn_messages, make_tracker, payloads_of, slot_events, texts_of

CONSENT_AT = datetime(2026, 11, 29, 9, 30, tzinfo=UTC)
FILLED = {
    "appeal_consent": True,
    "appeal_consent_at": CONSENT_AT.isoformat(),
    "appeal_category": "roads",
    "appeal_address": "ул. Ленина, 12",
    "appeal_description": "Глубокая яма на проезжей части у подъезда",
    "appeal_photo": [{"file_id": "AgAD-photo"}],
    "appeal_phone": "+79123456789",
}


@pytest.fixture
async def services(demo_settings, embedder) -> AsyncIterator[ActionServices]:
    async with open_action_services(demo_settings, embedder=embedder) as services:
        await services.faq.refresh()
        yield services


@pytest.fixture
def actions(services):
    return {action.name(): action for action in build_actions(services)}


async def open_conversation(services: ActionServices, user_id: str = "5001") -> int:
    stored = await ConversationRepository(services.sessions).store_inbound(
        make_message("привет", user_id=user_id)
    )
    assert stored is not None
    return stored.conversation.id


async def run(action, tracker):
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, tracker, {})
    return events, dispatcher


async def conversation_row(services, conversation_id) -> Conversation:
    async with services.sessions() as session:
        row = await session.get(Conversation, conversation_id)
        assert row is not None
        return row


async def test_submit_stores_the_appeal_and_tells_the_number(services, actions):
    conversation = await open_conversation(services)
    tracker = make_tracker("/affirm", "affirm", sender_id=conversation, slots=FILLED)
    events, dispatcher = await run(actions["action_submit_appeal"], tracker)

    async with services.sessions() as session:
        [appeal] = (await session.scalars(select(Appeal))).all()
    assert re.fullmatch(r"20\d\d-000001", appeal.number)
    assert appeal.status == "registered"
    assert (appeal.category, appeal.address, appeal.phone) == (
        "roads",
        "ул. Ленина, 12",
        "+79123456789",
    )
    assert appeal.photos == [{"file_id": "AgAD-photo"}]
    assert appeal.consent_at.replace(tzinfo=UTC) == CONSENT_AT
    assert appeal.consent_text == texts.consent(services.settings.org_name)
    [said] = texts_of(dispatcher)
    assert appeal.number in said
    assert "59-ФЗ" in said and "30 марта 2025" in said and "https://pos.gosuslugi.ru/" in said
    assert all(value is None for value in slot_events(events).values())


async def test_submitting_a_rewound_appeal_again_registers_it_once(services, actions):
    conversation = await open_conversation(services)
    tracker = make_tracker("/affirm", "affirm", sender_id=conversation, slots=FILLED)
    _, first = await run(actions["action_submit_appeal"], tracker)
    _, again = await run(actions["action_submit_appeal"], tracker)

    async with services.sessions() as session:
        [appeal] = (await session.scalars(select(Appeal))).all()
    assert texts_of(again) == texts_of(first)
    assert appeal.number in texts_of(again)[0]


async def test_registration_numbers_count_up_within_the_year(services):
    conversation = await open_conversation(services)
    repository = AppealRepository(services.sessions)
    draft = AppealDraft(
        conversation, "other", "адрес", "описание", [], "+79123456789", CONSENT_AT, "согласие"
    )
    first = await repository.register(draft)
    second = await repository.register(dataclasses.replace(draft, description="другое"))
    year, number = first.number.split("-")
    assert second.number == f"{year}-{int(number) + 1:06d}"


async def test_yes_without_a_reviewed_appeal_stores_nothing(services, actions):
    conversation = await open_conversation(services)
    tracker = make_tracker("да", "affirm", sender_id=conversation)
    _, dispatcher = await run(actions["action_submit_appeal"], tracker)
    assert texts_of(dispatcher) == [texts.ACKNOWLEDGED]
    async with services.sessions() as session:
        assert (await session.scalars(select(Appeal))).all() == []


async def test_cancel_forgets_the_form_and_stores_nothing(services, actions):
    conversation = await open_conversation(services)
    slots = {**FILLED, "appeal_phone": None, "requested_slot": "appeal_phone"}
    tracker = make_tracker(
        "отмена", "cancel", sender_id=conversation, slots=slots, active_loop="appeal_form"
    )
    events, dispatcher = await run(actions["action_cancel_appeal"], tracker)
    assert texts_of(dispatcher) == [texts.CANCELLED]
    assert all(value is None for value in slot_events(events).values())
    async with services.sessions() as session:
        assert (await session.scalars(select(Appeal))).all() == []


async def test_consent_refused_points_to_gosuslugi(actions):
    tracker = make_tracker("нет", "deny", slots={"appeal_consent": False})
    events, dispatcher = await run(actions["action_appeal_summary"], tracker)
    [said] = texts_of(dispatcher)
    assert "ничего не сохранено" in said and "https://pos.gosuslugi.ru/" in said
    assert slot_events(events)["appeal_consent"] is None


async def test_summary_offers_submit_corrections_and_cancel(actions):
    events, dispatcher = await run(actions["action_appeal_summary"], make_tracker(slots=FILLED))
    [message] = djinn_messages(dispatcher)
    assert "ул. Ленина, 12" in message["text"] and "+79123456789" in message["text"]
    payloads = payloads_of(message)
    assert payloads[0] == "/affirm" and payloads[-1] == "/cancel"
    assert '/correct_field{"field":"address"}' in payloads
    assert events == []


async def test_correct_field_clears_it_so_the_form_asks_again(actions):
    tracker = make_tracker(
        '/correct_field{"field":"address"}',
        "correct_field",
        entities={"field": "address"},
        slots=FILLED,
    )
    events, dispatcher = await run(actions["action_correct_field"], tracker)
    assert slot_events(events) == {"appeal_address": None, "appeal_resume": True}
    assert texts_of(dispatcher) == [texts.CORRECTING.format(field="адрес")]


async def test_correct_field_without_an_appeal(actions):
    tracker = make_tracker("хочу исправить адрес", "correct_field", entities={"field": "address"})
    events, dispatcher = await run(actions["action_correct_field"], tracker)
    assert slot_events(events) == {"appeal_resume": False}
    assert texts_of(dispatcher) == [texts.NOTHING_TO_CORRECT]


async def test_status_shows_only_the_citizens_own_appeals(services, actions):
    mine = await open_conversation(services, user_id="7001")
    theirs = await open_conversation(services, user_id="7002")
    repository = AppealRepository(services.sessions)
    own = await repository.register(
        AppealDraft(mine, "waste", "ул. Мира, 3", "свалка", [], "+79123456789", CONSENT_AT, "c")
    )
    other = await repository.register(
        AppealDraft(theirs, "roads", "ул. Тайная, 1", "яма", [], "+79000000000", CONSENT_AT, "c")
    )

    _, dispatcher = await run(
        actions["action_appeal_status"],
        make_tracker("мои заявки", "check_appeal_status", sender_id=mine),
    )
    [said] = texts_of(dispatcher)
    assert own.number in said and "Мусор и свалки" in said
    assert other.number not in said and "Тайная" not in said

    _, dispatcher = await run(
        actions["action_appeal_status"],
        make_tracker(f"статус ОБР-{other.number}", "check_appeal_status", sender_id=mine),
    )
    assert texts_of(dispatcher) == [texts.STATUS_NOT_FOUND.format(number=other.number)]


async def test_status_without_appeals(services, actions):
    conversation = await open_conversation(services)
    _, dispatcher = await run(
        actions["action_appeal_status"],
        make_tracker("что с заявкой", "check_appeal_status", sender_id=conversation),
    )
    assert texts_of(dispatcher) == [texts.STATUS_NONE]


async def test_emergency_gives_the_numbers_then_a_priority_operator_request(services, actions):
    conversation = await open_conversation(services)
    tracker = make_tracker("пахнет газом в подъезде", "emergency", sender_id=conversation)
    _, dispatcher = await run(actions["action_emergency"], tracker)
    numbers, handoff = texts_of(dispatcher)
    for number in ("112", "101", "104", "103", "ЕДДС"):
        assert number in numbers
    assert handoff == texts.EMERGENCY_HANDOFF
    row = await conversation_row(services, conversation)
    assert row.status == ConversationStatus.WAITING
    assert (row.status_reason, row.priority) == ("emergency", Priority.HIGH)


async def test_operator_request_stops_the_form(services, actions):
    conversation = await open_conversation(services)
    tracker = make_tracker(
        "дайте оператора",
        "request_operator",
        sender_id=conversation,
        slots={"appeal_consent": True, "requested_slot": "appeal_address"},
        active_loop="appeal_form",
    )
    events, dispatcher = await run(actions["action_request_operator"], tracker)
    assert all(value is None for value in slot_events(events).values())
    [message] = djinn_messages(dispatcher)
    assert message["text"].startswith(texts.FORM_ABORTED)
    assert shared_texts.OPERATOR_REQUESTED in message["text"]
    assert decode(payloads_of(message)[0]).action == Action.CANCEL
    row = await conversation_row(services, conversation)
    assert (row.status, row.status_reason, row.priority) == (
        ConversationStatus.WAITING,
        "citizen_request",
        Priority.NORMAL,
    )


async def test_faq_action_logs_the_search_and_returns_our_buttons(services, actions):
    conversation = await open_conversation(services)
    tracker = make_tracker(
        "как передать показания счётчиков воды",
        "ask_question",
        sender_id=conversation,
        metadata={"channel": "telegram", "kind": "text"},
    )
    _, dispatcher = await run(actions["action_answer_faq"], tracker)
    [message] = djinn_messages(dispatcher)
    async with services.sessions() as session:
        [log] = (await session.scalars(select(SearchLog))).all()
    assert log.conversation_id == conversation and log.channel == "telegram"
    assert log.query == "как передать показания счётчиков воды"
    actions_offered = {decode(p).action for p in payloads_of(message)}
    assert Action.OPERATOR in actions_offered
    assert all(decode(p).ref == log.id for p in payloads_of(message))
