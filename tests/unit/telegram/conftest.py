from typing import Any

import pytest
from aiogram import Bot, Dispatcher
from aiogram.types import Update

from bots.telegram.citizen import build_citizen_router
from bots.telegram.sender import ReplySender
from tests.factories import TG_BOT_TOKEN
from tests.fakes import FakeConversationHandler
from tests.unit.telegram.doubles import RecordingSession, SleepRecorder


@pytest.fixture
def session() -> RecordingSession:
    return RecordingSession()


@pytest.fixture
def bot(session: RecordingSession) -> Bot:
    return Bot(TG_BOT_TOKEN, session=session)


@pytest.fixture
def service() -> FakeConversationHandler:
    return FakeConversationHandler()


@pytest.fixture
def sleep() -> SleepRecorder:
    return SleepRecorder()


@pytest.fixture
def sender(bot: Bot, service: FakeConversationHandler, sleep: SleepRecorder) -> ReplySender:
    return ReplySender(bot, service, sleep=sleep)


@pytest.fixture
def dispatcher(service: FakeConversationHandler, sender: ReplySender) -> Dispatcher:
    dispatcher = Dispatcher(service=service, sender=sender)
    dispatcher.include_router(build_citizen_router())
    return dispatcher


@pytest.fixture
def to_update(bot: Bot):
    def convert(raw: dict[str, Any]) -> Update:
        return Update.model_validate(raw, context={"bot": bot})

    return convert
