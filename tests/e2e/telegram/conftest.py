import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bots.conversation import ConversationHandler, ConversationService
from bots.inbox import InboxPolicy
from bots.outbox import OutboxPolicy
from bots.telegram.runner import RunOptions, run_telegram
from core import migrate
from core.db import SessionFactory, create_engine, create_session_factory
from core.inbox import InboxRepository
from core.metrics import Metrics
from core.outbox import OutboxRepository
from core.settings import Settings
from tests.fakes import EchoDialogue, conversation_service
from tools.fake_telegram import DEFAULT_TOKEN, FakeTelegram

FAST = RunOptions(
    poll_timeout=10,
    inbox=InboxPolicy(base_delay=0.05, max_delay=0.5, poll_interval=0.1, grace=2.0),
    outbox=OutboxPolicy(base_delay=0.05, max_delay=0.5, sweep_interval=0.1, grace=2.0),
)


@dataclass
class RunningBot:
    task: asyncio.Task[None]
    stop: asyncio.Event

    async def shutdown(self) -> None:
        self.stop.set()
        await asyncio.wait_for(self.task, 15)

    async def crash(self) -> None:
        """Die without the orderly stop: whatever was in flight is left as it was."""
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task

    def alive(self) -> bool:
        return not self.task.done()


StartBot = Callable[..., Awaitable[RunningBot]]


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'djinn.sqlite3'}")
    await migrate.upgrade(engine)
    yield engine
    await engine.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> SessionFactory:
    return create_session_factory(engine)


@pytest.fixture
def inbox(sessions: SessionFactory) -> InboxRepository:
    return InboxRepository(sessions)


@pytest.fixture
def outbox(sessions: SessionFactory) -> OutboxRepository:
    return OutboxRepository(sessions)


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(webhook_retry_delay=0.05) as fake:
        yield fake


@pytest.fixture
def dialogue() -> EchoDialogue:
    return EchoDialogue()


@pytest.fixture
def service(sessions: SessionFactory, dialogue: EchoDialogue) -> ConversationService:
    return conversation_service(sessions, dialogue)


def fake_api_values(tg: FakeTelegram) -> dict[str, object]:
    """The settings that point a polling bot at the fake Bot API."""
    return {
        "telegram_bot_token": DEFAULT_TOKEN,
        "telegram_api_url": tg.api_url,
        "telegram_mode": "polling",
    }


def make_settings(tg: FakeTelegram, tmp_path: Path, **overrides: object) -> Settings:
    values = {"data_dir": tmp_path, **fake_api_values(tg), **overrides}
    return Settings(_env_file=None, **values)


@pytest.fixture
def settings(tg: FakeTelegram, tmp_path: Path) -> Settings:
    return make_settings(tg, tmp_path)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def webhook_settings(tg: FakeTelegram, tmp_path: Path) -> Settings:
    port = free_port()
    return make_settings(
        tg,
        tmp_path,
        telegram_mode="webhook",
        telegram_webhook_url=f"http://127.0.0.1:{port}/telegram/webhook",
        telegram_webhook_secret="s3cret-Token_1",
        telegram_webhook_host="127.0.0.1",
        telegram_webhook_port=port,
    )


@pytest.fixture
async def start_bot(
    settings: Settings,
    service: ConversationService,
    inbox: InboxRepository,
    outbox: OutboxRepository,
) -> AsyncIterator[StartBot]:
    running: list[RunningBot] = []

    async def start(
        *,
        settings: Settings = settings,
        handler: ConversationHandler = service,
        inbox: InboxRepository = inbox,
        outbox: OutboxRepository = outbox,
        options: RunOptions = FAST,
        metrics: Metrics | None = None,
    ) -> RunningBot:
        stop = asyncio.Event()
        task = asyncio.create_task(
            run_telegram(settings, handler, inbox, outbox, stop, options=options, metrics=metrics)
        )
        running.append(RunningBot(task, stop))
        return running[-1]

    yield start
    for bot in running:
        if bot.alive():
            await bot.shutdown()
        if not bot.task.cancelled():
            bot.task.result()  # a crashed runner fails the test that started it
