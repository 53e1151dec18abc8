"""A seeded week for the dashboard (2–8 March 2026, Moscow time): five citizens on
Telegram and VK, answered, rejected and unsure questions, operators fast and late, an
SLA miss and ratings, with every figure worked out by hand in
tests/integration/test_dashboard_figures.py."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from core.domain import Channel, ConversationStatus, Direction, MessageKind
from core.models import (
    Citizen,
    Conversation,
    FaqEntry,
    HandoffCase,
    Identity,
    Message,
    SearchLog,
)


def at(day: int, hour: int, minute: int = 0, second: int = 0, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, minute, second, tzinfo=UTC)


@dataclass
class World:
    """What the scenario stored: entries by name, conversations by citizen."""

    entries: dict[str, int] = field(default_factory=dict)
    conversations: dict[str, int] = field(default_factory=dict)
    cases: dict[str, int] = field(default_factory=dict)


class Seeder:
    def __init__(self, session, world: World) -> None:
        self.session = session
        self.world = world
        self.count = 0

    async def entry(self, name: str, category: str | None) -> None:
        row = FaqEntry(key=name, question=f"Вопрос {name}", answer="Ответ", category=category)
        self.session.add(row)
        await self.session.flush()
        self.world.entries[name] = row.id

    async def citizen(self, name: str, channel: Channel) -> None:
        citizen = Citizen()
        self.session.add(citizen)
        await self.session.flush()
        identity = Identity(
            citizen_id=citizen.id,
            channel=channel,
            external_id=name,
            chat_id=name,
            display_name=name,
        )
        self.session.add(identity)
        await self.session.flush()
        conversation = Conversation(
            identity_id=identity.id, channel=channel, status=ConversationStatus.BOT
        )
        self.session.add(conversation)
        await self.session.flush()
        self.world.conversations[name] = conversation.id

    async def message(
        self,
        who: str,
        when: datetime,
        direction: Direction = Direction.IN,
        *,
        kind: MessageKind = MessageKind.TEXT,
        author: str | None = None,
        text: str = "текст",
    ) -> int:
        conversation = await self.session.get(Conversation, self.world.conversations[who])
        self.count += 1
        row = Message(
            conversation_id=conversation.id,
            channel=conversation.channel,
            direction=direction,
            kind=kind,
            dedup_key=f"{who}:{self.count}" if direction == Direction.IN else None,
            chat_id=who,
            text=text,
            created_at=when,
            author=author,
        )
        self.session.add(row)
        await self.session.flush()
        return row.id

    async def ask(
        self,
        who: str,
        when: datetime,
        *parts: tuple[str, str | None],
        feedback: str | None = None,
        chosen: str | None = None,
        hits: list[dict] | None = None,
    ) -> None:
        """A question message, its search rows (a second later, one per part: decision
        and top entry) and the bot's reply two seconds later (one per part)."""
        message = await self.message(who, when, text="вопрос")
        for number, (decision, top) in enumerate(parts, start=1 if len(parts) > 1 else 0):
            stored = (
                hits
                if hits is not None
                else [{"id": self.world.entries[top], "key": top, "score": 0.9}]
                if top
                else []
            )
            self.session.add(
                SearchLog(
                    conversation_id=self.world.conversations[who],
                    message_id=message,
                    part=number,
                    channel="x",
                    query="вопрос",
                    normalized_query="вопрос",
                    hits=stored,
                    top_entry_id=stored[0]["id"] if stored else None,
                    decision=decision,
                    feedback=feedback,
                    chosen_entry_id=self.world.entries[chosen] if chosen else None,
                    # Parts of one message are searched a moment apart.
                    created_at=when + timedelta(seconds=1, milliseconds=number),
                )
            )
            await self.message(who, when + timedelta(seconds=2), Direction.OUT, text="ответ")

    async def case(self, name: str, who: str, requested: datetime, **values) -> None:
        row = HandoffCase(
            conversation_id=self.world.conversations[who],
            reason="citizen_request",
            requested_at=requested,
            reopenings=0,
            **values,
        )
        self.session.add(row)
        await self.session.flush()
        self.world.cases[name] = row.id


