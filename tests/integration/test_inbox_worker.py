"""The inbox worker with the real conversation service and database: failed turns
retried in the running process, the last failure apologised for, a poison update set
aside without holding up the others, and crash-looping updates bounded."""

import asyncio

from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from bots.inbox import InboxPolicy, InboxWorker
from core.db import SessionFactory
from core.domain import Channel, ConversationStatus, IncomingMessage, MessageKind
from core.inbox import InboxItem, InboxRepository, InboxStatus
from core.models import Conversation, Identity, InboxUpdate
from nlu import texts
from tests.factories import dead_worker
from tests.fakes import EchoDialogue, conversation_service, outbound, wait_for

POLICY = InboxPolicy(attempts=3, base_delay=0.05, max_delay=0.2, poll_interval=0.05, grace=1)


class PoisonDialogue(EchoDialogue):
    """Fails every turn of a text starting with ``яд`` (a poison message)."""

    async def respond(self, turn):
        if turn.text.startswith("яд"):
            raise ValueError("this message breaks the turn")
        return await super().respond(turn)


class PlainUpdates:
    """A channel whose updates are ``{"chat": ..., "text": ...}``."""

    def __init__(self, service) -> None:
        self.service = service
        self.woken: list[str] = []

    def chat_of(self, item: InboxItem) -> str:
        return str(item.payload["chat"])

    def message_of(self, item: InboxItem) -> IncomingMessage | None:
        return IncomingMessage(
            channel=Channel.TELEGRAM,
            dedup_key=item.update_key,
            user_id=str(item.payload["chat"]),
            chat_id=str(item.payload["chat"]),
            kind=MessageKind.TEXT,
            text=item.payload["text"],
        )

    async def process(self, item: InboxItem) -> InboxStatus:
        message = self.message_of(item)
        assert message is not None
        if await self.service.handle(message):
            self.woken.append(message.chat_id)
        return InboxStatus.DONE


async def statuses(sessions: SessionFactory) -> dict[str, tuple[str, int]]:
    async with sessions() as session:
        rows = (await session.scalars(select(InboxUpdate))).all()
    return {r.update_key: (r.status, r.attempts) for r in rows}


async def run_worker(worker: InboxWorker, until) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        await wait_for(until)
    finally:
        stop.set()
        await task


async def test_a_poison_update_is_retried_then_set_aside_with_an_apology(sessions):
    service = conversation_service(sessions, PoisonDialogue())
    updates = PlainUpdates(service)
    inbox = InboxRepository(sessions)
    worker = InboxWorker("telegram", inbox, updates, service, updates.woken.append, POLICY)
    stored = await inbox.put_many(
        "telegram",
        [
            ("1", {"chat": 1001, "text": "яд: этот вопрос ломает бота"}),
            ("2", {"chat": 1001, "text": "а этот нет"}),
            ("3", {"chat": 2002, "text": "другой житель"}),
        ],
    )
    for item in stored:
        worker.submit(item)

    async def settled() -> bool:
        return all(s != InboxStatus.PENDING for s, _ in (await statuses(sessions)).values())

    await run_worker(worker, settled)
    found = await statuses(sessions)
    assert found == {
        "1": (InboxStatus.QUARANTINED, 3),
        "2": (InboxStatus.DONE, 1),
        "3": (InboxStatus.DONE, 1),
    }
    replies = [(r.chat_id, r.text) for r in await outbound(sessions)]
    assert ("1001", texts.TURN_FAILED) in replies
    assert ("1001", "Ответ на вопрос: а этот нет") in replies
    assert ("2002", "Ответ на вопрос: другой житель") in replies
    async with sessions() as session:
        conversation = await session.scalar(
            select(Conversation).join(Identity).where(Identity.chat_id == "1001")
        )
        error = await session.scalar(
            select(InboxUpdate.last_error).where(InboxUpdate.update_key == "1")
        )
    assert (conversation.status, conversation.status_reason) == (
        ConversationStatus.WAITING,
        "bot_failure",
    )
    assert "ValueError" in error


