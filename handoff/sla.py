"""The first-response SLA: a deadline for each request counted in business hours, a
reminder in the topic before it, and a miss reported to the supervisors.

The deadline is fixed when the request is made (`handoff.service.HandoffService`). The
watcher looks at open cases every few seconds; each reminder and miss is recorded on
the case by a conditional update, so with several bot processes each fires once, and
it reaches the group as a handoff event (in order with the conversation's other
events, retried until the group has it). The clock is a parameter, so tests move time.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select, update

from core.db import SessionFactory
from core.models import HandoffCase, as_utc, utcnow
from core.waiting import wait_any
from handoff.events import EventKind, add_event, notify_on_commit

if TYPE_CHECKING:
    from core.settings import Settings
    from handoff.calendar import BusinessCalendar

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class SlaPolicy:
    """First-response target and business hours.

    Attributes:
        first_response: Business time an operator has for the first answer.
        reminder_before: How long before the deadline the topic is reminded.
        calendar: When operators work; None means around the clock.
    """

    first_response: timedelta
    reminder_before: timedelta
    calendar: BusinessCalendar | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> SlaPolicy:
        from handoff.calendar import BusinessCalendar

        calendar = BusinessCalendar.parse(
            settings.business_hours, settings.holidays, settings.timezone, settings.workdays
        )
        return cls(
            timedelta(minutes=settings.sla_first_response_minutes),
            timedelta(minutes=settings.sla_reminder_minutes),
            calendar,
        )

    def due(self, requested_at: datetime) -> datetime:
        if self.calendar is None:
            return requested_at + self.first_response
        return self.calendar.add_business_time(requested_at, self.first_response)

    def closed_notice(self, at: datetime) -> str | None:
        """What a citizen asking at ``at`` outside business hours is told; None in hours."""
        if self.calendar is None or self.calendar.is_open(at):
            return None
        return self.calendar.describe_next_open(at)


class SlaWatcher:
    """Fires reminders and misses of open cases' first-response deadlines.

    Args:
        sessions: The session factory.
        policy: The SLA policy.
        notify: Called after events were stored (wakes the relay).
        clock: The current time (tests pass their own).
        interval: Seconds between looks.
    """

    def __init__(
        self,
        sessions: SessionFactory,
        policy: SlaPolicy,
        notify: Callable[[], None] | None = None,
        *,
        clock: Clock = utcnow,
        interval: float = 10.0,
    ) -> None:
        self._sessions = sessions
        self._policy = policy
        self._notify = notify
        self._clock = clock
        self._interval = interval

    async def run(self, stop: asyncio.Event) -> None:
        failures = 0
        while not stop.is_set():
            try:
                await self.check()
                failures = 0
            except Exception as error:
                failures += 1
                if failures == 1:
                    log.warning("SLA check failed: %s", type(error).__name__)
            await wait_any(self._interval * min(failures + 1, 10), stop)

    async def check(self) -> tuple[int, int]:
        """Fire what is due now; returns the reminders and misses fired."""
        now = self._clock()
        remind_from = now + self._policy.reminder_before
        reminders = misses = 0
        async with self._sessions.begin() as session:
            due = (
                await session.execute(
                    select(HandoffCase.id, HandoffCase.conversation_id, HandoffCase.sla_due_at)
                    .where(
                        HandoffCase.ended_at.is_(None),
                        HandoffCase.first_response_at.is_(None),
                        HandoffCase.sla_missed_at.is_(None),
                        HandoffCase.sla_due_at <= remind_from,
                    )
                    .order_by(HandoffCase.sla_due_at)
                    .limit(500)
                )
            ).all()
            for case_id, conversation_id, due_at in due:
                due_at = as_utc(due_at)
                if due_at <= now:
                    column, kind = HandoffCase.sla_missed_at, EventKind.SLA_MISSED
                else:
                    column, kind = HandoffCase.sla_reminded_at, EventKind.SLA_REMINDER
                fired = await session.execute(
                    update(HandoffCase)
                    .where(HandoffCase.id == case_id, column.is_(None))
                    .values({column: now})
                )
                if not fired.rowcount:
                    continue
                add_event(
                    session,
                    conversation_id,
                    kind,
                    0,
                    {"case": case_id, "due_at": due_at.isoformat()},
                )
                notify_on_commit(session, self._notify)
                if kind is EventKind.SLA_MISSED:
                    misses += 1
                else:
                    reminders += 1
        return reminders, misses
