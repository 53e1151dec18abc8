"""The one place, besides the conversation service, that changes a conversation's
state: asking for an operator and withdrawing the request."""

from __future__ import annotations

from enum import IntEnum

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.domain import ConversationStatus
from core.models import Conversation, utcnow
from handoff.events import EventKind, add_event


class Priority(IntEnum):
    NORMAL = 0
    HIGH = 10  # emergencies: an operator should see these first


class HandoffService:
    """Moves conversations between the bot and the operators' waiting queue.

    Every method works inside the caller's transaction, so a state change commits
    together with whatever else the turn stored, and so does the event that tells the
    operators about it (`handoff.events`, published by `handoff.queue.HandoffRelay`).
    """

    async def request_operator(
        self,
        session: AsyncSession,
        conversation_id: int,
        reason: str,
        priority: Priority = Priority.NORMAL,
    ) -> bool:
        """Put a conversation that the bot is handling into the waiting queue.

        Args:
            session: The caller's session (inside a transaction).
            conversation_id: The conversation.
            reason: Why (``citizen_request``, ``not_helped``, ``emergency``, …).
            priority: Queue priority; a higher one raises a waiting request too.

        Returns:
            True when the conversation was with the bot and now waits; False when it
            was waiting or with an operator already (its priority may still rise).
        """
        moved = await session.execute(
            update(Conversation)
            .where(
                Conversation.id == conversation_id, Conversation.status == ConversationStatus.BOT
            )
            .values(
                status=ConversationStatus.WAITING,
                status_reason=reason,
                priority=int(priority),
                waiting_since=utcnow(),
                failed_attempts=0,
                updated_at=utcnow(),
            )
        )
        if moved.rowcount:
            add_event(session, conversation_id, EventKind.REQUESTED, priority, {"reason": reason})
            return True
        raised = await session.execute(
            update(Conversation)
            .where(
                Conversation.id == conversation_id,
                Conversation.priority < int(priority),
                Conversation.status.in_(
                    (ConversationStatus.WAITING, ConversationStatus.WITH_OPERATOR)
                ),
            )
            .values(priority=int(priority), status_reason=reason, updated_at=utcnow())
        )
        if raised.rowcount:
            add_event(session, conversation_id, EventKind.PRIORITY, priority, {"reason": reason})
        return False

    async def relay_citizen_message(
        self, session: AsyncSession, conversation_id: int, message_id: int, priority: int
    ) -> None:
        """The citizen wrote while waiting for or talking to an operator: the message
        goes to the operators (in the caller's transaction, after the stored message)."""
        add_event(
            session,
            conversation_id,
            EventKind.CITIZEN_MESSAGE,
            priority,
            {"message_id": message_id},
        )

    async def cancel_request(self, session: AsyncSession, conversation_id: int) -> bool:
        """Withdraw a waiting request at the citizen's wish; True when there was one."""
        cancelled = await session.execute(
            update(Conversation)
            .where(
                Conversation.id == conversation_id,
                Conversation.status == ConversationStatus.WAITING,
            )
            .values(
                status=ConversationStatus.BOT,
                status_reason="cancelled_by_citizen",
                priority=int(Priority.NORMAL),
                waiting_since=None,
                updated_at=utcnow(),
            )
        )
        if cancelled.rowcount:
            add_event(session, conversation_id, EventKind.CANCELLED)
        return bool(cancelled.rowcount)

    async def status(self, session: AsyncSession, conversation_id: int) -> ConversationStatus:
        value = await session.scalar(
            select(Conversation.status).where(Conversation.id == conversation_id)
        )
        return ConversationStatus(value) if value else ConversationStatus.CLOSED
