"""Durable inbox: raw channel updates are stored before the channel is told we have
them, so a crash between acknowledging and handling loses nothing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from core.db import SessionFactory
from core.models import InboxUpdate, utcnow


@dataclass(frozen=True, slots=True)
class InboxItem:
    id: int
    update_key: str
    payload: dict[str, Any]


class InboxRepository:
    """Stores raw updates per channel, unique on the channel's update key.

    Args:
        sessions: The session factory of the process.
        max_attempts: Handling attempts after which an update is given up on.
    """

    def __init__(self, sessions: SessionFactory, max_attempts: int = 5) -> None:
        self._sessions = sessions
        self._max_attempts = max_attempts

    async def put_many(
        self, channel: str, updates: Sequence[tuple[str, dict[str, Any]]]
    ) -> list[InboxItem]:
        """Store updates in one transaction and return only those not seen before.

        Args:
            channel: The channel name.
            updates: ``(update_key, raw payload)`` pairs.

        Returns:
            The newly stored updates, in the given order; re-deliveries are left out.
        """
        if not updates:
            return []
        keys = [key for key, _ in updates]
        async with self._sessions.begin() as session:
            seen = set(
                (
                    await session.scalars(
                        select(InboxUpdate.update_key).where(
                            InboxUpdate.channel == channel, InboxUpdate.update_key.in_(keys)
                        )
                    )
                ).all()
            )
            rows: list[InboxUpdate] = []
            for key, payload in updates:
                if key in seen:
                    continue
                seen.add(key)
                row = InboxUpdate(channel=channel, update_key=key, payload=payload)
                session.add(row)
                rows.append(row)
            try:
                await session.flush()
            except IntegrityError:
                # A concurrent worker stored some of them first; fall back to one by one.
                await session.rollback()
                return await self._put_one_by_one(channel, updates)
            return [InboxItem(r.id, r.update_key, r.payload) for r in rows]

    async def _put_one_by_one(
        self, channel: str, updates: Sequence[tuple[str, dict[str, Any]]]
    ) -> list[InboxItem]:
        stored: list[InboxItem] = []
        for key, payload in updates:
            try:
                async with self._sessions.begin() as session:
                    row = InboxUpdate(channel=channel, update_key=key, payload=payload)
                    session.add(row)
                    await session.flush()
                    stored.append(InboxItem(row.id, key, payload))
            except IntegrityError:
                continue
        return stored

    async def mark_processed(self, item_id: int) -> None:
        async with self._sessions.begin() as session:
            await session.execute(
                update(InboxUpdate)
                .where(InboxUpdate.id == item_id)
                .values(processed_at=utcnow(), attempts=InboxUpdate.attempts + 1)
            )

    async def mark_failed(self, item_id: int, error: str) -> None:
        """Record a failed attempt; after ``max_attempts`` the update is set aside."""
        async with self._sessions.begin() as session:
            row = await session.get(InboxUpdate, item_id)
            if row is None:
                return
            row.attempts += 1
            row.last_error = error[:2000]
            if row.attempts >= self._max_attempts:
                row.processed_at = utcnow()

    async def unprocessed(self, channel: str, limit: int = 1000) -> list[InboxItem]:
        """Updates stored but not handled, oldest first (used at start-up)."""
        async with self._sessions() as session:
            rows = (
                await session.scalars(
                    select(InboxUpdate)
                    .where(InboxUpdate.channel == channel, InboxUpdate.processed_at.is_(None))
                    .order_by(InboxUpdate.id)
                    .limit(limit)
                )
            ).all()
            return [InboxItem(r.id, r.update_key, r.payload) for r in rows]
