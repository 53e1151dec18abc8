"""The conversation service with the real database, demo knowledge base and embedder."""

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import IntegrityError

from bots.app import Services, open_services
from core.domain import (
    Channel,
    ConversationStatus,
    DeliveryStatus,
    Direction,
    Feedback,
    MessageKind,
    Reply,
)
from core.models import Conversation, HandoffEvent, Identity, Message, SearchLog
from nlu import texts
from nlu.payloads import Action, decode
from tests.conftest import faq_answer, make_settings
from tests.factories import make_message
from tests.fakes import EchoDialogue, conversation_service, outbound


@pytest.fixture
async def services(demo_settings, embedder) -> AsyncIterator[Services]:
    async with open_services(demo_settings, with_redis=False, embedder=embedder) as services:
        yield services


def payloads(reply: Reply) -> list[str]:
    return [b.payload for row in reply.buttons for b in row]


def labels(reply: Reply) -> list[str]:
    return [b.text for row in reply.buttons for b in row]


def button(reply: Reply, action: Action) -> str:
    return next(p for p in payloads(reply) if decode(p).action == action)


async def press(services: Services, payload: str, user_id: str = "1001") -> list[Reply]:
    return await services.conversation.handle(
        make_message("кнопка", user_id=user_id, kind=MessageKind.BUTTON, payload=payload)
    )


async def conversation_of(services: Services, user_id: str = "1001") -> Conversation:
    async with services.sessions() as session:
        return await session.scalar(
            select(Conversation)
            .join(Identity, Identity.id == Conversation.identity_id)
            .where(Identity.external_id == user_id)
        )


async def search_log(services: Services) -> list[SearchLog]:
    async with services.sessions() as session:
        return list((await session.scalars(select(SearchLog).order_by(SearchLog.id))).all())


async def test_citizen_question_gets_the_right_answer_with_feedback_buttons(services):
    [reply] = await services.conversation.handle(
        make_message("Здравствуйте! подскажите куда платить за квартиру и свет")
    )
    entry = next(e for e in services.faq._index.entries if e.key == "zhkh-pay-utilities")
    assert reply.text == entry.answer
    assert labels(reply) == [texts.BUTTON_HELPED, texts.BUTTON_NOT_HELPED, texts.BUTTON_OPERATOR]
    assert all(len(p.encode()) <= 64 for p in payloads(reply))
    assert reply.outbox_id is not None
    [log] = await search_log(services)
    assert log.decision == "answer" and log.hits[0]["key"] == "zhkh-pay-utilities"


async def test_message_is_stored_before_anything_can_fail(services, monkeypatch):
    async def broken(*_args, **_kwargs):
        raise RuntimeError("search is down")

    monkeypatch.setattr(services.faq, "search", broken)
    with pytest.raises(RuntimeError):
        await services.conversation.handle(make_message("Как оплатить ЖКУ?", user_id="77"))
    async with services.sessions() as session:
        stored = (await session.scalars(select(Message))).all()
    assert [(m.direction, m.text) for m in stored] == [(Direction.IN, "Как оплатить ЖКУ?")]


async def test_redelivered_message_is_answered_once(services):
    message = make_message("Как записаться в МФЦ?", dedup_key="1001:500")
    assert len(await services.conversation.handle(message)) == 1
    assert await services.conversation.handle(message) == []


async def test_vague_question_offers_the_closest_questions(services):
    [reply] = await services.conversation.handle(make_message("садик"))
    assert reply.text.startswith(texts.CLARIFY)
    choices = [p for p in payloads(reply) if decode(p).action == Action.CHOOSE]
    assert 2 <= len(choices) <= 3
    [answer] = await press(services, choices[0])
    chosen = services.faq.entry(decode(choices[0]).entry_id)
    assert answer.text == chosen.answer
    [log] = await search_log(services)
    assert (log.decision, log.chosen_entry_id) == ("clarify", chosen.id)


