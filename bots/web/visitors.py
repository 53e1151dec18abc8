"""The widget's visitors and their conversations' history in the database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select, update

from bots.web.mappers import row_frame
from bots.web.photos import PhotoStore
from core.db import SessionFactory
from core.domain import Channel, DeliveryStatus, Direction
from core.models import Conversation, Identity, Message, WebVisitor, as_utc, utcnow

HISTORY_LIMIT = 100
# Messages of a visitor committed out of id order (PostgreSQL allows it) are caught by
# looking back this many messages whenever there is something new.
LOOK_BACK = 5


@dataclass(frozen=True, slots=True)
class VisitorState:
    id: str
    notice_accepted_at: datetime | None


class VisitorRepository:
    """Visitors, their consent to the personal-data notice and their history."""

    def __init__(self, sessions: SessionFactory, photos: PhotoStore) -> None:
        self._sessions = sessions
        self._photos = photos

    async def create(self, visitor: str) -> VisitorState:
        async with self._sessions.begin() as session:
            session.add(WebVisitor(id=visitor))
        return VisitorState(visitor, None)

    async def get(self, visitor: str) -> VisitorState | None:
        async with self._sessions() as session:
            row = await session.get(WebVisitor, visitor)
        if row is None:
            return None
        accepted = as_utc(row.notice_accepted_at) if row.notice_accepted_at else None
        return VisitorState(row.id, accepted)

    async def accept_notice(self, visitor: str, notice_url: str | None) -> None:
        """Record that the visitor accepted the notice now (the first time only)."""
        async with self._sessions.begin() as session:
            await session.execute(
                update(WebVisitor)
                .where(WebVisitor.id == visitor, WebVisitor.notice_accepted_at.is_(None))
                .values(notice_accepted_at=utcnow(), notice_url=notice_url)
            )

    async def history(self, visitor: str, after: int = 0) -> list[dict[str, Any]]:
        """The visitor's messages after ``after`` (the latest `HISTORY_LIMIT`), oldest
        first, as frames; with something new, the few before it too (the browser drops
        what it has)."""
        query = (
            select(Message)
            .join(Conversation, Conversation.id == Message.conversation_id)
            .join(Identity, Identity.id == Conversation.identity_id)
            .where(
                Identity.channel == Channel.WEB,
                Identity.external_id == visitor,
                or_(
                    Message.direction == Direction.IN,
                    Message.delivery_status.in_((DeliveryStatus.PENDING, DeliveryStatus.SENT)),
                ),
            )
            .order_by(Message.id.desc())
        )
        async with self._sessions() as session:
            rows = list(
                await session.scalars(query.where(Message.id > after).limit(HISTORY_LIMIT))
            )
            if rows and after > 0:
                rows += list(
                    await session.scalars(query.where(Message.id <= after).limit(LOOK_BACK))
                )
        rows.sort(key=lambda row: row.id)
        return [row_frame(row, self._photos) for row in rows]
