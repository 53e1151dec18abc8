"""Handoff events: what the operators must learn about a conversation, stored in the
transaction that caused it and applied in order, once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import event, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import SessionFactory
from core.group_commit import GroupCommit
from core.models import ERROR_LIMIT, HandoffEvent, utcnow
from core.write_gate import connection, transaction


class EventKind(StrEnum):
    REQUESTED = "requested"  # the conversation waits for an operator
    PRIORITY = "priority"  # a waiting conversation became more urgent
    CITIZEN_MESSAGE = "citizen_message"  # the citizen wrote while waiting or with an operator
    CANCELLED = "cancelled"  # the citizen withdrew the request
    CITIZEN_EDIT = "citizen_edit"  # the citizen edited a message the operators saw
    TAKEN = "taken"  # an operator took the conversation
    RETURNED = "returned"  # an operator gave the conversation back to the bot
    CLOSED = "closed"  # an operator closed the conversation
    REOPENED = "reopened"  # the citizen wrote again after the conversation was closed
    NOTICE = "notice"  # a service message for the topic (a template list, a ban…)
    UNDELIVERABLE = "undeliverable"  # the citizen blocked the bot or disallowed messages
    SLA_REMINDER = "sla_reminder"  # the first response is due soon
    SLA_MISSED = "sla_missed"  # the first response is overdue (the supervisors hear of it)


@dataclass(frozen=True, slots=True)
class StoredEvent:
    id: int
    conversation_id: int
    kind: EventKind
    priority: int
    payload: dict[str, Any]
    attempts: int


def add_event(
    session: AsyncSession,
    conversation_id: int,
    kind: EventKind,
    priority: int = 0,
    payload: dict[str, Any] | None = None,
) -> HandoffEvent:
    """Store an event inside the caller's transaction (it commits with the change)."""
    event = HandoffEvent(
        conversation_id=conversation_id,
        kind=kind.value,
        priority=priority,
        payload=payload,
        attempts=0,
    )
    session.add(event)
    return event


def notify_on_commit(session: AsyncSession, notify: Callable[[], None] | None) -> None:
    """Call ``notify`` once the caller's transaction commits (the relay publishes then,
    not a polling interval later)."""
    if notify is None:
        return
    sync = session.sync_session
    if sync.info.get("handoff_notify") is notify:
        return
    sync.info["handoff_notify"] = notify

    def committed(_: Any) -> None:
        sync.info.pop("handoff_notify", None)
        notify()

    event.listen(sync, "after_commit", committed, once=True)


def _stored(row: HandoffEvent) -> StoredEvent:
    return StoredEvent(
        row.id,
        row.conversation_id,
        EventKind(row.kind),
        row.priority,
        dict(row.payload or {}),
        row.attempts,
    )


_COLUMNS = (
    HandoffEvent.id,
    HandoffEvent.conversation_id,
    HandoffEvent.kind,
    HandoffEvent.priority,
    HandoffEvent.payload,
    HandoffEvent.attempts,
)


def _from_row(row: Any) -> StoredEvent:
    id_, conversation_id, kind, priority, payload, attempts = row
    return StoredEvent(
        id_, conversation_id, EventKind(kind), priority, dict(payload or {}), attempts
    )


class HandoffEventRepository:
    """The relay's and the consumer's view of the stored events."""

    def __init__(self, sessions: SessionFactory) -> None:
        self._sessions = sessions
        self._marks: GroupCommit[int, bool] = GroupCommit(self._commit_marks)

    async def to_publish(
        self, epoch: str, stale_before: datetime, limit: int = 500
    ) -> list[StoredEvent]:
        """Unapplied events to put on the stream of ``epoch``, oldest first: new ones,
        those a Redis that lost its data no longer has, and those published before
        ``stale_before`` and still not applied (their entry may have been lost in the
        last second before a Redis crash; a second entry does no harm)."""
        async with self._sessions() as session:
            rows = await session.scalars(
                select(HandoffEvent)
                .where(
                    HandoffEvent.applied_at.is_(None),
                    or_(
                        HandoffEvent.stream_epoch.is_(None),
                        HandoffEvent.stream_epoch != epoch,
                        HandoffEvent.published_at < stale_before,
                    ),
                )
                .order_by(HandoffEvent.id)
                .limit(limit)
            )
            return [_stored(row) for row in rows]

    async def published(self, ids: list[int], epoch: str) -> None:
        async with self._sessions.begin() as session:
            await session.execute(
                update(HandoffEvent)
                .where(HandoffEvent.id.in_(ids))
                .values(stream_epoch=epoch, published_at=utcnow())
            )

    async def pending(self, conversation_id: int) -> list[StoredEvent]:
        """The conversation's unapplied events, in the order they must take effect."""
        # On a bare connection: this and `applied` are the queue's per-event cost.
        async with connection(self._sessions) as conn:
            rows = await conn.execute(
                select(*_COLUMNS)
                .where(
                    HandoffEvent.conversation_id == conversation_id,
                    HandoffEvent.applied_at.is_(None),
                )
                .order_by(HandoffEvent.id)
            )
            return [_from_row(row) for row in rows]

    async def applied(self, event_id: int, error: str | None = None) -> bool:
        """Record that the event took effect (or was set aside with ``error``); False
        when another consumer recorded it first.

        Marks asked for while another is being committed are committed together, in one
        transaction (a group commit): each caller still returns only once its mark is
        durable, but a commit (an fsync on SQLite) serves every conversation that
        finished meanwhile instead of one."""
        if error is not None:
            async with transaction(self._sessions) as conn:
                done = await conn.execute(
                    update(HandoffEvent)
                    .where(HandoffEvent.id == event_id, HandoffEvent.applied_at.is_(None))
                    .values(applied_at=utcnow(), last_error=error)
                )
                return bool(done.rowcount)
        return await self._marks.submit(event_id)

    async def _commit_marks(self, event_ids: list[int]) -> list[bool]:
        async with transaction(self._sessions) as conn:
            done = await conn.execute(
                update(HandoffEvent)
                .where(
                    HandoffEvent.id.in_(sorted(set(event_ids))), HandoffEvent.applied_at.is_(None)
                )
                .values(applied_at=utcnow(), last_error=None)
                .returning(HandoffEvent.id)
            )
            recorded = set(done.scalars())
        results = []
        for event_id in event_ids:
            results.append(event_id in recorded)
            recorded.discard(event_id)  # a second mark of the same event: False
        return results

    async def failed(self, event_id: int, error: str) -> int:
        """Count a failed attempt; returns the attempts made so far."""
        async with self._sessions.begin() as session:
            await session.execute(
                update(HandoffEvent)
                .where(HandoffEvent.id == event_id)
                .values(attempts=HandoffEvent.attempts + 1, last_error=error[:ERROR_LIMIT])
            )
            attempts = await session.scalar(
                select(HandoffEvent.attempts).where(HandoffEvent.id == event_id)
            )
            return int(attempts or 0)

    async def unapplied(self) -> int:
        async with self._sessions() as session:
            count = await session.scalar(
                select(func.count())
                .select_from(HandoffEvent)
                .where(HandoffEvent.applied_at.is_(None))
            )
            return int(count or 0)