async def test_question_outside_the_faq_offers_an_operator(services):
    [reply] = await services.conversation.handle(make_message("кто выиграл матч вчера"))
    assert reply.text == texts.NOT_FOUND
    assert labels(reply) == [texts.BUTTON_OPERATOR]


async def test_helped_is_recorded_once(services):
    [answer] = await services.conversation.handle(make_message("Как записаться в МФЦ?"))
    [reply] = await press(services, button(answer, Action.HELPED))
    assert reply.text == texts.HELPED
    [again] = await press(services, button(answer, Action.HELPED))
    assert again.text == texts.FEEDBACK_AGAIN
    [log] = await search_log(services)
    assert log.feedback == Feedback.HELPED


async def test_second_not_helped_puts_the_conversation_in_waiting(services):
    [first] = await services.conversation.handle(make_message("Как оплатить коммунальные услуги?"))
    [reply] = await press(services, button(first, Action.NOT_HELPED))
    assert reply.text == texts.NOT_HELPED
    assert any(decode(p).action == Action.CHOOSE for p in payloads(reply))
    assert (await conversation_of(services)).status == ConversationStatus.BOT

    [second] = await services.conversation.handle(make_message("Как записаться в МФЦ?"))
    [reply] = await press(services, button(second, Action.NOT_HELPED))
    assert reply.text == texts.OPERATOR_AFTER_FAILURES
    conversation = await conversation_of(services)
    assert (conversation.status, conversation.status_reason) == ("waiting", "not_helped")
    logs = await search_log(services)
    assert [log.feedback for log in logs] == [Feedback.NOT_HELPED, Feedback.NOT_HELPED]


async def test_operator_button_records_the_request_and_messages_wait_for_the_operator(services):
    [answer] = await services.conversation.handle(make_message("Как записаться в МФЦ?"))
    [reply] = await press(services, button(answer, Action.OPERATOR))
    assert reply.text == texts.OPERATOR_REQUESTED
    conversation = await conversation_of(services)
    assert conversation.status == ConversationStatus.WAITING
    assert conversation.waiting_since is not None

    [ack] = await services.conversation.handle(make_message("У меня сломан лифт"))
    assert ack.text == texts.WAITING_ACK
    assert len(await search_log(services)) == 1  # no FAQ search while waiting

    [cancelled] = await press(services, button(ack, Action.CANCEL))
    assert cancelled.text == texts.OPERATOR_CANCELLED
    assert (await conversation_of(services)).status == ConversationStatus.BOT


async def handoff_events(services: Services) -> list[tuple[str, dict | None]]:
    async with services.sessions() as session:
        rows = await session.scalars(select(HandoffEvent).order_by(HandoffEvent.id))
        return [(row.kind, row.payload) for row in rows]


async def test_the_operators_learn_of_the_request_and_of_every_message_after_it(services):
    """The request and each message written while waiting commit with their turn as
    events for the operators' queue; the withdrawal too."""
    [answer] = await services.conversation.handle(make_message("Как записаться в МФЦ?"))
    [reply] = await press(services, button(answer, Action.OPERATOR))
    await services.conversation.handle(make_message("У меня сломан лифт", dedup_key="m2"))
    await services.conversation.handle(make_message("", kind=MessageKind.PHOTO, dedup_key="m3"))
    await press(services, button(reply, Action.CANCEL))

    async with services.sessions() as session:
        ids = (
            await session.scalars(
                select(Message.id).where(Message.direction == Direction.IN).order_by(Message.id)
            )
        ).all()
    assert await handoff_events(services) == [
        ("requested", {"reason": "citizen_request"}),
        ("citizen_message", {"message_id": ids[2]}),
        ("citizen_message", {"message_id": ids[3]}),
        ("cancelled", None),
    ]


