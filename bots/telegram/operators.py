"""The operator group's side of the handoff queue: each escalated conversation gets one
forum topic that opens with a card, and what the citizen writes afterwards follows in it.

`OperatorDesk` applies handoff events (`handoff.queue.EventHandler`). The consumer holds
the conversation's lock while it does, so ten messages arriving at once never create two
topics. Everything posted into the group is paced under Telegram's limit for one group
(about 20 messages a minute) and waits out a 429; a topic deleted by hand is created
again, with a new card, when the conversation next needs it.

A topic created just before a crash, and not yet recorded, is created again (Telegram
gives no idempotency key); the window is one API call wide.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from aiogram import Bot
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bots.outbox import Pacer
from core.db import SessionFactory
from core.domain import Channel, MessageKind
from core.models import Message, OperatorTopic, utcnow
from handoff.cards import (
    Digest,
    Mark,
    card_text,
    describe,
    initial_mark,
    load_digest,
    topic_name,
)
from handoff.events import EventKind, StoredEvent
from handoff.queue import TemporaryFailure

log = logging.getLogger(__name__)

T = TypeVar("T")

# Telegram allows about 20 messages a minute into one group; one fewer leaves a margin.
GROUP_RATE = 19
GROUP_WINDOW = 60.0
RETRY_AFTER_LIMIT = 3600.0  # a 429 asking longer than this is not waited out in place


@dataclass(frozen=True, slots=True)
class TopicRef:
    thread_id: int
    name: str
    card_event_id: int | None


class ThreadGone(Exception):
    """The conversation's topic no longer exists in the group."""


