"""Durable inbox: raw channel updates are stored before the channel is told we have
them, then leased to one worker at a time until handled, retried or set aside."""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from core.db import SessionFactory
from core.group_commit import GroupCommit
from core.leases import Worker, is_transient
from core.models import ERROR_LIMIT, InboxUpdate, utcnow
from core.write_gate import transaction

log = logging.getLogger(__name__)


class InboxStatus(StrEnum):
    PENDING = "pending"
    DONE = "done"
    IGNORED = "ignored"  # malformed, or nothing for the bot to answer
    QUARANTINED = "quarantined"  # set aside after its last attempt, with the error


@dataclass(frozen=True, slots=True)
class InboxItem:
    """A stored update leased to this worker; ``attempts`` counts this one."""

    id: int
    update_key: str
    payload: dict[str, Any]
    attempts: int = 1


@dataclass(frozen=True, slots=True)
class _Put:
    channel: str
    updates: Sequence[tuple[str, dict[str, Any]]]


@dataclass(frozen=True, slots=True)
class _Finish:
    item_id: int
    status: InboxStatus
    note: str | None


_FINISH = (
    update(InboxUpdate)
    .where(InboxUpdate.id == bindparam("row"))
    .values(
        status=bindparam("status"),
        processed_at=bindparam("at"),
        last_error=bindparam("note"),
        claimed_by=None,
        claimed_until=None,
    )
)