async def test_while_an_operator_has_the_conversation_the_bot_stays_silent(services):
    await services.conversation.handle(make_message("Первый вопрос"))
    conversation = await conversation_of(services)
    async with services.sessions.begin() as session:
        await session.execute(
            update(Conversation)
            .where(Conversation.id == conversation.id)
            .values(status=ConversationStatus.WITH_OPERATOR)
        )

    replies = await services.conversation.handle(make_message("Спасибо, жду", dedup_key="m2"))

    assert replies == []
    assert [kind for kind, _ in await handoff_events(services)] == ["citizen_message"]


@pytest.mark.parametrize(
    "kind",
    [
        MessageKind.PHOTO,
        MessageKind.VOICE,
        MessageKind.STICKER,
        MessageKind.DOCUMENT,
        MessageKind.LOCATION,
        MessageKind.CONTACT,
    ],
)
async def test_non_text_message_gets_a_polite_explanation(services, kind):
    [reply] = await services.conversation.handle(make_message("", kind=kind))
    assert reply.text == texts.non_text(kind)
    assert labels(reply) == [texts.BUTTON_OPERATOR]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Здравствуйте!", texts.GREETING),
        ("Спасибо большое!", texts.THANKS),
        ("😀😀😀", texts.EMPTY),
        ("???", texts.EMPTY),
        ("\u200b\u200b", texts.EMPTY),
    ],
)
async def test_small_talk_and_empty_messages_are_not_searched(services, text, expected):
    [reply] = await services.conversation.handle(make_message(text))
    assert reply.text == expected
    assert await search_log(services) == []


async def test_start_shows_what_the_bot_can_do_and_the_personal_data_notice(services):
    [reply] = await services.conversation.handle(
        make_message("/start", kind=MessageKind.COMMAND, command="start")
    )
    assert services.settings.org_name in reply.text
    assert "152-ФЗ" in reply.text and "112" in reply.text and "59-ФЗ" in reply.text


async def test_forged_or_foreign_button_changes_nothing(services):
    [answer] = await services.conversation.handle(make_message("Как записаться в МФЦ?"))
    [stale] = await press(services, "fh:999999")
    assert stale.text == texts.FEEDBACK_AGAIN
    [junk] = await press(services, "не наша кнопка")
    assert junk.text == texts.STALE_BUTTON
    [foreign] = await press(services, button(answer, Action.HELPED), user_id="2002")
    assert foreign.text == texts.FEEDBACK_AGAIN
    [log] = await search_log(services)
    assert log.feedback is None


async def test_blocked_delivery_marks_the_citizen_and_writing_again_clears_it(services):
    [reply] = await services.conversation.handle(make_message("Как записаться в МФЦ?"))
    await services.outbox.undeliverable(
        reply.outbox_id, DeliveryStatus.BLOCKED, "Forbidden: bot was blocked by the user"
    )
    async with services.sessions() as session:
        assert (await session.scalar(select(Identity.blocked_at))) is not None
    await services.conversation.handle(make_message("Снова я"))
    async with services.sessions() as session:
        assert (await session.scalar(select(Identity.blocked_at))) is None


async def test_replies_wait_in_the_outbox_until_delivered(services):
    [sent, pending] = [
        (await services.conversation.handle(make_message(q)))[0]
        for q in ("Как записаться в МФЦ?", "Как оплатить коммунальные услуги?")
    ]
    await services.outbox.delivered(sent.outbox_id, "55", 1)
    [waiting] = await services.outbox.claim_chat(Channel.TELEGRAM, "1001")
    assert (waiting.reply.outbox_id, waiting.reply.text, waiting.reply.buttons) == (
        pending.outbox_id,
        pending.text,
        pending.buttons,
    )
    assert await services.outbox.due_chats(Channel.VK) == []


class Crashing:
    """A dialogue that dies after the message is stored, as a crashed process would."""

    def __init__(self, error: BaseException) -> None:
        self.error = error

    async def respond(self, turn):
        raise self.error


