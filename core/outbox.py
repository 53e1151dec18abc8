"""The outbox: replies stored with the turn that produced them, leased chat by chat to
one sender at a time, and marked as they are delivered, retried or given up."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, select, update

from core.db import SessionFactory
from core.domain import Button, Channel, ConversationStatus, DeliveryStatus, Direction, Reply
from core.group_commit import GroupCommit
from core.leases import Worker
from core.models import ERROR_LIMIT, Conversation, Identity, Message, as_utc, utcnow
from core.write_gate import transaction, urgent
from handoff.events import EventKind, add_event

# Errors recorded with this prefix wait for the channel to come back, not for the citizen.
UNAVAILABLE = "unavailable: "


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """A reply waiting to be delivered.

    Attributes:
        reply: What to send (its ``outbox_id`` is the row).
        conversation_id: The conversation it belongs to.
        parts_sent: Parts of a long reply delivered already (they are not sent again).
        attempts: Delivery attempts so far.
        created_at: When the turn stored it.
        next_attempt_at: Not to be tried before this; None when due now.
    """

    reply: Reply
    conversation_id: int
    parts_sent: int
    attempts: int
    created_at: datetime
    next_attempt_at: datetime | None

    @property
    def id(self) -> int:
        assert self.reply.outbox_id is not None
        return self.reply.outbox_id


class OutboxRepository:
    """Pending replies of one database, for the senders of every channel.

    Args:
        sessions: The session factory.
        worker: This process as a lease holder.
        lease: Seconds a sender may hold a chat's replies before another may take them.
    """

    def __init__(
        self, sessions: SessionFactory, worker: Worker | None = None, *, lease: float = 60.0
    ) -> None:
        # Until a delivery is recorded a crash sends the reply again: its writes go first.
        self._sessions = urgent(sessions)
        self.worker = worker or Worker.current()
        self._lease = timedelta(seconds=lease)
        # Deliveries recorded while another batch commits go together.
        self._deliveries: GroupCommit[_Delivered, None] = GroupCommit(self._record_deliveries)

    async def claim_chat(self, channel: Channel, chat_id: str) -> list[OutboxRow]:
        """Lease the chat's pending replies, oldest first; nothing when another live
        sender holds them (it keeps the chat's order). Every reply takes this path: two
        statements on a bare connection."""
        now = utcnow()
        async with transaction(self._sessions) as conn:
            rows = (
                await conn.execute(
                    select(*_OUTBOX_COLUMNS, (Message.claimed_until > now).label("active"))
                    .where(
                        Message.direction == Direction.OUT,
                        Message.channel == channel,
                        Message.delivery_status == DeliveryStatus.PENDING,
                        Message.chat_id == chat_id,
                    )
                    .order_by(Message.id)
                )
            ).all()
            if not rows or any(self._held(row.claimed_by, row.active) for row in rows):
                return []
            await conn.execute(
                update(Message)
                .where(
                    Message.id.in_([row.id for row in rows]),
                    Message.delivery_status == DeliveryStatus.PENDING,
                )
                .values(claimed_by=self.worker.id, claimed_until=now + self._lease)
            )
            return [_row(row) for row in rows]

    async def due_chats(self, channel: Channel, limit: int = 500) -> list[str]:
        """Chats whose oldest pending reply is due now and held by no other live sender."""
        now = utcnow()
        heads = (
            select(func.min(Message.id))
            .where(
                Message.direction == Direction.OUT,
                Message.channel == channel,
                Message.delivery_status == DeliveryStatus.PENDING,
            )
            .group_by(Message.chat_id)
        )
        async with self._sessions() as session:
            rows = (
                await session.execute(
                    select(Message.chat_id, Message.claimed_by, Message.claimed_until > now)
                    .where(
                        Message.id.in_(heads),
                        Message.next_attempt_at.is_(None) | (Message.next_attempt_at <= now),
                    )
                    .order_by(Message.id)
                    .limit(limit)
                )
            ).all()
        return [chat_id for chat_id, holder, active in rows if not self._held(holder, active)]

    def _held(self, holder: str | None, active: bool | None) -> bool:
        """Whether another worker that may be alive holds a row."""
        if holder is None or not active or holder == self.worker.id:
            return False
        return not self.worker.outlived(holder)

    async def progress(self, outbox_id: int, parts_sent: int) -> None:
        """Parts of a long reply delivered so far (a resend starts after them)."""
        await self._set(outbox_id, release=False, parts_sent=parts_sent)

    async def delivered(self, outbox_id: int, external_id: str | None, parts: int) -> None:
        """The reply reached the channel; returns once that is durable."""
        await self._deliveries.submit(_Delivered(outbox_id, external_id, parts))

    async def _record_deliveries(self, deliveries: list[_Delivered]) -> list[None]:
        now = utcnow()
        async with transaction(self._sessions) as conn:
            await conn.execute(
                _DELIVERED,
                [
                    {"row": d.outbox_id, "external": d.external_id, "parts": d.parts, "at": now}
                    for d in deliveries
                ],
            )
        return [None] * len(deliveries)

    async def retry(self, outbox_id: int, error: str, delay: float) -> None:
        """A transient failure: try again no sooner than ``delay`` seconds from now."""
        await self._set(
            outbox_id,
            next_attempt_at=utcnow() + timedelta(seconds=delay),
            delivery_error=error[:ERROR_LIMIT],
            attempts=Message.attempts + 1,
        )

    async def undeliverable(self, outbox_id: int, status: DeliveryStatus, error: str) -> None:
        """Never to be tried again: BLOCKED (the citizen is marked unreachable until they
        write again) or FAILED (refused, or given up after the retry horizon)."""
        async with self._sessions.begin() as session:
            row = await session.get(Message, outbox_id)
            if row is None:
                return
            row.delivery_status = status
            row.delivery_error = error[:ERROR_LIMIT]
            row.attempts += 1
            row.claimed_by = row.claimed_until = None
            if status == DeliveryStatus.BLOCKED:
                conversation = await session.get(Conversation, row.conversation_id)
                if conversation is not None:
                    await session.execute(
                        update(Identity)
                        .where(Identity.id == conversation.identity_id)
                        .values(blocked_at=utcnow())
                    )
                    if conversation.status in (
                        ConversationStatus.WAITING,
                        ConversationStatus.WITH_OPERATOR,
                    ):
                        # The operators must know their answers no longer arrive.
                        add_event(
                            session,
                            conversation.id,
                            EventKind.UNDELIVERABLE,
                            0,
                            {"message_id": row.id},
                        )

    async def release(self, outbox_ids: list[int]) -> None:
        """Give back rows this sender leased and will not send now."""
        if not outbox_ids:
            return
        async with self._sessions.begin() as session:
            await session.execute(
                update(Message)
                .where(Message.id.in_(outbox_ids), Message.claimed_by == self.worker.id)
                .values(claimed_by=None, claimed_until=None)
            )

    async def release_held(self) -> None:
        """Give back every reply this sender holds (it is stopping)."""
        async with self._sessions.begin() as session:
            await session.execute(
                update(Message)
                .where(
                    Message.claimed_by == self.worker.id,
                    Message.delivery_status == DeliveryStatus.PENDING,
                )
                .values(claimed_by=None, claimed_until=None)
            )

    async def wake_unavailable(self, channel: Channel) -> int:
        """The channel answers again: replies waiting out its unavailability are due now.

        Returns:
            How many replies were waiting.
        """
        async with self._sessions.begin() as session:
            woken = await session.execute(
                update(Message)
                .where(
                    Message.direction == Direction.OUT,
                    Message.channel == channel,
                    Message.delivery_status == DeliveryStatus.PENDING,
                    Message.next_attempt_at > utcnow(),
                    Message.delivery_error.startswith(UNAVAILABLE),
                )
                .values(next_attempt_at=None)
            )
            return int(woken.rowcount or 0)

    async def _set(self, outbox_id: int, *, release: bool = True, **values: object) -> None:
        if release:
            values.update(claimed_by=None, claimed_until=None)
        async with self._sessions.begin() as session:
            await session.execute(update(Message).where(Message.id == outbox_id).values(**values))


@dataclass(frozen=True, slots=True)
class _Delivered:
    outbox_id: int
    external_id: str | None
    parts: int


_DELIVERED = (
    update(Message)
    .where(Message.id == bindparam("row"))
    .values(
        delivery_status=DeliveryStatus.SENT,
        external_id=bindparam("external"),
        parts_sent=bindparam("parts"),
        delivered_at=bindparam("at"),
        delivery_error=None,
        attempts=Message.attempts + 1,
        claimed_by=None,
        claimed_until=None,
    )
)


# What `_row` reads of an outbox row.
_OUTBOX_COLUMNS = (
    Message.id,
    Message.conversation_id,
    Message.channel,
    Message.chat_id,
    Message.text,
    Message.buttons,
    Message.attachments,
    Message.parts_sent,
    Message.attempts,
    Message.created_at,
    Message.next_attempt_at,
    Message.claimed_by,
)


def _row(message: Any) -> OutboxRow:
    """An outbox row from a row of `_OUTBOX_COLUMNS`."""
    buttons = tuple(
        tuple(Button(b["text"], b["payload"]) for b in row) for row in message.buttons or ()
    )
    reply = Reply(
        channel=Channel(message.channel),
        chat_id=message.chat_id,
        text=message.text,
        buttons=buttons,
        outbox_id=message.id,
        attachments=tuple(message.attachments or ()),
    )
    return OutboxRow(
        reply=reply,
        conversation_id=message.conversation_id,
        parts_sent=message.parts_sent,
        attempts=message.attempts,
        created_at=as_utc(message.created_at),
        next_attempt_at=as_utc(message.next_attempt_at) if message.next_attempt_at else None,
    )
