"""Switching to the knowledge base when Rasa fails, and back when it is healthy, on an
injected clock and health probe."""

import asyncio
import logging

import pytest

from core.domain import Channel, MessageKind
from nlu.engine import BotMessage, DialogueTurn
from nlu.resilient import DialogueUnavailable, ResilientDialogueEngine

INTERVAL = 5.0


def turn(text: str = "привет") -> DialogueTurn:
    return DialogueTurn(1, 1, Channel.TELEGRAM, MessageKind.TEXT, text)


class ScriptedPrimary:
    """Answers ``rasa: <text>`` unless told to fail with ``failure``."""

    def __init__(self) -> None:
        self.failure: BaseException | None = None
        self.empty = False
        self.calls = 0

    async def respond(self, turn: DialogueTurn) -> list[BotMessage]:
        self.calls += 1
        if self.failure is not None:
            raise self.failure
        return [] if self.empty else [BotMessage(f"rasa: {turn.text}")]


class Fallback:
    async def respond(self, turn: DialogueTurn) -> list[BotMessage]:
        return [BotMessage(f"faq: {turn.text}")]


class FakeHealth:
    def __init__(self) -> None:
        self.problem_text: str | None = None
        self.checks = 0

    async def problem(self) -> str | None:
        self.checks += 1
        return self.problem_text


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Ticks:
    """A sleep that returns only when the test ticks it."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[None] = asyncio.Queue()
        self.waiting = asyncio.Event()

    async def sleep(self, _: float) -> None:
        self.waiting.set()
        await self._queue.get()
        self.waiting.clear()

    async def tick(self) -> None:
        """Let one background check run to completion."""
        await asyncio.wait_for(self.waiting.wait(), 5)
        self._queue.put_nowait(None)
        await asyncio.sleep(0)
        await asyncio.wait_for(self.waiting.wait(), 5)


@pytest.fixture
def parts():
    return ScriptedPrimary(), FakeHealth(), FakeClock()


@pytest.fixture
def engine(parts) -> ResilientDialogueEngine:
    primary, health, clock = parts
    return ResilientDialogueEngine(primary, Fallback(), health, interval=INTERVAL, clock=clock)


async def reply(engine: ResilientDialogueEngine, text: str = "привет") -> str:
    [message] = await engine.respond(turn(text))
    return message.text


async def test_rasa_answers_while_it_works(engine):
    assert await reply(engine) == "rasa: привет"
    assert not engine.degraded


@pytest.mark.parametrize(
    "failure",
    [DialogueUnavailable("no reply within 2 s"), RuntimeError("bug"), None],
    ids=["unavailable", "unexpected-error", "empty-reply"],
)
async def test_a_failed_turn_is_answered_from_the_knowledge_base(engine, parts, failure):
    primary, _, _ = parts
    primary.failure, primary.empty = failure, failure is None
    assert await reply(engine, "как оплатить ЖКХ") == "faq: как оплатить ЖКХ"
    assert engine.degraded


async def test_while_degraded_rasa_is_not_asked_and_the_switch_is_logged_once(
    engine, parts, caplog
):
    primary, _, _ = parts
    primary.failure = DialogueUnavailable("Rasa unreachable")
    with caplog.at_level(logging.WARNING, logger="nlu.resilient"):
        for text in ("раз", "два", "три"):
            assert await reply(engine, text) == f"faq: {text}"
    assert primary.calls == 1
    [record] = caplog.records
    assert "Rasa unreachable" in record.getMessage()


async def test_back_to_rasa_when_healthy_but_not_before_one_interval(engine, parts, caplog):
    primary, health, clock = parts
    assert await reply(engine) == "rasa: привет"
    primary.failure = DialogueUnavailable("no reply within 2 s")
    assert await reply(engine) == "faq: привет"
    primary.failure = None

    clock.now += INTERVAL / 2
    await engine.check()
    assert engine.degraded  # a timeout is not forgiven at once, however healthy /status is

    health.problem_text = "Rasa: ClientConnectorError"
    clock.now += INTERVAL
    await engine.check()
    assert engine.degraded

    health.problem_text = None
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="nlu.resilient"):
        await engine.check()
    assert not engine.degraded
    assert await reply(engine) == "rasa: привет"
    assert [r.getMessage() for r in caplog.records] == [
        "Rasa is available again: the dialogue goes through it"
    ]


async def test_a_failing_health_check_switches_before_any_citizen_notices(engine, parts):
    primary, health, _ = parts
    health.problem_text = "action server: ClientConnectorError"
    await engine.check()
    assert engine.degraded
    assert await reply(engine) == "faq: привет"
    assert primary.calls == 0


async def test_a_relapse_soon_after_recovery_doubles_the_wait(engine, parts):
    primary, _, clock = parts
    primary.failure = DialogueUnavailable("no reply within 2 s")
    await reply(engine)
    clock.now += INTERVAL
    await engine.check()
    assert not engine.degraded

    await reply(engine)  # fails again at once
    assert engine.degraded
    clock.now += INTERVAL
    await engine.check()
    assert engine.degraded
    clock.now += INTERVAL
    await engine.check()
    assert not engine.degraded


async def test_start_reports_not_ready_then_the_background_check_switches(parts, caplog):
    primary, health, clock = parts
    ticks = Ticks()
    health.problem_text = "Rasa: HTTP 409"
    engine = ResilientDialogueEngine(
        primary, Fallback(), health, interval=INTERVAL, clock=clock, sleep=ticks.sleep
    )
    with caplog.at_level(logging.WARNING, logger="nlu.resilient"):
        async with engine:
            assert engine.degraded
            assert await reply(engine) == "faq: привет"
            health.problem_text = None
            clock.now += INTERVAL
            await ticks.tick()
            assert not engine.degraded
            assert await reply(engine) == "rasa: привет"
    assert [r.getMessage() for r in caplog.records] == [
        "Rasa is not ready yet (Rasa: HTTP 409): answering from the knowledge base until it is",
        "Rasa is available: the dialogue goes through it",
    ]
    assert health.checks == 2


async def test_a_health_probe_that_raises_counts_as_unhealthy(engine, parts):
    _, health, _ = parts

    async def broken() -> str | None:
        raise OSError("no route")

    health.problem = broken
    await engine.check()
    assert engine.degraded
