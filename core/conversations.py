"""Citizens, conversations and messages in the database."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import SessionFactory
from core.domain import (
    Button,
    Channel,
    ConversationStatus,
    DeliveryStatus,
    Direction,
    IncomingMessage,
    MessageKind,
    Reply,
)
from core.models import Citizen, Conversation, Identity, Message, utcnow


@dataclass(frozen=True, slots=True)
class ConversationState:
    """A conversation as the services see it."""

    id: int
    identity_id: int
    channel: Channel
    chat_id: str
    status: ConversationStatus
    failed_attempts: int
    is_new: bool


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """An inbound message once it is durable."""

    id: int
    conversation: ConversationState


class ConversationRepository:
    """Stores what citizens send and what the bot answers."""

    def __init__(self, sessions: SessionFactory) -> None:
        self._sessions = sessions

    async def store_inbound(self, message: IncomingMessage) -> StoredMessage | None:
        """Make a citizen's message durable in its own transaction.

        Returns:
            The stored message and its open conversation, or None when a message with
            the same (channel, dedup_key) was stored before (a re-delivery).
        """
        try:
            async with self._sessions.begin() as session:
                if (
                    await session.scalar(
                        select(Message.id).where(
                            Message.channel == message.channel,
                            Message.dedup_key == message.dedup_key,
                        )
                    )
                    is not None
                ):
                    return None
                identity = await self._identity(session, message)
                conversation, is_new = await self._open_conversation(session, identity)
                row = Message(
                    conversation_id=conversation.id,
                    channel=message.channel,
                    direction=Direction.IN,
                    kind=message.kind,
                    dedup_key=message.dedup_key,
                    chat_id=message.chat_id,
                    text=message.text,
                    payload=message.payload,
                    attachments=list(message.attachments) or None,
                    created_at=message.sent_at or utcnow(),
                )
                session.add(row)
                await session.flush()
                return StoredMessage(row.id, _state(conversation, message.chat_id, is_new))
        except IntegrityError:
            return None

    async def _identity(self, session: AsyncSession, message: IncomingMessage) -> Identity:
        identity = await session.scalar(
            select(Identity).where(
                Identity.channel == message.channel, Identity.external_id == message.user_id
            )
        )
        if identity is None:
            citizen = Citizen()
            session.add(citizen)
            await session.flush()
            identity = Identity(
                citizen_id=citizen.id,
                channel=message.channel,
                external_id=message.user_id,
                chat_id=message.chat_id,
            )
            session.add(identity)
        identity.chat_id = message.chat_id
        identity.display_name = message.display_name or identity.display_name or None
        identity.username = message.username or identity.username
        identity.language_code = message.language_code or identity.language_code
        identity.last_seen_at = utcnow()
        identity.blocked_at = None  # writing to us means they can hear us again
        await session.flush()
        return identity

    async def _open_conversation(
        self, session: AsyncSession, identity: Identity
    ) -> tuple[Conversation, bool]:
        conversation = await session.scalar(
            select(Conversation)
            .where(
                Conversation.identity_id == identity.id,
                Conversation.status != ConversationStatus.CLOSED,
            )
            .order_by(Conversation.id.desc())
            .limit(1)
        )
        if conversation is not None:
            return conversation, False
        conversation = Conversation(
            identity_id=identity.id,
            channel=identity.channel,
            status=ConversationStatus.BOT,
            failed_attempts=0,
        )
        session.add(conversation)
        await session.flush()
        return conversation, True

    @staticmethod
    def outbound_rows(conversation_id: int, replies: Sequence[Reply]) -> list[Message]:
        """Outbox rows for ``replies`` (added by the caller inside its transaction)."""
        return [
            Message(
                conversation_id=conversation_id,
                channel=reply.channel,
                direction=Direction.OUT,
                kind=MessageKind.TEXT,
                chat_id=reply.chat_id,
                text=reply.text,
                buttons=[
                    [{"text": b.text, "payload": b.payload} for b in row] for row in reply.buttons
                ]
                or None,
                delivery_status=DeliveryStatus.PENDING,
            )
            for reply in replies
        ]

    async def record_delivery(
        self,
        outbox_id: int,
        status: DeliveryStatus,
        external_id: str | None,
        error: str | None,
    ) -> None:
        async with self._sessions.begin() as session:
            row = await session.get(Message, outbox_id)
            if row is None or row.direction != Direction.OUT:
                return
            row.delivery_status = status
            row.attempts += 1
            row.external_id = external_id or row.external_id
            row.delivery_error = error[:2000] if error else None
            if status == DeliveryStatus.SENT:
                row.delivered_at = utcnow()
            if status == DeliveryStatus.BLOCKED:
                conversation = await session.get(Conversation, row.conversation_id)
                if conversation is not None:
                    await session.execute(
                        update(Identity)
                        .where(Identity.id == conversation.identity_id)
                        .values(blocked_at=utcnow())
                    )

    async def pending(self, channel: Channel, max_age: timedelta) -> list[Reply]:
        """Undelivered replies younger than ``max_age``, oldest first."""
        since: datetime = utcnow() - max_age
        async with self._sessions() as session:
            rows = (
                await session.scalars(
                    select(Message)
                    .where(
                        Message.channel == channel,
                        Message.direction == Direction.OUT,
                        Message.delivery_status == DeliveryStatus.PENDING,
                        Message.created_at >= since,
                    )
                    .order_by(Message.id)
                )
            ).all()
            return [_reply(row) for row in rows]


def _state(conversation: Conversation, chat_id: str, is_new: bool) -> ConversationState:
    return ConversationState(
        id=conversation.id,
        identity_id=conversation.identity_id,
        channel=Channel(conversation.channel),
        chat_id=chat_id,
        status=ConversationStatus(conversation.status),
        failed_attempts=conversation.failed_attempts,
        is_new=is_new,
    )


def _reply(row: Message) -> Reply:
    buttons = tuple(tuple(Button(b["text"], b["payload"]) for b in r) for r in row.buttons or ())
    return Reply(
        channel=Channel(row.channel),
        chat_id=row.chat_id,
        text=row.text,
        buttons=buttons,
        outbox_id=row.id,
    )