async def incoming(services: Services) -> list[Message]:
    async with services.sessions() as session:
        query = select(Message).where(Message.direction == Direction.IN).order_by(Message.id)
        return list((await session.scalars(query)).all())


@pytest.mark.parametrize(
    "failure", [RuntimeError("dialogue failed"), asyncio.CancelledError()], ids=["error", "cancel"]
)
async def test_message_stored_but_not_answered_is_answered_once_when_handled_again(
    services, failure
):
    """Before, the message was committed on its own and its turn in another
    transaction: a failure in between left it stored, and handling it again answered
    nothing, ever."""
    message = make_message("Как записаться в МФЦ?")
    crashing = conversation_service(services.sessions, Crashing(failure))
    with pytest.raises(type(failure)):
        await crashing.handle(message)
    [stored] = await incoming(services)
    assert stored.handled_at is None
    assert await outbound(services.sessions) == []

    [reply] = await services.conversation.handle(message)  # the retry
    assert reply.text == await faq_answer(services, "doc-mfc-appointment")
    assert await services.conversation.handle(message) == []  # a re-delivery
    assert [m.handled_at is not None for m in await incoming(services)] == [True]
    assert len(await outbound(services.sessions)) == 1
    [log] = await search_log(services)  # the retried search is logged once
    assert log.message_id == stored.id


async def test_two_attempts_at_one_message_at_once_answer_it_once(services):
    """Two workers (a retry and a late first attempt) race: one turn commits."""
    release = asyncio.Event()
    dialogue = EchoDialogue()
    dialogue.hold = release
    service = conversation_service(services.sessions, dialogue)
    message = make_message("Вопрос")
    attempts = [asyncio.create_task(service.handle(message)) for _ in range(2)]
    while len(dialogue.turns) < 2:
        await asyncio.sleep(0.01)
    assert [turn.retry for turn in dialogue.turns] == [False, True]
    release.set()
    results = await asyncio.gather(*attempts)
    assert sorted(len(replies) for replies in results) == [0, 1]
    assert len(await outbound(services.sessions)) == 1


async def test_the_last_failure_apologises_and_hands_the_conversation_to_operators_once(
    services,
):
    message = make_message("Вопрос, на котором всё сломалось")
    [apology] = await services.conversation.give_up(message, "bot_failure")
    assert apology.text == texts.TURN_FAILED
    assert labels(apology) == [texts.BUTTON_CANCEL_OPERATOR]
    conversation = await conversation_of(services)
    assert (conversation.status, conversation.status_reason) == (
        ConversationStatus.WAITING,
        "bot_failure",
    )
    assert await services.conversation.give_up(message, "bot_failure") == []
    assert await services.conversation.handle(message) == []  # answered, by the apology
    [stored] = await incoming(services)
    assert stored.handled_at is not None


async def test_empty_knowledge_base_offers_an_operator(tmp_path, embedder):
    settings = make_settings(tmp_path, demo_faq=False)
    async with open_services(settings, with_redis=False, embedder=embedder) as services:
        [reply] = await services.conversation.handle(make_message("Как оплатить ЖКУ?"))
    assert reply.text == texts.NOT_FOUND
    assert labels(reply) == [texts.BUTTON_OPERATOR]


async def test_a_message_the_database_refuses_is_not_taken_for_a_redelivery(services):
    """A refused insert raised IntegrityError like a duplicate would: the message was
    dropped as answered. It must fail, so the inbox retries it and apologises at last."""
    async with services.sessions.begin() as session:
        await session.execute(
            text(
                "CREATE TRIGGER refuse_message BEFORE INSERT ON messages "
                "WHEN NEW.text LIKE '%сломалось%' "
                "BEGIN SELECT RAISE(ABORT, 'refused'); END"
            )
        )
    with pytest.raises(IntegrityError):
        await services.conversation.handle(make_message("У меня всё сломалось"))
    assert await incoming(services) == []
