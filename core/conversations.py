"""Citizens, conversations and messages in the database."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any, Literal

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

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
from core.write_gate import connection, transaction


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

        Every message takes this path, so it is three statements on a bare connection
        (the identity updated, its latest conversation read, the message inserted) rather
        than ORM objects (bench/README.md, «Website widget»).

        Returns:
            The stored message and its open conversation; for a message stored before
            whose turn never committed (a crash or a failure in between), that message
            again with ``retry`` set; None when it was stored and answered before (a
            re-delivery).
        """
        try:
            async with transaction(self._sessions) as conn:
                identity_id, banned = await self._identity(conn, message)
                conversation = await self._open_conversation(conn, identity_id, message)
                message_id = (
                    await conn.execute(
                        insert(Message).returning(Message.id),
                        {
                            "conversation_id": conversation.id,
                            "channel": message.channel,
                            "direction": Direction.IN,
                            "kind": message.kind,
                            "dedup_key": message.dedup_key,
                            "chat_id": message.chat_id,
                            "text": message.text,
                            "payload": message.payload,
                            "attachments": list(message.attachments) or None,
                            "created_at": message.sent_at or utcnow(),
                        },
                    )
                ).scalar_one()
                return StoredMessage(message_id, replace(conversation, banned=banned))
        except IntegrityError:
            # The same message stored before (its dedup key is unique): answered already,
            # or still to be answered (a retry, or a concurrent worker's turn decides);
            # else refused for another reason, and then it is not stored at all.
            async with connection(self._sessions) as conn:
                earlier = await self._earlier(conn, message)
            if earlier is None:
                raise
            return earlier or None

    async def _earlier(
        self, conn: AsyncConnection, message: IncomingMessage
    ) -> StoredMessage | Literal[False] | None:
        """The same message stored before: False when its turn committed, the stored
        message (to handle again) when not, None when it was never stored."""
        found = (
            await conn.execute(
                select(Message.id, Message.handled_at, *_CONVERSATION, Identity.banned_at)
                .join(Conversation, Conversation.id == Message.conversation_id)
                .join(Identity, Identity.id == Conversation.identity_id)
                .where(Message.channel == message.channel, Message.dedup_key == message.dedup_key)
            )
        ).first()
        if found is None:
            return None
        if found.handled_at is not None:
            return False
        state = _state(found, message.chat_id, is_new=False, banned=found.banned_at is not None)
        return StoredMessage(found.id, state, retry=True)

    @staticmethod
    async def mark_handled(session: AsyncSession, message_id: int) -> bool:
        """Claim the outcome of a message's turn inside the caller's transaction.

        Returns:
            True when this transaction is the one that answers the message; False when
            another attempt committed its turn first (then nothing else may be stored).
        """
        conn = await session.connection()
        claimed = await conn.execute(
            update(Message)
            .where(Message.id == message_id, Message.handled_at.is_(None))
            .values(handled_at=utcnow())
        )
        return bool(claimed.rowcount)

    async def _identity(self, conn: AsyncConnection, message: IncomingMessage) -> tuple[int, bool]:
        """The sender's identity, made on their first message and brought up to date on
        each: its id and whether they are banned."""
        now = utcnow()
        # Writing to us means they can hear us again (``blocked_at``); a name or a
        # language the message lacks keeps the one known.
        values: dict[str, object] = {
            "chat_id": message.chat_id,
            "last_seen_at": now,
            "blocked_at": None,
        }
        for column in ("display_name", "username", "language_code"):
            if value := getattr(message, column):
                values[column] = value
        found = (
            await conn.execute(
                update(Identity)
                .where(
                    Identity.channel == message.channel, Identity.external_id == message.user_id
                )
                .values(values)
                .returning(Identity.id, Identity.banned_at)
            )
        ).first()
        if found is not None:
            return found.id, found.banned_at is not None
        citizen_id = (
            await conn.execute(insert(Citizen).returning(Citizen.id), {"created_at": now})
        ).scalar_one()
        identity_id = (
            await conn.execute(
                insert(Identity).returning(Identity.id),
                {
                    "citizen_id": citizen_id,
                    "channel": message.channel,
                    "external_id": message.user_id,
                    "display_name": None,
                    "username": None,
                    "language_code": None,
                    **values,
                },
            )
        ).scalar_one()
        return identity_id, False

    async def _open_conversation(
        self, conn: AsyncConnection, identity_id: int, message: IncomingMessage
    ) -> ConversationState:
        """The identity's open conversation; one an operator closed within the reopen
        window when the citizen writes something other than a command (the service then
        takes the rating, a comment, or reopens it); else a new one with the bot."""
        latest = (
            await conn.execute(
                select(*_CONVERSATION, Conversation.status_reason, Conversation.closed_at)
                .where(Conversation.identity_id == identity_id)
                .order_by(Conversation.id.desc())
                .limit(1)
            )
        ).first()
        if latest is not None and latest.status != ConversationStatus.CLOSED:
            return _state(latest, message.chat_id, is_new=False)
        if (
            latest is not None
            and message.kind != MessageKind.COMMAND
            and latest.status_reason == "closed_by_operator"
            and latest.closed_at is not None
            and as_utc(latest.closed_at) > utcnow() - self._reopen_window
        ):
            return _state(latest, message.chat_id, is_new=False)
        now = utcnow()
        conversation_id = (
            await conn.execute(
                insert(Conversation).returning(Conversation.id),
                {
                    "identity_id": identity_id,
                    "channel": message.channel,
                    "status": ConversationStatus.BOT,
                    "failed_attempts": 0,
                    "priority": 0,
                    "created_at": now,
                    "updated_at": now,
                },
            )
        ).scalar_one()
        return ConversationState(
            id=conversation_id,
            identity_id=identity_id,
            channel=Channel(message.channel),
            chat_id=message.chat_id,
            status=ConversationStatus.BOT,
            failed_attempts=0,
            is_new=True,
        )

    @staticmethod
    async def store_replies(
        session: AsyncSession, conversation_id: int, replies: Sequence[Reply]
    ) -> list[Reply]:
        """Store ``replies`` in the outbox inside the caller's transaction; they come
        back with their ``outbox_id``."""
        if not replies:
            return []
        conn = await session.connection()
        ids = (
            await conn.execute(
                insert(Message).returning(Message.id, sort_by_parameter_order=True),
                [
                    {
                        "conversation_id": conversation_id,
                        "channel": reply.channel,
                        "direction": Direction.OUT,
                        "kind": MessageKind.TEXT,
                        "chat_id": reply.chat_id,
                        "text": reply.text,
                        "buttons": [
                            [{"text": b.text, "payload": b.payload} for b in row]
                            for row in reply.buttons
                        ]
                        or None,
                        "delivery_status": DeliveryStatus.PENDING,
                    }
                    for reply in replies
                ],
            )
        ).scalars()
        return [replace(reply, outbox_id=id_) for reply, id_ in zip(replies, ids, strict=True)]


# What `_state` reads of a conversation.
_CONVERSATION = (
    Conversation.id.label("conversation_id"),
    Conversation.identity_id,
    Conversation.channel,
    Conversation.status,
    Conversation.failed_attempts,
    Conversation.priority,
)


def _state(row: Any, chat_id: str, is_new: bool, banned: bool = False) -> ConversationState:
    """A conversation's state from a row of `_CONVERSATION`'s columns."""
    return ConversationState(
        id=row.conversation_id,
        identity_id=row.identity_id,
        channel=Channel(row.channel),
        chat_id=chat_id,
        status=ConversationStatus(row.status),
        failed_attempts=row.failed_attempts,
        is_new=is_new,
        priority=row.priority or 0,
        banned=banned,
    )
