"""Citizens writing to the bot through a fake channel: each asks different FAQ questions
a short random time apart, never waiting for the answers (nor for the bot to be up)."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from tests.e2e.faults.pool import PoolEntry, Question
from tools.fake_telegram import FakeTelegram
from tools.fake_vk import FakeVk

CITIZENS = 40
QUESTIONS_EACH = 6
GAP = (0.2, 2.0)


class Chat(Protocol):
    """A channel's fake as the citizens and the test see it."""

    name: str
    first_citizen: int

    def ask(self, citizen: int, text: str) -> None: ...

    def replies(self, citizen: int) -> list[str]:
        """Texts the bot sent to the citizen, oldest first."""
        ...

    def sent_count(self) -> int:
        """Messages the bot sent so far, to anyone."""
        ...

    def connected(self) -> bool:
        """The bot has asked the fake for updates (VK delivers only later events)."""
        ...


class TelegramChat:
    name = "telegram"
    first_citizen = 1001

    def __init__(self, fake: FakeTelegram) -> None:
        self.fake = fake

    def ask(self, citizen: int, text: str) -> None:
        self.fake.citizen(citizen, f"Житель {citizen}").send_text(text)

    def replies(self, citizen: int) -> list[str]:
        return [m.get("text", "") for m in self.fake.messages(citizen)]

    def sent_count(self) -> int:
        return sum(len(messages) for messages in self.fake.state.sent.values())

    def connected(self) -> bool:
        return bool(self.fake.requests("getUpdates"))


class VkChat:
    name = "vk"
    first_citizen = 5001

    def __init__(self, fake: FakeVk) -> None:
        self.fake = fake

    def ask(self, citizen: int, text: str) -> None:
        self.fake.send_text(citizen, text)

    def replies(self, citizen: int) -> list[str]:
        return [m.text for m in self.fake.sent_to(citizen)]

    def sent_count(self) -> int:
        return len(self.fake.all_sent())

    def connected(self) -> bool:
        return bool(self.fake.calls("longpoll"))


@dataclass(frozen=True, slots=True)
class CitizenPlan:
    citizen: int
    start: float  # seconds after the traffic starts
    questions: tuple[Question, ...]
    gaps: tuple[float, ...]  # pause after each question


def plan_traffic(
    pool: Sequence[PoolEntry],
    rng: random.Random,
    first_citizen: int,
    *,
    spread: float,
    citizens: int = CITIZENS,
    questions: int = QUESTIONS_EACH,
) -> list[CitizenPlan]:
    """Who asks what and when; citizens start at random moments within ``spread`` s."""
    plans = []
    for number in range(citizens):
        entries = rng.sample(list(pool), questions)
        asked = tuple(entry.question(rng.choice(entry.texts)) for entry in entries)
        gaps = tuple(rng.uniform(*GAP) for _ in asked)
        plans.append(CitizenPlan(first_citizen + number, rng.uniform(0, spread), asked, gaps))
    return plans


@dataclass
class Traffic:
    chat: Chat
    plans: list[CitizenPlan]
    asked: dict[int, list[Question]] = field(default_factory=dict)
    started_at: float = 0.0  # time.monotonic()
    finished_at: float | None = None

    @property
    def total(self) -> int:
        return sum(len(plan.questions) for plan in self.plans)

    @property
    def count(self) -> int:
        return sum(len(questions) for questions in self.asked.values())

    def clock(self) -> float:
        """Seconds since the traffic started."""
        return time.monotonic() - self.started_at

    def progress(self) -> str:
        return f"t={self.clock():.1f}s {self.count}/{self.total} asked"

    async def run(self) -> None:
        """Play the plans; ``started_at`` must be set first (moments count from it)."""
        await asyncio.gather(*(self._citizen(plan) for plan in self.plans))
        self.finished_at = time.monotonic()

    async def _citizen(self, plan: CitizenPlan) -> None:
        await asyncio.sleep(plan.start)
        asked = self.asked.setdefault(plan.citizen, [])
        for question, gap in zip(plan.questions, plan.gaps, strict=True):
            self.chat.ask(plan.citizen, question.text)
            asked.append(question)
            await asyncio.sleep(gap)