async def seed_world(sessions) -> World:
    world = World()
    async with sessions.begin() as session:
        seed = Seeder(session, world)
        await seed.entry("e1", "ЖКХ")
        await seed.entry("e2", "ЖКХ")
        await seed.entry("e3", "Транспорт")
        await seed.entry("e4", None)
        for name, channel in (
            ("Анна", Channel.TELEGRAM),
            ("Борис", Channel.VK),
            ("Вера", Channel.TELEGRAM),
            ("Глеб", Channel.VK),
            ("Дина", Channel.TELEGRAM),
        ):
            await seed.citizen(name, channel)

        # The week before: e3 asked three times, e2 twice.
        await seed.ask("Борис", at(25, 10, month=2), ("answer", "e3"))
        await seed.ask("Борис", at(26, 10, month=2), ("answer", "e3"))
        await seed.ask("Борис", at(27, 10, month=2), ("answer", "e3"))
        await seed.ask("Глеб", at(24, 10, month=2), ("answer", "e2"))
        await seed.ask("Глеб", at(28, 10, month=2), ("answer", "e2"))

        # Anna: helped, nothing more for five days (resolved); then helped, but back
        # 47 hours later, after the week (came back).
        await seed.ask("Анна", at(2, 10), ("answer", "e1"), feedback="helped")
        await seed.ask("Анна", at(7, 10), ("answer", "e1"), feedback="helped")
        await seed.ask("Анна", at(9, 9), ("answer", "e1"))
        # Boris: «Не помогло»; another answer, then a question the bot was unsure of
        # two days later (came back) and an operator who answered late.
        await seed.ask("Борис", at(2, 12), ("answer", "e1"), feedback="not_helped")
        await seed.ask("Борис", at(2, 12, 5), ("answer", "e3"))
        await seed.ask("Борис", at(4, 12), ("clarify", "e3"))
        await seed.case(
            "late",
            "Борис",
            at(4, 12, 1),
            group_chat_id="-100",
            operator_id="2",
            operator_name="Иван",
            taken_at=at(4, 12, 20),
            first_response_at=at(4, 12, 31),
            sla_due_at=at(4, 12, 16),
            ended_at=at(4, 12, 50),
            outcome="closed",
            csat_score=3,
        )
        await seed.message("Борис", at(4, 12, 31), Direction.OUT, author="operator:2")
        # Vera: answered (the stored hits in another key order), then an operator
        # within ten minutes who answered in twelve; on the last day a question nobody
        # answered, whose case the SLA watcher marked missed.
        e3 = world.entries["e3"]
        await seed.ask("Вера", at(3, 9), ("answer", None), hits=[{"score": 0.9, "id": e3}])
        await seed.case(
            "quick",
            "Вера",
            at(3, 9, 10),
            group_chat_id="-100",
            operator_id="1",
            operator_name="Ольга",
            taken_at=at(3, 9, 15),
            first_response_at=at(3, 9, 22),
            sla_due_at=at(3, 9, 25),
            ended_at=at(3, 9, 40),
            outcome="closed",
            csat_score=5,
        )
        await seed.message(
            "Вера", at(3, 9, 22), Direction.OUT, author="operator:1", text="Здравствуйте"
        )
        await seed.ask("Вера", at(8, 15), ("handoff", None))
        await seed.case(
            "unanswered",
            "Вера",
            at(8, 15, 0, 5),
            group_chat_id="-200",
            sla_due_at=at(8, 15, 15),
            sla_missed_at=at(8, 15, 15),
        )
        # Gleb: one message, two questions, both answered; an operator request 73
        # hours later, withdrawn before its deadline.
        await seed.ask("Глеб", at(3, 15), ("answer", "e2"), ("answer", "e4"))
        await seed.message("Глеб", at(6, 16), kind=MessageKind.BUTTON)
        await seed.message("Глеб", at(6, 16, 0, 1), Direction.OUT)
        await seed.case(
            "cancelled",
            "Глеб",
            at(6, 16, 0, 2),
            group_chat_id="-200",
            sla_due_at=at(6, 16, 15),
            ended_at=at(6, 16, 5),
            outcome="cancelled",
        )
        # Dina: writes at the week's first and last instants and just outside them; a
        # question she chose the answer of, the next one 72 h 1 min later (resolved).
        await seed.message("Дина", at(1, 20, 59, 59), kind=MessageKind.STICKER)
        await seed.message("Дина", at(1, 21), kind=MessageKind.STICKER)
        await seed.ask("Дина", at(5, 8), ("clarify", "e3"), chosen="e2")
        await seed.ask("Дина", at(8, 8, 1), ("answer", "e3"))
        await seed.message("Дина", at(8, 20, 59, 59), kind=MessageKind.STICKER)
        await seed.message("Дина", at(8, 21), kind=MessageKind.STICKER)
    return world
