"""A seeded scenario of knowledge gaps: citizens' questions the bot could not answer,
that did not help or that an operator handled, with the operators' real answers; used by
the gaps tests and the web admin's tests."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from core.domain import Channel, ConversationStatus, Decision, Feedback
from core.models import (
    Citizen,
    Conversation,
    HandoffCase,
    Identity,
    Message,
    SearchLog,
    utcnow,
)
from knowledge_base.normalize import clean

NOW = utcnow()
SINCE = NOW - timedelta(days=30)

OPERATOR_ANSWER = (
    "Для замены утерянного паспорта обратитесь в МФЦ или в отдел по вопросам миграции МВД "
    "с заявлением об утрате. Возьмите две фотографии 35×45 мм и оплатите госпошлину 1500 ₽."
)
POTHOLE_ANSWER = (
    "Сообщите о яме на портале «Госуслуги. Решаем вместе» или по телефону ЕДДС 112: "
    "укажите адрес и приложите фото."
)
BOT_NOTICE = (
    "Ваш вопрос передан оператору. Операторы отвечают по будням с 9 до 18 часов, в среднем "
    "за 15 минут; в выходные ответ придёт в понедельник. Пока ждёте, можете описать вопрос "
    "подробнее, приложить фотографии или документы, это поможет ответить быстрее."
)


def ago(days: float, minutes: float = 0) -> datetime:
    return NOW - timedelta(days=days) + timedelta(minutes=minutes)


@dataclass
class Seeder:
    session: AsyncSession
    numbers: itertools.count = field(default_factory=lambda: itertools.count(1))

    async def citizen(self) -> int:
        citizen = Citizen()
        self.session.add(citizen)
        await self.session.flush()
        return citizen.id

    async def conversation(
        self, citizen: int, channel: Channel = Channel.TELEGRAM, banned: bool = False
    ) -> int:
        number = next(self.numbers)
        identity = Identity(
            citizen_id=citizen,
            channel=channel,
            external_id=str(number),
            chat_id=str(number),
            banned_at=NOW if banned else None,
        )
        self.session.add(identity)
        await self.session.flush()
        conversation = Conversation(
            identity_id=identity.id, channel=channel, status=ConversationStatus.BOT
        )
        self.session.add(conversation)
        await self.session.flush()
        return conversation.id

    async def ask(
        self,
        conversation: int,
        text: str,
        at: datetime,
        decision: Decision = Decision.HANDOFF,
        feedback: Feedback | None = None,
    ) -> int:
        channel = await self._channel(conversation)
        message = Message(
            conversation_id=conversation,
            channel=channel,
            direction="in",
            kind="text",
            dedup_key=f"m{next(self.numbers)}",
            chat_id="1",
            text=text,
            created_at=at,
        )
        self.session.add(message)
        await self.session.flush()
        log = SearchLog(
            conversation_id=conversation,
            message_id=message.id,
            channel=channel,
            query=text,
            normalized_query=clean(text),
            hits=[],
            decision=decision,
            feedback=feedback,
            created_at=at,
        )
        self.session.add(log)
        await self.session.flush()
        return log.id

    async def handoff(
        self, conversation: int, at: datetime, replies: list[tuple[str | None, str, datetime]]
    ) -> None:
        """A stay with the operators from ``at`` to half an hour later, with ``replies``
        (author, text, time) sent in the conversation."""
        self.session.add(
            HandoffCase(
                conversation_id=conversation,
                reason="citizen_request",
                requested_at=at,
                first_response_at=at + timedelta(minutes=2),
                ended_at=at + timedelta(minutes=30),
            )
        )
        channel = await self._channel(conversation)
        for author, text, sent in replies:
            self.session.add(
                Message(
                    conversation_id=conversation,
                    channel=channel,
                    direction="out",
                    kind="text",
                    chat_id="1",
                    text=text,
                    author=author,
                    created_at=sent,
                )
            )
        await self.session.flush()

    async def _channel(self, conversation: int) -> str:
        return (await self.session.get(Conversation, conversation)).channel


@dataclass
class Seeded:
    passport: list[int]
    pothole: list[int]
    abroad: list[int]
    kindergarten: list[int]
    dogs: list[int]
    operator_question: int
    pothole_operator_question: int
    first_passport: int


async def seed(sessions) -> Seeded:
    async with sessions.begin() as session:
        s = Seeder(session)
        one, two, three, four, five, six, seven = [await s.citizen() for _ in range(7)]
        one_tg, one_vk = await s.conversation(one), await s.conversation(one, Channel.VK)
        two_tg, three_tg = await s.conversation(two), await s.conversation(three)
        four_vk = await s.conversation(four, Channel.VK)
        five_tg, six_tg, seven_tg = [await s.conversation(c) for c in (five, six, seven)]

        # Lost passport: three citizens (the first one twice, on two channels).
        p1 = await s.ask(one_tg, "Здравствуйте! Я потерял паспорт, что мне делать?", ago(5))
        p2 = await s.ask(
            two_tg,
            "потеряла паспорт как восстановить",
            ago(4),
            Decision.ANSWER,
            Feedback.NOT_HELPED,
        )
        p3 = await s.ask(
            three_tg,
            "Где восстановить утерянный паспорт?",
            ago(3),
            Decision.CLARIFY,
            Feedback.OPERATOR,
        )
        await s.handoff(
            three_tg,
            ago(3, 1),
            [
                (None, BOT_NOTICE, ago(3, 1)),
                ("operator:501", "Здравствуйте! Сейчас уточню.", ago(3, 3)),
                ("operator:501", OPERATOR_ANSWER, ago(3, 5)),
                ("operator:501", "Будут вопросы — пишите. " * 10, ago(3, 120)),  # after
            ],
        )
        p4 = await s.ask(one_vk, "Утерян паспорт гражданина РФ, куда обращаться", ago(1))

        # A pothole: two citizens, the second one handed to an operator, then again.
        h1 = await s.ask(two_tg, "Куда жаловаться на яму на дороге?", ago(6))
        h2 = await s.ask(four_vk, "яма на дороге куда сообщить", ago(2))
        await s.handoff(four_vk, ago(2, 1), [("operator:502", POTHOLE_ANSWER, ago(2, 4))])
        h3 = await s.ask(
            four_vk,
            "Куда сообщить о яме на дороге во дворе?",
            ago(0.5),
            Decision.ANSWER,
            Feedback.NOT_HELPED,
        )

        # One citizen asking the same five times; two lone questions.
        abroad = [
            await s.ask(five_tg, "Как получить загранпаспорт?", ago(6 - d)) for d in range(5)
        ]
        dogs = await s.ask(six_tg, "Можно ли выгуливать собак на детской площадке?", ago(7))
        garden = await s.ask(
            seven_tg,
            "Как записать ребенка в детский сад?",
            ago(2),
            Decision.CLARIFY,
            Feedback.NOT_HELPED,
        )

        # Not gaps, though they ask about the lost passport too: too old, from a banned
        # spammer, answered to the citizen's satisfaction, answered without a verdict.
        eight = await s.citizen()
        old = await s.conversation(eight)
        await s.ask(old, "Я потерял паспорт", ago(40))
        spam = await s.conversation(await s.citizen(), banned=True)
        await s.ask(spam, "Потерял паспорт, помогите", ago(3))
        fine = await s.conversation(await s.citizen())
        await s.ask(fine, "Потерял паспорт, что делать?", ago(3), Decision.ANSWER, Feedback.HELPED)
        await s.handoff(fine, ago(3, 10), [("operator:501", "Чем ещё помочь?", ago(3, 12))])
        await s.ask(fine, "Где получить паспорт взамен утерянного?", ago(2), Decision.ANSWER)
    return Seeded(
        passport=[p1, p2, p3, p4],
        pothole=[h1, h2, h3],
        abroad=abroad,
        kindergarten=[garden],
        dogs=[dogs],
        operator_question=p3,
        pothole_operator_question=h2,
        first_passport=p1,
    )
