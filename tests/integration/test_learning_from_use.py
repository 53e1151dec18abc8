"""Learning from use through the running bot: citizens press the real buttons, an
operator answers in the real way, the learning job reads the database, and the next
citizen gets what the others taught (or does not, when only one citizen tried)."""

import json
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select

from bots.app import Services, open_services
from core.domain import Decision, LearnedStatus, MessageKind
from core.models import HandoffCase, KbVersion, LearnedPhrasing, Message, SearchLog, utcnow
from nlu import texts
from nlu.payloads import Action, decode
from tests.factories import make_message
from tests.integration.test_cli import djinn

QUESTION = "садик для ребенка"
ALIKE = "Садик для ребёнка?"


@pytest.fixture
async def services(demo_settings, embedder) -> AsyncIterator[Services]:
    async with open_services(demo_settings, with_redis=False, embedder=embedder) as services:
        await services.faq.refresh()
        yield services


def choices(reply) -> list[int]:
    return [
        decode(b.payload).entry_id
        for row in reply.buttons
        for b in row
        if decode(b.payload).action == Action.CHOOSE
    ]


async def press(services, reply, action: Action, user: str) -> None:
    """The citizen ``user`` presses the button of ``action`` under ``reply``."""
    payload = next(
        b.payload for row in reply.buttons for b in row if decode(b.payload).action == action
    )
    await services.conversation.handle(
        make_message("кнопка", user_id=user, kind=MessageKind.BUTTON, payload=payload)
    )


async def ask_and_choose(services: Services, text: str, user: str, entry: int | None) -> int:
    """A citizen asks, is offered questions, and chooses ``entry`` (the first if None)."""
    [reply] = await services.conversation.handle(make_message(text, user_id=user))
    assert reply.text.startswith(texts.CLARIFY), reply.text
    offered = choices(reply)
    entry = offered[0] if entry is None else entry
    assert entry in offered
    payload = next(
        b.payload for row in reply.buttons for b in row if decode(b.payload).entry_id == entry
    )
    [answer] = await services.conversation.handle(
        make_message("кнопка", user_id=user, kind=MessageKind.BUTTON, payload=payload)
    )
    assert answer.text == services.faq.entry(entry).answer
    return entry


async def versions(services: Services) -> int:
    async with services.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(KbVersion)))


async def test_two_citizens_teach_a_question_and_the_next_one_gets_the_answer(services):
    target = await ask_and_choose(services, QUESTION, "2001", None)
    await ask_and_choose(services, ALIKE, "2002", target)
    before = await versions(services)

    outcome = await services.faq.learning_job().run()

    assert [(lesson.entry_id, lesson.citizens) for lesson in outcome.added] == [(target, 2)]
    assert outcome.version is not None and await versions(services) == before + 1
    assert await services.faq.refresh()
    [later] = await services.conversation.handle(make_message(QUESTION, user_id="2003"))
    assert later.text == services.faq.entry(target).answer
    assert services.faq.entry(target).learned == (outcome.added[0].text,)

    # Nothing new: no new version.
    again = await services.faq.learning_job().run()
    assert not again.changed and again.version is None


async def test_one_citizen_asking_again_and_again_teaches_nothing(services):
    target = await ask_and_choose(services, QUESTION, "2001", None)
    for _ in range(4):
        await ask_and_choose(services, QUESTION, "2001", target)
    before = await versions(services)

    outcome = await services.faq.learning_job().run()

    assert outcome.added == [] and outcome.version is None
    assert await versions(services) == before
    [later] = await services.conversation.handle(make_message(QUESTION, user_id="2003"))
    assert later.text.startswith(texts.CLARIFY)


async def test_a_phrasing_the_editor_rejected_is_not_learned_again(services):
    target = await ask_and_choose(services, QUESTION, "2001", None)
    await ask_and_choose(services, ALIKE, "2002", target)
    await services.faq.learning_job().run()
    async with services.sessions.begin() as session:
        row = await session.scalar(select(LearnedPhrasing))
        row.status = LearnedStatus.REJECTED
    await ask_and_choose(services, QUESTION, "2004", target)

    outcome = await services.faq.learning_job().run()

    assert outcome.added == []
    async with services.sessions() as session:
        statuses = (await session.scalars(select(LearnedPhrasing.status))).all()
    assert statuses == [LearnedStatus.REJECTED]