async def test_an_update_that_crashed_every_attempt_is_set_aside_without_another(sessions):
    """Before, an update whose handling killed the process was retried at every start
    without end."""
    service = conversation_service(sessions, EchoDialogue())
    updates = PlainUpdates(service)
    crashed = InboxRepository(sessions, dead_worker())
    [item] = await crashed.put_many("telegram", [("1", {"chat": 1001, "text": "вопрос"})])
    async with sessions.begin() as session:  # it was claimed, and crashed, every time
        row = await session.get(InboxUpdate, item.id)
        row.attempts = POLICY.attempts
    inbox = InboxRepository(sessions)
    worker = InboxWorker("telegram", inbox, updates, service, updates.woken.append, POLICY)

    async def settled() -> bool:
        return (await statuses(sessions))["1"][0] != InboxStatus.PENDING

    await run_worker(worker, settled)
    assert (await statuses(sessions))["1"] == (InboxStatus.QUARANTINED, POLICY.attempts + 1)
    assert [r.text for r in await outbound(sessions)] == [texts.TURN_FAILED]
    assert updates.woken == ["1001"]


async def test_an_update_is_set_aside_even_when_not_even_its_apology_can_be_stored(sessions):
    """The message itself cannot be stored (so neither can the apology): the update must
    still leave the backlog instead of coming back every lease."""

    class Unstorable(PlainUpdates):
        async def process(self, item: InboxItem) -> InboxStatus:
            raise ValueError("the database refuses this message")

    service = conversation_service(sessions, EchoDialogue())

    async def refuse(message, reason):
        raise ValueError("the database refuses this message")

    service.give_up = refuse  # type: ignore[method-assign]
    updates = Unstorable(service)
    inbox = InboxRepository(sessions)
    worker = InboxWorker("telegram", inbox, updates, service, updates.woken.append, POLICY)
    for item in await inbox.put_many("telegram", [("1", {"chat": 1001, "text": "вопрос"})]):
        worker.submit(item)

    async def settled() -> bool:
        return (await statuses(sessions))["1"][0] != InboxStatus.PENDING

    await run_worker(worker, settled)
    assert (await statuses(sessions))["1"] == (InboxStatus.QUARANTINED, POLICY.attempts)
    async with sessions() as session:
        error = await session.scalar(select(InboxUpdate.last_error))
    assert "no apology" in error


async def test_an_update_dropped_while_the_database_was_away_is_taken_again_at_once(sessions):
    """The turn and then giving the update back both fail (a PostgreSQL restart): the
    worker takes it again when the database answers, not when its 2-minute lease ends."""
    dialogue = EchoDialogue()
    dialogue.failures = 1
    service = conversation_service(sessions, dialogue)
    updates = PlainUpdates(service)
    inbox = InboxRepository(sessions, lease=120)
    retry_later = inbox.retry_later

    async def database_away(*args, **kwargs):
        inbox.retry_later = retry_later  # type: ignore[method-assign]
        raise OperationalError("UPDATE inbox_updates", {}, ConnectionRefusedError())

    inbox.retry_later = database_away  # type: ignore[method-assign]
    worker = InboxWorker("telegram", inbox, updates, service, updates.woken.append, POLICY)
    for item in await inbox.put_many("telegram", [("1", {"chat": 1001, "text": "вопрос"})]):
        worker.submit(item)

    async def answered() -> bool:
        return (await statuses(sessions))["1"][0] == InboxStatus.DONE

    async with asyncio.timeout(10):
        await run_worker(worker, answered)
    assert [r.text for r in await outbound(sessions)] == ["Ответ на вопрос: вопрос"]


async def test_a_database_that_cannot_be_reached_uses_up_no_attempts(sessions):
    """Turns failing because the database is away are retried as long as it takes: the
    citizen gets the answer, not the apology meant for a message that breaks the bot."""

    class Unreachable(EchoDialogue):
        async def respond(self, turn):
            if len(self.turns) < POLICY.attempts + 2:
                self.turns.append(turn)
                raise OperationalError("SELECT 1", {}, ConnectionRefusedError())
            return await super().respond(turn)

    dialogue = Unreachable()
    service = conversation_service(sessions, dialogue)
    updates = PlainUpdates(service)
    inbox = InboxRepository(sessions)
    worker = InboxWorker("telegram", inbox, updates, service, updates.woken.append, POLICY)
    for item in await inbox.put_many("telegram", [("1", {"chat": 1001, "text": "вопрос"})]):
        worker.submit(item)

    async def settled() -> bool:
        return (await statuses(sessions))["1"][0] != InboxStatus.PENDING

    await run_worker(worker, settled)
    assert (await statuses(sessions))["1"][0] == InboxStatus.DONE
    assert [r.text for r in await outbound(sessions)] == ["Ответ на вопрос: вопрос"]