class OperatorDesk:
    """Applies handoff events in one Telegram operator group."""

    def __init__(
        self,
        bot: Bot,
        sessions: SessionFactory,
        group_id: int,
        pacer: Pacer | None = None,
    ) -> None:
        self._bot = bot
        self._sessions = sessions
        self._group = group_id
        self._pacer = pacer or Pacer(GROUP_RATE, window=GROUP_WINDOW)

    async def apply(self, event: StoredEvent) -> None:
        try:
            if event.kind == EventKind.REQUESTED:
                await self._in_topic(event, None)
            elif event.kind == EventKind.CITIZEN_MESSAGE:
                await self._in_topic(event, self._relay_message)
            elif event.kind == EventKind.CANCELLED:
                await self._note(event, "↩️ Гражданин отозвал запрос оператора.", Mark.WITHDRAWN)
            elif event.kind == EventKind.PRIORITY:
                await self._note(event, "🔥 Обращение стало срочным.", Mark.URGENT)
        except (TelegramNetworkError, TelegramServerError) as error:
            raise TemporaryFailure(f"Telegram: {type(error).__name__}") from error

    # --- topics ---

    async def _in_topic(
        self,
        event: StoredEvent,
        then: Callable[[StoredEvent, int], Awaitable[None]] | None,
    ) -> None:
        """Make sure the conversation has its topic with a card, then do ``then`` in it;
        a topic deleted by hand is created again (once per event)."""
        for _ in range(2):
            topic, digest = await self._topic(event)
            try:
                if topic.card_event_id is None or (
                    event.kind == EventKind.REQUESTED and topic.card_event_id < event.id
                ):
                    await self._post_card(event, topic, digest)
                if then is not None:
                    await then(event, topic.thread_id)
                return
            except ThreadGone:
                log.info(
                    "conversation %s: its topic was deleted; a new one", event.conversation_id
                )
                await self._forget_topic(event.conversation_id)
        raise TemporaryFailure("the topic disappeared twice in a row")

    async def _topic(self, event: StoredEvent) -> tuple[TopicRef, Digest | None]:
        """The conversation's topic, created when it has none (then with the digest its
        name was made from, for the card)."""
        async with self._sessions() as session:
            row = await _topic_row(session, event.conversation_id)
            if row is not None:
                return TopicRef(row.thread_id, row.name, row.card_event_id), None
            digest = await load_digest(session, event.conversation_id)
        name = topic_name(digest, initial_mark(digest))
        created = await self._call(lambda: self._bot.create_forum_topic(self._group, name))
        async with self._sessions.begin() as session:
            session.add(
                OperatorTopic(
                    conversation_id=event.conversation_id,
                    group_chat_id=str(self._group),
                    thread_id=created.message_thread_id,
                    name=name,
                )
            )
        log.info(
            "conversation %s: topic %s created", event.conversation_id, created.message_thread_id
        )
        return TopicRef(created.message_thread_id, name, None), digest

    async def _forget_topic(self, conversation_id: int) -> None:
        async with self._sessions.begin() as session:
            await session.execute(
                delete(OperatorTopic).where(OperatorTopic.conversation_id == conversation_id)
            )

    async def _update_topic(self, conversation_id: int, **values: object) -> None:
        async with self._sessions.begin() as session:
            await session.execute(
                update(OperatorTopic)
                .where(OperatorTopic.conversation_id == conversation_id)
                .values(updated_at=utcnow(), **values)
            )

    async def _post_card(self, event: StoredEvent, topic: TopicRef, digest: Digest | None) -> None:
        if digest is None:
            async with self._sessions() as session:
                digest = await load_digest(session, event.conversation_id)
        card = await self._send(topic.thread_id, card_text(digest))
        await self._update_topic(
            event.conversation_id, card_message_id=card, card_event_id=event.id
        )

    async def _rename(self, conversation_id: int, topic: TopicRef, mark: str) -> None:
        async with self._sessions() as session:
            digest = await load_digest(session, conversation_id)
        name = topic_name(digest, mark)
        if name == topic.name:
            return
        try:
            await self._call(
                lambda: self._bot.edit_forum_topic(self._group, topic.thread_id, name=name)
            )
        except TelegramBadRequest as error:
            if "TOPIC_NOT_MODIFIED" not in error.message:
                raise
        await self._update_topic(conversation_id, name=name)

    async def _note(self, event: StoredEvent, text: str, mark: str) -> None:
        """A service note in an existing topic (no topic: the operators never saw it)."""
        async with self._sessions() as session:
            row = await _topic_row(session, event.conversation_id)
            if row is None:
                return
            topic = TopicRef(row.thread_id, row.name, row.card_event_id)
        try:
            await self._send(topic.thread_id, text)
            await self._rename(event.conversation_id, topic, mark)
        except ThreadGone:
            await self._forget_topic(event.conversation_id)

    # --- relaying ---

    async def _relay_message(self, event: StoredEvent, thread_id: int) -> None:
        message_id = event.payload.get("message_id")
        async with self._sessions() as session:
            message = await session.get(Message, message_id) if message_id else None
        if message is None:
            return  # the message was deleted (the citizen asked to erase their data)
        kind = MessageKind(message.kind)
        if message.channel == Channel.TELEGRAM and kind not in (
            MessageKind.TEXT,
            MessageKind.COMMAND,
            MessageKind.BUTTON,
        ):
            source = _telegram_message_id(message.dedup_key)
            if source is not None:
                await self._copy(thread_id, int(message.chat_id), source)
                return
        await self._send(thread_id, f"Гражданин: {describe(kind, message.text)}")

    # --- calls into the group ---

    async def _send(self, thread_id: int, text: str) -> int:
        sent = await self._call(
            lambda: self._bot.send_message(self._group, text, message_thread_id=thread_id),
            thread=True,
        )
        return sent.message_id

    async def _copy(self, thread_id: int, from_chat: int, message_id: int) -> None:
        await self._call(
            lambda: self._bot.copy_message(
                self._group, from_chat, message_id, message_thread_id=thread_id
            ),
            thread=True,
        )

    async def _call(self, call: Callable[[], Awaitable[T]], *, thread: bool = False) -> T:
        """One call into the group, paced; a 429 is waited out and the call repeated."""
        while True:
            await self._pacer.wait()
            try:
                return await call()
            except TelegramRetryAfter as error:
                if error.retry_after > RETRY_AFTER_LIMIT:
                    raise TemporaryFailure(
                        f"Telegram asks to wait {error.retry_after} s"
                    ) from error
                log.info("operator group: 429, waiting %s s", error.retry_after)
                await asyncio.sleep(error.retry_after)
            except TelegramBadRequest as error:
                if thread and "thread not found" in error.message:
                    raise ThreadGone from error
                raise


async def _topic_row(session: AsyncSession, conversation_id: int) -> OperatorTopic | None:
    return await session.scalar(
        select(OperatorTopic).where(OperatorTopic.conversation_id == conversation_id)
    )


def _telegram_message_id(dedup_key: str | None) -> int | None:
    """The citizen's message id in their chat, from the key ``<chat>:<message id>``."""
    if not dedup_key or ":" not in dedup_key:
        return None
    tail = dedup_key.rsplit(":", 1)[1]
    return int(tail) if tail.isdigit() else None
