import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from bots.conversation import ConversationHandler, ConversationService
from bots.vk.callback_api import CALLBACK_PATH
from bots.vk.runner import run_vk
from core.inbox import InboxRepository
from core.outbox import OutboxRepository
from core.settings import Settings, VkMode
from tests.e2e import channel_bot
from tests.e2e.channel_bot import RunningBot, fast_options
from tools.fake_vk import FakeVk

FAST = fast_options(send_rate=15.0)

# The database, inbox, outbox and conversation service the runner works over.
sessions = channel_bot.sessions
inbox = channel_bot.inbox
outbox = channel_bot.outbox
dialogue = channel_bot.dialogue
handler = channel_bot.handler
inbox_rows = channel_bot.inbox_rows


class RunningVkBot(RunningBot):
    """`run_vk` as a task; leaving the block stops it the way the CLI does."""

    def __init__(
        self,
        vk: FakeVk,
        settings: Settings,
        handler: ConversationHandler,
        inbox: InboxRepository,
        outbox: OutboxRepository,
    ) -> None:
        super().__init__(run_vk, FAST, settings, handler, inbox, outbox)
        self.vk = vk

    @property
    def callback_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.vk_callback_port}{CALLBACK_PATH}"

    async def ready(self) -> None:
        """Like VK, the fake only delivers to a bot that is listening."""
        if self.settings.vk_mode is VkMode.CALLBACK:
            await self._accepting_connections()
            return
        polls = len(self.vk.calls("longpoll"))
        await self.vk.wait_until(lambda: len(self.vk.calls("longpoll")) > polls or not self.alive)

    async def _accepting_connections(self) -> None:
        async with aiohttp.ClientSession() as session, asyncio.timeout(5):
            while self.alive:
                try:
                    async with session.post(self.callback_url, json={}):
                        return
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.01)


@pytest.fixture
async def vk() -> AsyncIterator[FakeVk]:
    async with FakeVk(token="vk-e2e-token", group_id=1000) as fake:
        yield fake


def fake_api_values(vk: FakeVk) -> dict[str, object]:
    """The settings that point a long-poll bot at the fake VK API."""
    return {
        "vk_group_token": vk.token,
        "vk_group_id": vk.group_id,
        "vk_api_url": vk.api_url,
        "vk_mode": VkMode.LONGPOLL,
    }


@pytest.fixture
def settings(vk: FakeVk, tmp_path: Path) -> Settings:
    return Settings(_env_file=None, data_dir=tmp_path, **fake_api_values(vk))


@pytest.fixture
def run_bot(
    vk: FakeVk,
    settings: Settings,
    handler: ConversationService,
    inbox: InboxRepository,
    outbox: OutboxRepository,
):
    """Build a bot to run with ``async with``; handler, inbox, outbox and settings
    overrides are optional."""

    def build(
        bot_handler: ConversationHandler = handler,
        *,
        inbox: InboxRepository = inbox,
        outbox: OutboxRepository = outbox,
        **overrides: object,
    ) -> RunningVkBot:
        bot_settings = Settings(_env_file=None, **{**dict(settings), **overrides})
        return RunningVkBot(vk, bot_settings, bot_handler, inbox, outbox)

    return build


@pytest.fixture
async def bot(vk, settings, handler, inbox, outbox) -> AsyncIterator[RunningVkBot]:
    async with RunningVkBot(vk, settings, handler, inbox, outbox) as running:
        yield running