async def test_later_rejections_withdraw_a_learned_phrasing(services):
    target = await ask_and_choose(services, QUESTION, "2001", None)
    await ask_and_choose(services, ALIKE, "2002", target)
    await services.faq.learning_job().run()
    await services.faq.refresh()
    for user in ("2005", "2006", "2007"):
        [answer] = await services.conversation.handle(make_message(QUESTION, user_id=user))
        assert answer.text == services.faq.entry(target).answer
        await press(services, answer, Action.NOT_HELPED, user)

    outcome = await services.faq.learning_job().run()

    assert outcome.withdrawn == 1 and outcome.version is not None
    async with services.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(LearnedPhrasing)) == 0


async def test_an_operators_answer_teaches_the_question_it_answered(services):
    question = "хочу в садик"
    [reply] = await services.conversation.handle(make_message(question, user_id="3001"))
    assert reply.text.startswith((texts.CLARIFY, texts.NOT_FOUND))
    _, published = await services.faq_repository.published()
    entry = next(e for e in published if e.key == "edu-kindergarten-enrollment")
    async with services.sessions.begin() as session:
        log = await session.scalar(select(SearchLog).where(SearchLog.query == question))
        now = utcnow()
        session.add(
            HandoffCase(
                conversation_id=log.conversation_id,
                reason="citizen_request",
                requested_at=now,
                first_response_at=now,
            )
        )
        session.add(
            Message(
                conversation_id=log.conversation_id,
                channel="telegram",
                direction="out",
                kind="text",
                chat_id="3001",
                text=f"Здравствуйте! {entry.answer}",
                author="operator:501",
                created_at=now,
            )
        )

    outcome = await services.faq.learning_job().run()

    assert [(lesson.entry_id, lesson.text) for lesson in outcome.added] == [
        (entry.id, log.normalized_query)
    ]


async def test_enough_verdicts_set_the_answer_margin(demo_settings, embedder, monkeypatch):
    from knowledge_base import learning

    monkeypatch.setattr(learning, "MIN_VERDICTS", 3)
    settings = demo_settings.model_copy(update={"calibrate_margin": True})
    async with open_services(settings, with_redis=False, embedder=embedder) as services:
        await services.faq.refresh()
        assert services.faq.thresholds_for().margin > 0.0
        for user in ("4001", "4002", "4003"):
            [answer] = await services.conversation.handle(
                make_message("Как оплатить коммунальные услуги?", user_id=user)
            )
            await press(services, answer, Action.HELPED, user)

        outcome = await services.faq.learning_job().run()

        assert outcome.use_margin == 0.0 and outcome.margin_changed
        assert await services.faq_repository.use_margin() == 0.0
        await services.faq.refresh()
        assert services.faq.thresholds_for().margin == 0.0


async def test_djinn_kb_learn_shows_and_applies_what_citizens_taught(demo_settings, embedder):
    async with open_services(demo_settings, with_redis=False, embedder=embedder) as services:
        await services.faq.refresh()
        target = await ask_and_choose(services, QUESTION, "2001", None)
        await ask_and_choose(services, ALIKE, "2002", target)
        label = services.faq.entry(target).question

    dry = djinn(demo_settings.data_dir, "kb", "learn", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert f"+ «{QUESTION}» → " in dry.stdout and label[:30] in dry.stdout
    assert "Пробный запуск: ничего не изменено." in dry.stdout

    real = djinn(demo_settings.data_dir, "kb", "learn")
    assert real.returncode == 0, real.stderr
    assert "База знаний v" in real.stdout

    again = djinn(demo_settings.data_dir, "kb", "learn")
    assert "Нового нет, база знаний не изменилась." in again.stdout
    found = djinn(demo_settings.data_dir, "kb", "search", QUESTION, "--json")
    assert json.loads(found.stdout)["decision"] == Decision.ANSWER
