"""Fixtures for tests of the fake Bot API's operator group: the fake with one forum
supergroup (``GROUP``) and no flood limits, and aiogram's own client talking to it."""

import contextlib
from collections.abc import AsyncIterator

import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiohttp import web

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


async def topic(bot: Bot) -> int:
    """A new topic in ``GROUP``: its thread id."""
    return (await bot.create_forum_topic(GROUP, "Обращение")).message_thread_id


@contextlib.asynccontextmanager
async def serving(app: web.Application) -> AsyncIterator[str]:
    """``app`` on a free port of 127.0.0.1 (where the fake fetches URLs): its base URL."""
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()
