"""Fixtures of the fault tests: the fakes, a private Redis, the question pool and a
factory for the bot process and its run."""

from __future__ import annotations

import os
import random
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_coroutine
from tests.e2e.faults.bot import BotProcess, bot_environment
from tests.e2e.faults.database import Stored, stored_in_sqlite
from tests.e2e.faults.pool import PoolEntry, answerable_entries
from tests.e2e.faults.redis_server import RedisServer
from tests.e2e.faults.scenario import Run
from tests.e2e.faults.traffic import Chat, TelegramChat, Traffic, VkChat, plan_traffic
from tests.rasa_fixtures import free_port
from tools.fake_telegram import DEFAULT_TOKEN, FakeTelegram
from tools.fake_vk import FakeVk

MIN_POOL = 12


@pytest.fixture(scope="session")
def faq_pool(demo_template: Path, embedder) -> list[PoolEntry]:
    pool = run_coroutine(lambda: answerable_entries(demo_template, embedder))
    assert len(pool) >= MIN_POOL, f"only {len(pool)} demo FAQ entries answer unambiguously"
    return pool


@pytest.fixture
def seed(request: pytest.FixtureRequest) -> int:
    """DJINN_FAULTS_SEED replays a run; by default each test has its own fixed seed."""
    chosen = os.environ.get("DJINN_FAULTS_SEED")
    return int(chosen) if chosen else zlib.crc32(request.node.name.encode())


@pytest.fixture
async def redis_server(tmp_path: Path) -> AsyncIterator[RedisServer]:
    """Every bot gets this Redis, so that no embedded one outlives a killed bot."""
    server = RedisServer(tmp_path / "redis", free_port())
    await server.start()
    yield server
    await server.kill()


@dataclass
class Channel:
    fake: Any  # FakeTelegram or FakeVk
    chat: Chat
    env: dict[str, str]  # what the bot needs to reach the fake


@pytest.fixture
async def telegram() -> AsyncIterator[Channel]:
    async with FakeTelegram() as fake:
        env = {"TELEGRAM_BOT_TOKEN": DEFAULT_TOKEN, "TELEGRAM_API_URL": fake.api_url}
        yield Channel(fake, TelegramChat(fake), env)


@pytest.fixture
async def vk() -> AsyncIterator[Channel]:
    async with FakeVk() as fake:
        env = {
            "VK_GROUP_TOKEN": fake.token,
            "VK_GROUP_ID": str(fake.group_id),
            "VK_API_URL": fake.api_url,
        }
        yield Channel(fake, VkChat(fake), env)


@pytest.fixture(params=["telegram", "vk"])
def channel(request: pytest.FixtureRequest) -> Channel:
    return request.getfixturevalue(request.param)


MakeRun = Callable[..., Run]


@pytest.fixture
async def make_run(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    seed: int,
    faq_pool: list[PoolEntry],
    redis_server: RedisServer,
) -> AsyncIterator[MakeRun]:
    """``make_run(channel, data_dir, spread=..., stored=..., pool=..., **env)``."""
    bots: list[BotProcess] = []

    def make(
        channel: Channel,
        data_dir: Path,
        *,
        spread: float,
        stored: Callable[[], Awaitable[Stored]] | None = None,
        pool: list[PoolEntry] | None = None,
        **env: str,
    ) -> Run:
        environment = bot_environment(data_dir, redis_server.url, **channel.env, **env)
        name = channel.chat.name
        bot = BotProcess(name, environment, tmp_path / f"bot-{name}.log")
        bots.append(bot)
        plans = plan_traffic(
            pool or faq_pool, random.Random(seed), channel.chat.first_citizen, spread=spread
        )
        return Run(
            name=request.node.name,
            seed=seed,
            bot=bot,
            traffic=Traffic(channel.chat, plans),
            stored=stored or (lambda: stored_in_sqlite(data_dir / "djinn.sqlite3")),
        )

    yield make
    for bot in bots:
        await bot.close()
