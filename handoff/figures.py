"""The operators' figures, read from the handoff cases: time to first response, handling
time, SLA misses, reopenings and ratings, per operator and per group."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select

from core.db import SessionFactory
from core.models import HandoffCase, as_utc, utcnow


@dataclass
class Figures:
    """One operator's or one group's figures over a period.

    Attributes:
        who: «оператор …» or «группа …».
        cases: Cases handled (for an operator) or received (for a group).
        first_response: Minutes from the request to the first answer, per answered case.
        handling: Minutes from taking a case to its end, per ended case.
        sla_missed: Cases answered after their deadline, or not answered past it.
        reopenings: Times the citizen came back after closing.
        ratings: The citizens' ratings (1–5).
    """

    who: str
    cases: int = 0
    first_response: list[float] = field(default_factory=list)
    handling: list[float] = field(default_factory=list)
    sla_missed: int = 0
    reopenings: int = 0
    ratings: list[int] = field(default_factory=list)

    def add(self, case: HandoffCase, now: datetime) -> None:
        self.cases += 1
        requested = as_utc(case.requested_at)
        if case.first_response_at is not None:
            answered = as_utc(case.first_response_at)
            self.first_response.append((answered - requested).total_seconds() / 60)
        if case.taken_at is not None and case.ended_at is not None:
            handled = as_utc(case.ended_at) - as_utc(case.taken_at)
            self.handling.append(handled.total_seconds() / 60)
        if case.sla_due_at is not None:
            answered_or_now = as_utc(case.first_response_at) if case.first_response_at else now
            if answered_or_now > as_utc(case.sla_due_at):
                self.sla_missed += 1
        self.reopenings += case.reopenings or 0
        if case.csat_score is not None:
            self.ratings.append(case.csat_score)

    @property
    def csat(self) -> float | None:
        return sum(self.ratings) / len(self.ratings) if self.ratings else None

    def cells(self) -> list[str]:
        return [
            self.who,
            str(self.cases),
            _minutes(percentile(self.first_response, 50)),
            _minutes(percentile(self.first_response, 90)),
            str(self.sla_missed),
            _minutes(percentile(self.handling, 50)),
            str(self.reopenings),
            f"{self.csat:.2f}" if self.csat is not None else "—",
            str(len(self.ratings)),
        ]


def percentile(values: list[float], share: float) -> float | None:
    """The ``share``-th percentile (nearest rank); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * share // 100))
    return ordered[int(rank) - 1]


async def operator_figures(sessions: SessionFactory, days: int = 30) -> list[Figures]:
    """Figures of the cases requested in the last ``days`` days: each operator's (the
    cases they had), then each group's (the cases it received)."""
    now = utcnow()
    since = now - timedelta(days=days)
    async with sessions() as session:
        cases = (
            await session.scalars(select(HandoffCase).where(HandoffCase.requested_at >= since))
        ).all()
    operators: dict[str, Figures] = {}
    groups: dict[str, Figures] = defaultdict(lambda: Figures(""))
    for case in cases:
        if case.operator_id is not None:
            name = case.operator_name or case.operator_id
            figures = operators.setdefault(
                case.operator_id, Figures(f"оператор {name} ({case.operator_id})")
            )
            figures.add(case, now)
        group = case.group_chat_id or "не доставлено в группу"
        groups[group].who = f"группа {group}"
        groups[group].add(case, now)
    return sorted(operators.values(), key=lambda f: f.who) + sorted(
        groups.values(), key=lambda f: f.who
    )


def _minutes(value: float | None) -> str:
    return f"{value:.1f}" if value is not None else "—"