class InboxRepository:
    """Stores raw updates per channel, unique on the channel's update key, and leases
    them to workers.

    Args:
        sessions: The session factory of the process.
        worker: This process as a lease holder.
        lease: Seconds a worker may hold an update before another may take it.
    """

    def __init__(
        self, sessions: SessionFactory, worker: Worker | None = None, *, lease: float = 120.0
    ) -> None:
        self._sessions = sessions
        self.worker = worker or Worker.current()
        self._lease = timedelta(seconds=lease)
        # Updates arriving, and updates done, while another batch commits go together.
        self._puts: GroupCommit[_Put, list[InboxItem]] = GroupCommit(self._put_batch)
        self._finishes: GroupCommit[_Finish, None] = GroupCommit(self._finish_batch)

    async def put_many(
        self, channel: str, updates: Sequence[tuple[str, dict[str, Any]]]
    ) -> list[InboxItem]:
        """Store updates and return those not seen before, leased to this worker.

        An update the database refuses for what it holds (not for being unreachable) is
        set aside as quarantined, without its payload, so that it never blocks the
        updates after it.

        Args:
            channel: The channel name.
            updates: ``(update_key, raw payload)`` pairs.

        Returns:
            The newly stored updates, in the given order; re-deliveries are left out.

        Raises:
            Exception: The database cannot be reached; nothing may be acknowledged.
        """
        if not updates:
            return []
        return await self._puts.submit(_Put(channel, updates))

    async def _put_batch(self, puts: list[_Put]) -> list[list[InboxItem]]:
        """Store the updates of several calls in one transaction."""
        try:
            return await self._put_together(puts)
        except Exception as error:
            if is_transient(error):
                raise
            # A concurrent worker stored some first, or one of them cannot be stored.
            return [await self._put_one_by_one(put.channel, put.updates) for put in puts]

    async def _put_together(self, puts: list[_Put]) -> list[list[InboxItem]]:
        """Every update arrives this way: statements on a bare connection, the new rows
        inserted in one statement that returns their ids in order."""
        async with transaction(self._sessions) as conn:
            seen: set[tuple[str, str]] = set()
            for channel in {put.channel for put in puts}:
                keys = {key for put in puts if put.channel == channel for key, _ in put.updates}
                stored = await conn.scalars(
                    select(InboxUpdate.update_key).where(
                        InboxUpdate.channel == channel, InboxUpdate.update_key.in_(keys)
                    )
                )
                seen.update((channel, key) for key in stored)
            fresh: list[list[tuple[str, dict[str, Any]]]] = []
            for put in puts:
                fresh.append([])
                for key, payload in put.updates:
                    if (put.channel, key) in seen:
                        continue  # stored before, or twice in this batch: a re-delivery
                    seen.add((put.channel, key))
                    fresh[-1].append((key, payload))
            values = [
                self._new_values(put.channel, key, payload)
                for put, updates in zip(puts, fresh, strict=True)
                for key, payload in updates
            ]
            ids = iter(
                (
                    await conn.scalars(
                        insert(InboxUpdate).returning(
                            InboxUpdate.id, sort_by_parameter_order=True
                        ),
                        values,
                    )
                ).all()
                if values
                else ()
            )
            return [
                [InboxItem(next(ids), key, payload) for key, payload in updates]
                for updates in fresh
            ]

    async def _put_one_by_one(
        self, channel: str, updates: Sequence[tuple[str, dict[str, Any]]]
    ) -> list[InboxItem]:
        stored: list[InboxItem] = []
        for key, payload in updates:
            try:
                async with self._sessions.begin() as session:
                    row = self._new_row(channel, key, payload)
                    session.add(row)
                    await session.flush()
                    stored.append(InboxItem(row.id, key, payload))
            except Exception as error:
                if is_transient(error):
                    raise
                if isinstance(error, IntegrityError) and await self._stored(channel, key):
                    continue  # stored before: a re-delivery
                await self._put_unstorable(channel, key, error)
        return stored

    async def _stored(self, channel: str, key: str) -> bool:
        async with self._sessions() as session:
            found = await session.scalar(
                select(InboxUpdate.id).where(
                    InboxUpdate.channel == channel, InboxUpdate.update_key == key
                )
            )
            return found is not None

    async def _put_unstorable(self, channel: str, key: str, error: Exception) -> None:
        reason = f"not storable: {type(error).__name__}"
        log.error("%s update id=%s cannot be stored (%s); set aside", channel, key, reason)
        try:
            async with self._sessions.begin() as session:
                session.add(
                    InboxUpdate(
                        channel=channel,
                        update_key=key[:128],
                        payload={"unstorable": True},
                        status=InboxStatus.QUARANTINED,
                        attempts=1,
                        processed_at=utcnow(),
                        last_error=f"{reason}: {error}"[:ERROR_LIMIT],
                    )
                )
        except IntegrityError:
            pass
        except Exception as stub_error:
            if is_transient(stub_error):
                raise
            log.error("%s update id=%s dropped: not even its record can be stored", channel, key)

    def _new_row(self, channel: str, key: str, payload: dict[str, Any]) -> InboxUpdate:
        return InboxUpdate(**self._new_values(channel, key, payload))

    def _new_values(self, channel: str, key: str, payload: dict[str, Any]) -> dict[str, Any]:
        """A new update's columns, leased to this worker."""
        return {
            "channel": channel,
            "update_key": key,
            "payload": payload,
            "status": InboxStatus.PENDING,
            "attempts": 1,
            "claimed_by": self.worker.id,
            "claimed_until": utcnow() + self._lease,
        }

    async def claim_due(
        self,
        channel: str,
        *,
        limit: int = 100,
        skip: Collection[int] = (),
        reclaim: Collection[int] = (),
    ) -> list[InboxItem]:
        """Lease pending updates whose retry time has come and that nobody alive holds,
        oldest first.

        Args:
            channel: The channel.
            limit: How many at most.
            skip: Updates this worker is handling right now.
            reclaim: Updates this worker still holds but dropped (the database failed
                while it gave them back): taken again without waiting for the lease.
        """
        now = utcnow()
        async with self._sessions.begin() as session:
            candidates = (
                await session.execute(
                    select(
                        InboxUpdate.id,
                        InboxUpdate.attempts,
                        InboxUpdate.claimed_by,
                        InboxUpdate.claimed_until < now,
                    )
                    .where(
                        InboxUpdate.channel == channel,
                        InboxUpdate.status == InboxStatus.PENDING,
                        (InboxUpdate.next_attempt_at.is_(None))
                        | (InboxUpdate.next_attempt_at <= now),
                    )
                    .order_by(InboxUpdate.id)
                    .limit(limit + len(skip))
                )
            ).all()
            claimed: list[int] = []
            for item_id, attempts, holder, expired in candidates:
                if item_id in skip:
                    continue
                if not (item_id in reclaim or self._free(holder, expired)):
                    continue
                taken = await session.execute(
                    update(InboxUpdate)
                    .where(
                        InboxUpdate.id == item_id,
                        InboxUpdate.status == InboxStatus.PENDING,
                        InboxUpdate.attempts == attempts,  # nobody claimed it meanwhile
                    )
                    .values(
                        attempts=attempts + 1,
                        claimed_by=self.worker.id,
                        claimed_until=now + self._lease,
                    )
                )
                if taken.rowcount:
                    claimed.append(item_id)
                if len(claimed) >= limit:
                    break
            if not claimed:
                return []
            rows = await session.scalars(
                select(InboxUpdate).where(InboxUpdate.id.in_(claimed)).order_by(InboxUpdate.id)
            )
            return [InboxItem(r.id, r.update_key, r.payload, r.attempts) for r in rows]

    def _free(self, holder: str | None, expired: bool | None) -> bool:
        """Whether an update may be claimed: nobody holds it, the lease ran out, or its
        holder is dead. One this worker holds is being handled here already."""
        if holder is None or expired is None or expired:
            return True
        return self.worker.outlived(holder)

    async def finish(
        self, item_id: int, status: InboxStatus = InboxStatus.DONE, note: str | None = None
    ) -> None:
        """The update needs nothing more: handled, ignored or quarantined."""
        await self._finishes.submit(_Finish(item_id, status, note[:ERROR_LIMIT] if note else None))

    async def _finish_batch(self, finishes: list[_Finish]) -> list[None]:
        now = utcnow()
        async with transaction(self._sessions) as conn:
            await conn.execute(
                _FINISH,
                [
                    {"row": f.item_id, "status": f.status, "at": now, "note": f.note}
                    for f in finishes
                ],
            )
        return [None] * len(finishes)

    async def retry_later(
        self, item_id: int, error: str, delay: float, *, counted: bool = True
    ) -> None:
        """Give the lease back; the update is tried again after ``delay`` seconds.
        ``counted=False`` gives the attempt back too (the failure was not the update's:
        the database could not be reached)."""
        values: dict[str, Any] = {}
        if not counted:
            values["attempts"] = InboxUpdate.attempts - 1
        await self._set(
            item_id,
            next_attempt_at=utcnow() + timedelta(seconds=delay),
            last_error=error[:ERROR_LIMIT],
            **values,
        )

    async def _set(self, item_id: int, **values: Any) -> None:
        async with self._sessions.begin() as session:
            await session.execute(
                update(InboxUpdate)
                .where(InboxUpdate.id == item_id)
                .values(claimed_by=None, claimed_until=None, **values)
            )

    async def release_held(self) -> None:
        """Give back every update this worker holds (it is stopping); they are due at
        once for the next worker."""
        async with self._sessions.begin() as session:
            await session.execute(
                update(InboxUpdate)
                .where(
                    InboxUpdate.claimed_by == self.worker.id,
                    InboxUpdate.status == InboxStatus.PENDING,
                )
                .values(claimed_by=None, claimed_until=None)
            )

    async def unprocessed(self, channel: str, limit: int = 1000) -> list[InboxItem]:
        """Updates stored and still pending, oldest first."""
        async with self._sessions() as session:
            rows = (
                await session.scalars(
                    select(InboxUpdate)
                    .where(
                        InboxUpdate.channel == channel,
                        InboxUpdate.status == InboxStatus.PENDING,
                    )
                    .order_by(InboxUpdate.id)
                    .limit(limit)
                )
            ).all()
            return [InboxItem(r.id, r.update_key, r.payload, r.attempts) for r in rows]

    async def counts(self, channel: str) -> dict[InboxStatus, int]:
        """How many updates of the channel are in each status."""
        async with self._sessions() as session:
            rows = await session.execute(
                select(InboxUpdate.status, func.count())
                .where(InboxUpdate.channel == channel)
                .group_by(InboxUpdate.status)
            )
            return {InboxStatus(status): count for status, count in rows.all()}
