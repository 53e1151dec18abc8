from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bots.conversation import ConversationHandler
from bots.max.runner import run_max
from core.inbox import InboxRepository
from core.outbox import OutboxRepository
from core.settings import MaxMode, Settings
from tests.e2e import channel_bot
from tests.e2e.channel_bot import RunningBot, fast_options
from tools.fake_max import FakeMax

FAST = fast_options(send_rate=20.0, poll_wait=1)

# The database, inbox, outbox and conversation service the runner works over.
sessions = channel_bot.sessions
inbox = channel_bot.inbox
outbox = channel_bot.outbox
dialogue = channel_bot.dialogue
handler = channel_bot.handler
inbox_rows = channel_bot.inbox_rows


class RunningMaxBot(RunningBot):
    """`run_max` as a task; leaving the block stops it the way the CLI does."""

    def __init__(
        self,
        fake: FakeMax,
        settings: Settings,
        handler: ConversationHandler,
        inbox: InboxRepository,
        outbox: OutboxRepository,
    ) -> None:
        super().__init__(run_max, FAST, settings, handler, inbox, outbox)
        self.fake = fake

    async def ready(self) -> None:
        if self.settings.max_mode is MaxMode.POLLING:
            await self.fake.wait_until(
                lambda: bool(self.fake.requests("GET /updates")) or not self.alive
            )


@pytest.fixture
async def fake() -> AsyncIterator[FakeMax]:
    async with FakeMax() as server:
        yield server


def fake_api_values(fake: FakeMax) -> dict[str, object]:
    """The settings that point a polling bot at the fake MAX API."""
    return {"max_bot_token": fake.token, "max_api_url": fake.url, "max_mode": MaxMode.POLLING}


@pytest.fixture
def settings(fake: FakeMax, tmp_path: Path) -> Settings:
    return Settings(_env_file=None, data_dir=tmp_path, **fake_api_values(fake))


@pytest.fixture
async def bot(fake, settings, handler, inbox, outbox) -> AsyncIterator[RunningMaxBot]:
    async with RunningMaxBot(fake, settings, handler, inbox, outbox) as running:
        yield running
