import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from bots.conversation import ConversationHandler, ConversationService
from bots.inbox import InboxPolicy
from bots.max.runner import MaxRunOptions, run_max
from bots.outbox import OutboxPolicy
from bots.polling import Backoff
from core import migrate
from core.db import SessionFactory, create_engine, create_session_factory
from core.inbox import InboxRepository
from core.models import InboxUpdate
from core.outbox import OutboxRepository
from core.settings import MaxMode, Settings
from tests.fakes import EchoDialogue, conversation_service
from tools.fake_max import FakeMax

FAST = MaxRunOptions(
    poll_wait=1,
    poll_backoff=Backoff(base=0.01, limit=0.5),
    inbox=InboxPolicy(base_delay=0.05, max_delay=0.5, poll_interval=0.1, grace=2.0),
    outbox=OutboxPolicy(base_delay=0.05, max_delay=0.5, sweep_interval=0.1, grace=2.0, rate=20.0),
)


class RunningMaxBot:
    """`run_max` as a task; leaving the block stops it the way the CLI does."""

    def __init__(
        self,
        fake: FakeMax,
        settings: Settings,
        handler: ConversationHandler,
        inbox: InboxRepository,
        outbox: OutboxRepository,
    ) -> None:
        self.fake = fake
        self.settings = settings
        self.handler = handler
        self.inbox = inbox
        self.outbox = outbox
        self.stop = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> "RunningMaxBot":
        self.task = asyncio.create_task(
            run_max(self.settings, self.handler, self.inbox, self.outbox, self.stop, options=FAST)
        )
        if self.settings.max_mode is MaxMode.POLLING:
            await self.fake.wait_until(
                lambda: bool(self.fake.requests("GET /updates")) or not self.alive
            )
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.shutdown()

    async def shutdown(self) -> None:
        assert self.task is not None
        if self.task.done():
            if not self.task.cancelled():
                self.task.result()
            return
        self.stop.set()
        async with asyncio.timeout(10):
            await self.task

    async def crash(self) -> None:
        assert self.task is not None
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task

    @property
    def alive(self) -> bool:
        return self.task is not None and not self.task.done()


@pytest.fixture
async def fake() -> AsyncIterator[FakeMax]:
    async with FakeMax() as server:
        yield server


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


@pytest.fixture
def inbox_rows(sessions: SessionFactory):
    async def rows() -> list[InboxUpdate]:
        async with sessions() as session:
            query = select(InboxUpdate).order_by(InboxUpdate.id)
            return list((await session.scalars(query)).all())

    return rows
