"""Citizens, conversations and messages in the database."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import SessionFactory
from core.domain import (
    Channel,
    ConversationStatus,
    DeliveryStatus,
    Direction,
    IncomingMessage,
    MessageKind,
    Reply,
)
from core.models import Citizen, Conversation, Identity, Message, as_utc, utcnow


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
    priority: int = 0
    banned: bool = False


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """An inbound message once it is durable; ``retry`` when an earlier attempt at
    its turn did not commit."""

    id: int
    conversation: ConversationState
    retry: bool = False


class ConversationRepository:
    """Stores what citizens send and what the bot answers."""

    def __init__(
        self, sessions: SessionFactory, reopen_window: timedelta = timedelta(hours=24)
    ) -> None:
        self._sessions = sessions
        self._reopen_window = reopen_window

    async def store_inbound(self, message: IncomingMessage) -> StoredMessage | None:
        """Make a citizen's message durable in its own transaction.

        Returns:
            The stored message and its open conversation; for a message stored before
            whose turn never committed (a crash or a failure in between), that message
            again with ``retry`` set; None when it was stored and answered before (a
            re-delivery).
        """
        try:
            async with self._sessions.begin() as session:
                earlier = await self._earlier(session, message)
                if earlier is not None:
                    return earlier or None
                identity = await self._identity(session, message)
                conversation, is_new = await self._open_conversation(session, identity, message)
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
                state = _state(
                    conversation, message.chat_id, is_new, identity.banned_at is not None
                )
                return StoredMessage(row.id, state)
        except IntegrityError:
            # Stored by a concurrent worker just now (its turn decides, or ours), or
            # refused for another reason: then the message is not stored at all.
            async with self._sessions() as session:
                earlier = await self._earlier(session, message)
            if earlier is None:
                raise
            return earlier or None

    async def _earlier(
        self, session: AsyncSession, message: IncomingMessage
    ) -> StoredMessage | Literal[False] | None:
        """The same message stored before: False when its turn committed, the stored
        message (to handle again) when not, None when it was never stored."""
        found = (
            await session.execute(
                select(Message.id, Message.handled_at, Conversation)
                .join(Conversation, Conversation.id == Message.conversation_id)
                .where(Message.channel == message.channel, Message.dedup_key == message.dedup_key)
            )
        ).first()
        if found is None:
            return None
        message_id, handled_at, conversation = found
        if handled_at is not None:
            return False
        banned = await session.scalar(
            select(Identity.banned_at.is_not(None)).where(Identity.id == conversation.identity_id)
        )
        state = _state(conversation, message.chat_id, is_new=False, banned=bool(banned))
        return StoredMessage(message_id, state, retry=True)

    @staticmethod
    async def mark_handled(session: AsyncSession, message_id: int) -> bool:
        """Claim the outcome of a message's turn inside the caller's transaction.

        Returns:
            True when this transaction is the one that answers the message; False when
            another attempt committed its turn first (then nothing else may be stored).
        """
        claimed = await session.execute(
            update(Message)
            .where(Message.id == message_id, Message.handled_at.is_(None))
            .values(handled_at=utcnow())
        )
        return bool(claimed.rowcount)

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
        self, session: AsyncSession, identity: Identity, message: IncomingMessage
    ) -> tuple[Conversation, bool]:
        """The identity's open conversation; one an operator closed within the reopen
        window when the citizen writes something other than a command (the service then
        takes the rating, a comment, or reopens it); else a new one with the bot."""
        conversation = await session.scalar(
            select(Conversation)
            .where(Conversation.identity_id == identity.id)
            .order_by(Conversation.id.desc())
            .limit(1)
        )
        if conversation is not None and conversation.status != ConversationStatus.CLOSED:
            return conversation, False
        if (
            conversation is not None
            and message.kind != MessageKind.COMMAND
            and conversation.status_reason == "closed_by_operator"
            and conversation.closed_at is not None
            and as_utc(conversation.closed_at) > utcnow() - self._reopen_window
        ):
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


def _state(
    conversation: Conversation, chat_id: str, is_new: bool, banned: bool = False
) -> ConversationState:
    return ConversationState(
        id=conversation.id,
        identity_id=conversation.identity_id,
        channel=Channel(conversation.channel),
        chat_id=chat_id,
        status=ConversationStatus(conversation.status),
        failed_attempts=conversation.failed_attempts,
        is_new=is_new,
        priority=conversation.priority or 0,
        banned=banned,
    )
