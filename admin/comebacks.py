"""Whether a citizen came back after a question: the settled half of the honest rate.

A question *came back* when, within ``COMEBACK`` (72 hours) after it, the same
conversation had a new question from another message or an operator request
(`admin.dashboard` explains why this is the honest rate's test). Once those 72 hours
have passed the answer cannot change, so it is worked out once and kept in
``search_log.came_back`` (NULL until then): the dashboard then counts a year of
questions from an index instead of looking ahead from each of them.

`settle` fills the column for every question older than 72 hours that lacks it, in
batches so that a long backlog never holds SQLite's write lock for long; the dashboard
calls it before it counts (so a figure never waits on the job) and the web server runs
`settle_periodically` so that the dashboard's call finds little to do.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta

from sqlalchemy import Float, func, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.sql import ColumnElement

from core.db import SessionFactory
from core.models import HandoffCase, SearchLog, as_utc, utcnow

log = logging.getLogger(__name__)

# How long after a question a new question or an operator request means it did not help.
COMEBACK = timedelta(hours=72)
# Questions settled per transaction.
BATCH = 5000
# How often the web server settles the questions that have just become 72 hours old.
INTERVAL = timedelta(minutes=15)


async def settle(sessions: SessionFactory, now: datetime | None = None) -> int:
    """Record ``came_back`` for the questions asked before ``now`` - 72 hours that do
    not have it yet; returns how many were settled."""
    judge = (as_utc(now) if now is not None else utcnow()) - COMEBACK
    settled = 0
    while True:
        async with sessions() as session, session.begin():
            ids = list(
                (
                    await session.execute(
                        select(SearchLog.id)
                        .where(SearchLog.came_back.is_(None), SearchLog.created_at < judge)
                        .order_by(SearchLog.created_at)
                        .limit(BATCH)
                    )
                ).scalars()
            )
            if not ids:
                return settled
            await session.execute(
                update(SearchLog)
                .where(SearchLog.id.in_(ids))
                .values(came_back=_came_back(session))
                .execution_options(synchronize_session=False)
            )
        settled += len(ids)


async def settle_periodically(
    sessions: SessionFactory, stop: asyncio.Event, interval: timedelta = INTERVAL
) -> None:
    """`settle` now and then every ``interval`` until ``stop`` is set; a failure is
    logged and tried again at the next turn."""
    while not stop.is_set():
        try:
            settled = await settle(sessions)
        except Exception:
            log.exception("settling the questions' comebacks failed; trying again later")
        else:
            if settled:
                log.info("settled the comebacks of %d questions", settled)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval.total_seconds())


def _came_back(session: AsyncSession) -> ColumnElement[bool]:
    """For the question being updated: a new question from another message or an
    operator request in the same conversation within ``COMEBACK``."""
    later = aliased(SearchLog)
    if session.get_bind().dialect.name == "postgresql":
        within = SearchLog.created_at + literal(COMEBACK)
        question = (
            select(later.id)
            .where(
                later.conversation_id == SearchLog.conversation_id,
                later.created_at > SearchLog.created_at,
                later.created_at <= within,
                later.message_id.is_distinct_from(SearchLog.message_id),
            )
            .exists()
        )
        request = (
            select(HandoffCase.id)
            .where(
                HandoffCase.conversation_id == SearchLog.conversation_id,
                HandoffCase.requested_at >= SearchLog.created_at,
                HandoffCase.requested_at <= within,
            )
            .exists()
        )
        return or_(question, request)
    # SQLite keeps times as text: two index probes find the next question and the
    # next request, and their distance is measured to the millisecond (julianday).
    next_question = (
        select(func.min(later.created_at))
        .where(
            later.conversation_id == SearchLog.conversation_id,
            later.created_at > SearchLog.created_at,
            later.message_id.is_distinct_from(SearchLog.message_id),
        )
        .scalar_subquery()
    )
    next_request = (
        select(func.min(HandoffCase.requested_at))
        .where(
            HandoffCase.conversation_id == SearchLog.conversation_id,
            HandoffCase.requested_at >= SearchLog.created_at,
        )
        .scalar_subquery()
    )
    window = COMEBACK.total_seconds()
    return or_(
        _seconds_sqlite(next_question, SearchLog.created_at) <= window,
        _seconds_sqlite(next_request, SearchLog.created_at) <= window,
    )


def _seconds_sqlite(later: object, earlier: object) -> ColumnElement[float]:
    """Seconds from ``earlier`` to ``later`` to the millisecond; more than the window
    when ``later`` is NULL."""
    gap = func.round((func.julianday(later) - func.julianday(earlier)) * 86400.0, 3)
    return func.coalesce(gap, literal(COMEBACK.total_seconds() + 1, Float))
