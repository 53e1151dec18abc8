import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select

from bots.conversation import ConversationHandler, ConversationService
from bots.inbox import InboxPolicy
from bots.outbox import OutboxPolicy
from bots.polling import Backoff
from bots.vk.callback_api import CALLBACK_PATH
from bots.vk.runner import VkRunOptions, run_vk
from core import migrate
from core.db import SessionFactory, create_engine, create_session_factory
from core.inbox import InboxRepository
from core.models import InboxUpdate
from core.outbox import OutboxRepository
from core.settings import Settings, VkMode
from tests.fakes import EchoDialogue, conversation_service
from tools.fake_vk import FakeVk

FAST = VkRunOptions(
    poll_backoff=Backoff(base=0.01),
    inbox=InboxPolicy(base_delay=0.05, max_delay=0.5, poll_interval=0.1, grace=2.0),
    outbox=OutboxPolicy(base_delay=0.05, max_delay=0.5, sweep_interval=0.1, grace=2.0, rate=15.0),
)


class RunningVkBot:
    """`run_vk` as a task; leaving the block stops it the way the CLI does."""

    def __init__(
        self,
        vk: FakeVk,
        settings: Settings,
        handler: ConversationHandler,
        inbox: InboxRepository,
        outbox: OutboxRepository,
    ) -> None:
        self.vk = vk
        self.settings = settings
        self.handler = handler
        self.inbox = inbox
        self.outbox = outbox
        self.stop = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> "RunningVkBot":
        self.task = asyncio.create_task(
            run_vk(self.settings, self.handler, self.inbox, self.outbox, self.stop, options=FAST)
        )
        await self._ready()
        return self

    @property
    def callback_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.vk_callback_port}{CALLBACK_PATH}"

    async def _ready(self) -> None:
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

    async def __aexit__(self, *exc: object) -> None:
        await self.shutdown()

    async def shutdown(self) -> None:
        """The orderly stop: in-flight events finish and deliveries are recorded."""
        assert self.task is not None
        if self.task.done():
            if not self.task.cancelled():
                self.task.result()
            return
        self.stop.set()
        async with asyncio.timeout(10):
            await self.task

    async def crash(self) -> None:
        """Die without the orderly stop: whatever was in flight is left as it was."""
        assert self.task is not None
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task

    @property
    def alive(self) -> bool:
        return self.task is not None and not self.task.done()


@pytest.fixture
async def vk() -> AsyncIterator[FakeVk]:
    async with FakeVk(token="vk-e2e-token", group_id=1000) as fake:
        yield fake


@pytest.fixture
async def sessions(tmp_path: Path) -> AsyncIterator[SessionFactory]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'djinn.sqlite3'}")
    await migrate.upgrade(engine)
    yield create_session_factory(engine)
    await engine.dispose()


@pytest.fixture
def inbox(sessions: SessionFactory) -> InboxRepository:
    return InboxRepository(sessions)


@pytest.fixture
def outbox(sessions: SessionFactory) -> OutboxRepository:
    return OutboxRepository(sessions)


@pytest.fixture
def dialogue() -> EchoDialogue:
    return EchoDialogue()


@pytest.fixture
def handler(sessions: SessionFactory, dialogue: EchoDialogue) -> ConversationService:
    return conversation_service(sessions, dialogue)


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


@pytest.fixture
def inbox_rows(sessions: SessionFactory):
    async def rows() -> list[InboxUpdate]:
        async with sessions() as session:
            query = select(InboxUpdate).order_by(InboxUpdate.id)
            return list((await session.scalars(query)).all())

    return rows
