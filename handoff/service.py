"""The one place, besides the conversation service, that changes a conversation's
state: asking for an operator and withdrawing the request."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from enum import IntEnum
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.domain import ConversationStatus
from core.models import Conversation, HandoffCase, utcnow
from handoff.events import EventKind, add_event, notify_on_commit
from handoff.sla import SlaPolicy


class Priority(IntEnum):
    NORMAL = 0
    HIGH = 10  # emergencies: an operator should see these first


class HandoffService:
    """Moves conversations between the bot and the operators' waiting queue.

    Every method works inside the caller's transaction, so a state change commits
    together with whatever else the turn stored, and so does the event that tells the
    operators about it (`handoff.events`, published by `handoff.queue.HandoffRelay`).
    A request opens a handoff case (`core.models.HandoffCase`) with its first-response
    deadline.

    Args:
        sla: The first-response target and business hours; None sets no deadline.
        notify: Called after a transaction that stored events committed (the relay).
    """

    def __init__(
        self, sla: SlaPolicy | None = None, notify: Callable[[], None] | None = None
    ) -> None:
        self.sla = sla
        self.notify = notify

    def _event(
        self,
        session: AsyncSession,
        conversation_id: int,
        kind: EventKind,
        priority: int = 0,
        payload: dict[str, Any] | None = None,
    ) -> None:
        add_event(session, conversation_id, kind, priority, payload)
        notify_on_commit(session, self.notify)

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
            now = utcnow()
            session.add(
                HandoffCase(
                    conversation_id=conversation_id,
                    reason=reason,
                    priority=int(priority),
                    requested_at=now,
                    sla_due_at=self.sla.due(now) if self.sla else None,
                    reopenings=0,
                )
            )
            self._event(
                session, conversation_id, EventKind.REQUESTED, priority, {"reason": reason}
            )
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
            await session.execute(
                update(HandoffCase)
                .where(
                    HandoffCase.conversation_id == conversation_id,
                    HandoffCase.ended_at.is_(None),
                )
                .values(priority=int(priority))
            )
            self._event(session, conversation_id, EventKind.PRIORITY, priority, {"reason": reason})
        return False

    async def relay_citizen_message(
        self, session: AsyncSession, conversation_id: int, message_id: int, priority: int
    ) -> None:
        """The citizen wrote while waiting for or talking to an operator: the message
        goes to the operators (in the caller's transaction, after the stored message)."""
        self._event(
            session,
            conversation_id,
            EventKind.CITIZEN_MESSAGE,
            priority,
            {"message_id": message_id},
        )

    async def relay_citizen_edit(
        self, session: AsyncSession, conversation_id: int, message_id: int, text: str
    ) -> None:
        """The citizen edited a message the operators saw: the topic shows the new text
        beside the original."""
        self._event(
            session,
            conversation_id,
            EventKind.CITIZEN_EDIT,
            0,
            {"message_id": message_id, "text": text},
        )

    async def reopen(self, session: AsyncSession, conversation_id: int) -> bool:
        """The citizen wrote after an operator closed the conversation: it goes back to
        the operator who had it (to the queue when nobody had it), in the same topic."""
        conversation = await session.get(Conversation, conversation_id)
        if conversation is None or conversation.status != ConversationStatus.CLOSED:
            return False
        case = await session.scalar(
            select(HandoffCase)
            .where(HandoffCase.conversation_id == conversation_id)
            .order_by(HandoffCase.id.desc())
            .limit(1)
        )
        conversation.status = (
            ConversationStatus.WITH_OPERATOR
            if case is not None and case.operator_id
            else ConversationStatus.WAITING
        )
        conversation.status_reason = "reopened"
        conversation.closed_at = None
        conversation.waiting_since = utcnow()
        if case is not None:
            case.reopenings += 1
            case.ended_at = None
            case.outcome = None
        self._event(session, conversation_id, EventKind.REOPENED, conversation.priority or 0)
        return True

    async def rate(
        self, session: AsyncSession, identity_id: int, case_id: int, score: int
    ) -> bool | None:
        """The citizen's rating of a closed case: True when recorded now, False when
        rated before, None when the case is not theirs."""
        case = await session.get(HandoffCase, case_id)
        if case is None or not 1 <= score <= 5:
            return None
        owner = await session.scalar(
            select(Conversation.identity_id).where(Conversation.id == case.conversation_id)
        )
        if owner != identity_id:
            return None
        if case.csat_score is not None:
            return False
        case.csat_score, case.csat_at = score, utcnow()
        return True

    async def comment(
        self, session: AsyncSession, identity_id: int, text: str, since: datetime
    ) -> bool:
        """A comment after a rating made since ``since``, on the citizen's latest rated
        case that has none; False when there is no such case."""
        case = await session.scalar(
            select(HandoffCase)
            .join(Conversation, Conversation.id == HandoffCase.conversation_id)
            .where(
                Conversation.identity_id == identity_id,
                HandoffCase.csat_at >= since,
                HandoffCase.csat_comment.is_(None),
            )
            .order_by(HandoffCase.csat_at.desc())
            .limit(1)
        )
        if case is None:
            return False
        case.csat_comment = text[:4000]
        return True

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
            await session.execute(
                update(HandoffCase)
                .where(
                    HandoffCase.conversation_id == conversation_id,
                    HandoffCase.ended_at.is_(None),
                )
                .values(ended_at=utcnow(), outcome="cancelled")
            )
            self._event(session, conversation_id, EventKind.CANCELLED)
        return bool(cancelled.rowcount)

    async def status(self, session: AsyncSession, conversation_id: int) -> ConversationStatus:
        value = await session.scalar(
            select(Conversation.status).where(Conversation.id == conversation_id)
        )
        return ConversationStatus(value) if value else ConversationStatus.CLOSED
