"""What the end-to-end tests of a channel runner (VK, MAX) share: the runner as a task
that a test stops the way the CLI does or kills, and the database, inbox, outbox and
conversation service it runs over (fixtures a channel's conftest imports)."""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Self

import pytest
from sqlalchemy import select

from bots.conversation import ConversationHandler, ConversationService
from bots.inbox import InboxPolicy
from bots.loops import RunOptions
from bots.outbox import OutboxPolicy
from bots.polling import Backoff
from core import migrate
from core.db import SessionFactory, create_engine, create_session_factory
from core.inbox import InboxRepository
from core.models import InboxUpdate
from core.outbox import OutboxRepository
from core.settings import Settings
from tests.fakes import EchoDialogue, conversation_service

Runner = Callable[..., Awaitable[None]]


def fast_options(send_rate: float, poll_wait: int | None = None) -> RunOptions:
    """Retries, sweeps and backoffs short enough for a test, at the channel's rate."""
    return RunOptions(
        poll_wait=poll_wait,
        poll_backoff=Backoff(base=0.01, limit=0.5),
        inbox=InboxPolicy(base_delay=0.05, max_delay=0.5, poll_interval=0.1, grace=2.0),
        outbox=OutboxPolicy(
            base_delay=0.05, max_delay=0.5, sweep_interval=0.1, grace=2.0, rate=send_rate
        ),
    )


class RunningBot:
    """A channel's runner (`run_vk`, `run_max`) as a task; leaving the block stops it
    the way the CLI does. A channel's subclass waits in `ready` until the fake platform
    sees the bot listening."""

    def __init__(
        self,
        run: Runner,
        options: RunOptions,
        settings: Settings,
        handler: ConversationHandler,
        inbox: InboxRepository,
        outbox: OutboxRepository,
    ) -> None:
        self._run = run
        self._options = options
        self.settings = settings
        self.handler = handler
        self.inbox = inbox
        self.outbox = outbox
        self.stop = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Self:
        self.task = asyncio.create_task(
            self._run(
                self.settings, self.handler, self.inbox, self.outbox, self.stop,
                options=self._options,
            )
        )  # fmt: skip
        await self.ready()
        return self

    async def ready(self) -> None:
        """Return once the bot receives updates."""

    async def __aexit__(self, *exc: object) -> None:
        await self.shutdown()

    async def shutdown(self) -> None:
        """The orderly stop: in-flight updates finish and deliveries are recorded."""
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


@pytest.fixture
def inbox_rows(sessions: SessionFactory):
    async def rows() -> list[InboxUpdate]:
        async with sessions() as session:
            query = select(InboxUpdate).order_by(InboxUpdate.id)
            return list((await session.scalars(query)).all())

    return rows
