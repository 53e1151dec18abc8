"""Fixtures for tests of the fake Bot API's operator group: the fake with one forum
supergroup (``GROUP``) and no flood limits, and aiogram's own client talking to it."""

from collections.abc import AsyncIterator

import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer

from tools.fake_telegram import DEFAULT_TOKEN, FakeTelegram

GROUP = -1001234567890


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(rate_limits=None) as fake:
        fake.operator_group(GROUP)
        yield fake


@pytest.fixture
async def bot(tg: FakeTelegram) -> AsyncIterator[Bot]:
    async with Bot(DEFAULT_TOKEN, session=AiohttpSession(api=from_base(tg))) as client:
        yield client


def from_base(tg: FakeTelegram) -> TelegramAPIServer:
    return TelegramAPIServer.from_base(tg.api_url)
