from typing import Any

import pytest
from aiogram import Bot, Dispatcher
from aiogram.types import Update

from bots.telegram.citizen import build_citizen_router
from tests.factories import TG_BOT_TOKEN
from tests.fakes import FakeConversationHandler, RecordingOutbox
from tests.unit.telegram.doubles import RecordingSession


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
def outbox() -> RecordingOutbox:
    return RecordingOutbox()


@pytest.fixture
def dispatcher(service: FakeConversationHandler, outbox: RecordingOutbox) -> Dispatcher:
    dispatcher = Dispatcher(service=service, outbox=outbox)
    dispatcher.include_router(build_citizen_router())
    return dispatcher


@pytest.fixture
def to_update(bot: Bot):
    def convert(raw: dict[str, Any]) -> Update:
        return Update.model_validate(raw, context={"bot": bot})

    return convert
