"""The supervisors' dashboard: the figures of a period, the conversations behind a
figure, a conversation's transcript and the figures as CSV.

A period is ``[start, end)`` in local days of the administration's time zone (``tz``,
UTC when not given): from local midnight of ``start`` to local midnight of ``end``.
Every figure is read from the database at the time of the call; the large tables
(messages, the search log) are aggregated in SQL, the handoff cases (far fewer) in
Python. What each figure counts:

- **Messages** (``Dashboard.messages``): rows of ``messages`` per local day, channel and
  direction. Inbound is everything citizens sent (texts, button presses, commands,
  media); outbound is what the bot and the operators sent.
- **Conversations**: conversations in which the citizen wrote at least once in the
  period.
- **A question** is a row of the search log: one question the bot looked up in the
  knowledge base, at the time it was looked up. Not an inbound message: button
  presses, commands, greetings and thanks, media and whatever citizens write to an
  operator are not questions, and a message asking several questions is looked up
  question by question (a row each). So «questions» is what the bot was asked to
  answer, which is what its resolution rates are about.
- **Answered**: the bot answered with an FAQ entry: it decided to answer, or the citizen
  chose one of the entries it offered. Naive rate = answered / questions.
- **Honestly resolved**: an answered question that the citizen did not reject (no
  «Не помогло» and no «Позвать оператора» under the answer) and after which, for 72
  hours, the same conversation had no new question (one from another message) and no
  operator request. The issue says «no new contact from that citizen»: today every
  identity is its own citizen and a citizen writes into one open conversation, which
  only an operator closes (after an operator request, which counts already), so the
  conversation is the citizen. A citizen who asks something else within 72 hours
  counts as not helped by the first answer: the strict reading; the naive rate is the
  other bound.
- **Judged** and **pending**: whether a question was resolved is known 72 hours after
  it. Questions asked less than 72 hours before ``now`` are pending: left out of the
  honest rate (its denominator and its numerator) and counted apart, so that the rate
  of the last days is not flattered by comebacks that have not happened yet. Honest
  rate = honestly resolved / judged questions (all judged questions, answered or not).
  Whether a judged question came back cannot change any more, so it is worked out
  once and kept with the question (`admin.comebacks`).
- **Handoffs**: handoff cases requested in the period. Handoff rate = conversations
  with such a case / conversations.
- **Response times, SLA misses, ratings**: of the handoff cases requested in the period.
  Time to first response is from the request to the operator's first answer, in
  minutes (p50 and p90, nearest rank), per operator (cases they had) and per operator
  group (cases it received). A case missed its SLA when the SLA watcher marked it
  (``sla_missed_at``) or when it had a deadline and was answered after it, or was
  still unanswered past it (now, or when it ended unanswered).
- **Top categories**: each question counts for the FAQ entry the citizen chose, else
  the entry the search put first (even when the bot was not sure enough to answer),
  and so for that entry's category; «answered» counts the answered questions the same
  way, i.e. by the entry the bot answered with.
- **Rising topics**: FAQ entries (attributed the same way) asked more often in the week
  up to the period's end (the seven local days before ``end``, or before tomorrow when
  the period runs into the future) than in the week before it, and at least twice.

Times are compared to the microsecond on PostgreSQL and to the millisecond on SQLite
(which keeps them as text and measures spans with ``julianday``).
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import (
    DateTime,
    Integer,
    and_,
    case,
    column,
    extract,
    func,
    literal,
    literal_column,
    or_,
    select,
    text,
    values,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ColumnElement

from admin.comebacks import COMEBACK, settle
from core.db import SessionFactory
from core.domain import Channel, Decision, Direction, Feedback
from core.models import (
    Conversation,
    FaqEntry,
    HandoffCase,
    Identity,
    Message,
    SearchLog,
    as_utc,
    utcnow,
)
from handoff.figures import percentile
from knowledge_base.io.text import escape_formula

T = TypeVar("T")

DRILL_LIMIT = 100
TRANSCRIPT_LIMIT = 2000
RISING_LIMIT = 10
# The longest period: a query binds three values a day (PostgreSQL takes 32,767).
MAX_DAYS = 3660
# From this long on, SQLite reads all questions rather than a range of them.
LONG_PERIOD = timedelta(days=90)
# An entry asked fewer times than this in a week is not called a rising topic.
RISING_MIN = 2
CHANNELS = tuple(c.value for c in Channel)
NO_CATEGORY = "без категории"
NO_MATCH = "ничего не найдено"
NO_GROUP = "не доставлено в группу"
UTC_ZONE = ZoneInfo("UTC")


@dataclass(frozen=True)
class ChannelDay:
    """Messages of one channel on one local day."""

    day: date
    channel: str
    inbound: int
    outbound: int


@dataclass(frozen=True)
class ResponseTimes:
    """One operator's or one group's cases.

    Attributes:
        key: The operator's Telegram id or the group's chat id (None: never delivered).
        name: How to show it: the operator's name, the group's id or «не доставлено…».
        cases: Cases requested in the period that the operator had (or the group got).
        answered: Those with a first response.
        p50: Median minutes from the request to the first response; None when none.
        p90: The 90th percentile of the same.
        sla_missed: Those that missed the first-response deadline.
    """

    key: str | None
    name: str
    cases: int
    answered: int
    p50: float | None
    p90: float | None
    sla_missed: int


@dataclass(frozen=True)
class CategoryCount:
    """Questions attributed to one category (see the module's docstring)."""

    category: str
    asked: int
    answered: int


@dataclass(frozen=True)
class RisingTopic:
    """An FAQ entry asked more this week than the week before."""

    entry_id: int
    question: str
    category: str
    this_week: int
    last_week: int


@dataclass(frozen=True)
class Dashboard:
    """The figures of a period; the module's docstring defines each.

    Attributes:
        start: The first local day of the period.
        end: The local day after the last one.
        timezone: The time zone of the days.
        now: The moment the figures are as of (UTC).
        days: The local days of the period.
        channels: The channels, in the order of ``messages``.
        messages: Messages of each day and channel (zeros included), by day, then channel.
        conversations: Conversations in which the citizen wrote in the period.
        questions: Questions the bot looked up.
        answered: Of those, answered with an FAQ entry.
        naive_rate: answered / questions.
        not_helped: Questions whose answer the citizen rejected with «Не помогло».
        judged: Questions asked at least 72 hours before ``now``.
        pending: Questions asked less than 72 hours before ``now``.
        honest_resolved: Judged questions honestly resolved.
        came_back: Judged answered questions, not rejected, yet followed within 72 hours
            by a new question or an operator request.
        honest_rate: honest_resolved / judged.
        handoffs: Handoff cases requested in the period.
        handed_off_conversations: Conversations with such a case.
        handoff_rate: handed_off_conversations / conversations.
        response_p50: Median minutes to the first response over all cases.
        response_p90: The 90th percentile of the same.
        response_by_operator: Per operator, by name.
        response_by_group: Per operator group, by id.
        sla_missed: Cases that missed the first-response deadline.
        csat_mean: The mean rating (1–5) of the cases; None when none was rated.
        csat_count: Rated cases.
        csat_distribution: Rated cases with each score, 1 to 5.
        top_categories: Questions per category, most asked first.
        this_week: The first day of the week the rising topics are counted in (the
            week before it is the one they are compared with).
        rising_topics: Entries asked more in that week than the week before, the
            largest rise first (at most ten).
    """

    start: date
    end: date
    timezone: str
    now: datetime
    days: tuple[date, ...]
    channels: tuple[str, ...]
    messages: tuple[ChannelDay, ...]
    conversations: int
    questions: int
    answered: int
    naive_rate: float | None
    not_helped: int
    judged: int
    pending: int
    honest_resolved: int
    came_back: int
    honest_rate: float | None
    handoffs: int
    handed_off_conversations: int
    handoff_rate: float | None
    response_p50: float | None
    response_p90: float | None
    response_by_operator: tuple[ResponseTimes, ...]
    response_by_group: tuple[ResponseTimes, ...]
    sla_missed: int
    csat_mean: float | None
    csat_count: int
    csat_distribution: tuple[int, int, int, int, int]
    top_categories: tuple[CategoryCount, ...]
    this_week: date
    rising_topics: tuple[RisingTopic, ...]

    @property
    def inbound(self) -> int:
        return sum(m.inbound for m in self.messages)

    @property
    def outbound(self) -> int:
        return sum(m.outbound for m in self.messages)


class DrillDown(StrEnum):
    """Which conversations `conversations` lists."""

    MESSAGES = "messages"  # the citizen wrote (in the day, on the channel)
    HANDOFFS = "handoffs"  # a handoff case was requested
    SLA_MISSED = "sla_missed"  # a case requested in the period missed its SLA
    NOT_HELPED = "not_helped"  # the citizen pressed «Не помогло» under an answer


@dataclass(frozen=True)
class ConversationRow:
    """A conversation behind a figure.

    Attributes:
        id: The conversation.
        channel: Its channel.
        citizen: The citizen's name on the channel, else @username, else the user id.
        status: Its status now.
        first_at: The first event of the kind listed in the period (a message, a
            request, a question), UTC.
        last_at: The last one.
        count: Events of that kind in the period.
    """

    id: int
    channel: str
    citizen: str
    status: str
    first_at: datetime
    last_at: datetime
    count: int


@dataclass(frozen=True)
class TranscriptMessage:
    """One message of a transcript.

    Attributes:
        author: Who wrote it, to show: the citizen's name, «бот» or «оператор <name>».
        author_kind: ``citizen``, ``bot`` or ``operator``.
    """

    id: int
    at: datetime
    direction: str
    author: str
    author_kind: str
    kind: str
    text: str
    delivery_status: str | None
    attachments: int


@dataclass(frozen=True)
class TranscriptCase:
    """One stay of the conversation with the operators (`core.models.HandoffCase`)."""

    id: int
    reason: str | None
    group_chat_id: str | None
    operator_id: str | None
    operator_name: str | None
    requested_at: datetime
    taken_at: datetime | None
    first_response_at: datetime | None
    sla_due_at: datetime | None
    sla_missed_at: datetime | None
    ended_at: datetime | None
    outcome: str | None
    reopenings: int
    csat_score: int | None
    csat_comment: str | None


@dataclass(frozen=True)
class Transcript:
    """A conversation's messages in order and its handoff cases.

    Attributes:
        omitted: Earlier messages left out (only the last ``TRANSCRIPT_LIMIT`` are
            given).
    """

    id: int
    channel: str
    citizen: str
    status: str
    created_at: datetime
    closed_at: datetime | None
    messages: tuple[TranscriptMessage, ...]
    cases: tuple[TranscriptCase, ...]
    omitted: int = 0


@dataclass(frozen=True)
class _Period:
    start: date
    end: date
    tz: ZoneInfo

    def at(self, day: date) -> datetime:
        """Local midnight of ``day`` in UTC."""
        return datetime.combine(day, time(), tzinfo=self.tz).astimezone(UTC)

    @property
    def lo(self) -> datetime:
        return self.at(self.start)

    @property
    def hi(self) -> datetime:
        return self.at(self.end)

    @property
    def days(self) -> tuple[date, ...]:
        count = (self.end - self.start).days
        return tuple(self.start + timedelta(days=n) for n in range(count))


def _period(start: date, end: date, tz: ZoneInfo | None) -> _Period:
    if start >= end:
        raise ValueError("начало периода должно быть раньше его конца")
    if (end - start).days > MAX_DAYS:
        raise ValueError("период не может быть длиннее десяти лет")
    return _Period(start, end, tz or UTC_ZONE)


async def dashboard(
    sessions: SessionFactory,
    start: date,
    end: date,
    *,
    now: datetime | None = None,
    tz: ZoneInfo | None = None,
) -> Dashboard:
    """The figures of ``[start, end)`` (local days of ``tz``) as of ``now``.

    First settles whether the questions older than 72 hours came back
    (`admin.comebacks`, a write of derived data); then the queries run at once, each
    in a session of its own (a figure may see a row that a figure read a moment before
    did not).

    Raises:
        ValueError: ``start`` is not before ``end``, or the period is longer than ten
            years (the message is for the person, in Russian).
    """
    period = _period(start, end, tz)
    now = as_utc(now) if now is not None else utcnow()
    # What the web server's periodic job has not settled yet: a few minutes of
    # questions, or all of them the first time.
    await settle(sessions, now)
    week_end = min(end, now.astimezone(period.tz).date() + timedelta(days=1))
    this_week = week_end - timedelta(days=7)
    fortnight = _Period(this_week - timedelta(days=7), week_end, period.tz)

    async def cases_and_rising(
        session: AsyncSession,
    ) -> tuple[list[_Case], tuple[RisingTopic, ...]]:
        return await _cases(session, period, now), await _rising(session, fortnight)

    # Five sessions: as many as the pool keeps open by default, so none is opened anew.
    days, conversations, questions, categories, (cases, rising) = await asyncio.gather(
        _read(sessions, lambda s: _message_days(s, period)),
        _read(sessions, lambda s: _conversation_count(s, period)),
        _read(sessions, lambda s: _questions(s, period, now)),
        _read(sessions, lambda s: _categories(s, period)),
        _read(sessions, cases_and_rising),
    )
    ratings = [c.csat for c in cases if c.csat is not None]
    minutes = [c.minutes for c in cases if c.minutes is not None]
    handed = len({c.conversation_id for c in cases})
    return Dashboard(
        start=start,
        end=end,
        timezone=str(period.tz),
        now=now,
        days=period.days,
        channels=CHANNELS,
        messages=days,
        conversations=conversations,
        questions=questions.asked,
        answered=questions.answered,
        naive_rate=_share(questions.answered, questions.asked),
        not_helped=questions.not_helped,
        judged=questions.asked - questions.pending,
        pending=questions.pending,
        honest_resolved=questions.resolved,
        came_back=questions.came_back,
        honest_rate=_share(questions.resolved, questions.asked - questions.pending),
        handoffs=len(cases),
        handed_off_conversations=handed,
        handoff_rate=_share(handed, conversations),
        response_p50=percentile(minutes, 50),
        response_p90=percentile(minutes, 90),
        response_by_operator=_response_times(cases, by_operator=True),
        response_by_group=_response_times(cases, by_operator=False),
        sla_missed=sum(c.missed for c in cases),
        csat_mean=sum(ratings) / len(ratings) if ratings else None,
        csat_count=len(ratings),
        csat_distribution=_distribution(ratings),
        top_categories=categories,
        this_week=this_week,
        rising_topics=rising,
    )


async def _read(sessions: SessionFactory, query: Callable[[AsyncSession], Awaitable[T]]) -> T:
    async with sessions() as session:
        if _dialect(session) == "postgresql":
            # These are short reports over many rows: compiling them (JIT) takes longer
            # than running them.
            await session.execute(text("SET LOCAL jit = off"))
        return await query(session)


def _dialect(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _distribution(ratings: Iterable[int]) -> tuple[int, int, int, int, int]:
    counts = Counter(ratings)
    return (counts[1], counts[2], counts[3], counts[4], counts[5])


# --- messages ---


async def _message_days(session: AsyncSession, period: _Period) -> tuple[ChannelDay, ...]:
    """Messages per day, channel and direction: one count over an index range for each
    (the index is ordered by channel, direction and time), which reads no rows and
    needs no sorting, unlike a GROUP BY over a computed local day."""
    days = period.days
    bounds = (
        values(
            column("n", Integer),
            column("lo", DateTime(timezone=True)),
            column("hi", DateTime(timezone=True)),
            name="days",
        )
        .data(
            [(n, period.at(day), period.at(day + timedelta(days=1))) for n, day in enumerate(days)]
        )
        .cte("days")
    )
    counts = [
        select(func.count())
        .where(
            Message.channel == channel,
            Message.direction == direction,
            Message.created_at >= bounds.c.lo,
            Message.created_at < bounds.c.hi,
        )
        .scalar_subquery()
        for channel in CHANNELS
        for direction in (Direction.IN, Direction.OUT)
    ]
    rows = {row[0]: row[1:] for row in await session.execute(select(bounds.c.n, *counts))}
    result = []
    for n, day in enumerate(days):
        row = rows[n]
        for c, channel in enumerate(CHANNELS):
            result.append(ChannelDay(day, channel, int(row[2 * c]), int(row[2 * c + 1])))
    return tuple(result)


async def _conversation_count(session: AsyncSession, period: _Period) -> int:
    # GROUP BY rather than count(DISTINCT): PostgreSQL hashes the one and sorts the other.
    written = (
        select(Message.conversation_id)
        .where(
            Message.channel.in_(CHANNELS),
            Message.direction == Direction.IN,
            Message.created_at >= period.lo,
            Message.created_at < period.hi,
        )
        .group_by(Message.conversation_id)
        .subquery()
    )
    return int(await session.scalar(select(func.count()).select_from(written)) or 0)


# --- questions ---


@dataclass(frozen=True)
class _Questions:
    asked: int
    answered: int
    not_helped: int
    pending: int
    resolved: int
    came_back: int


def _answered() -> ColumnElement[bool]:
    return or_(SearchLog.decision == Decision.ANSWER, SearchLog.chosen_entry_id.is_not(None))


def _kept() -> ColumnElement[bool]:
    """Answered and not rejected: no «Не помогло», no operator asked for under it."""
    return and_(
        _answered(), or_(SearchLog.feedback.is_(None), SearchLog.feedback == Feedback.HELPED)
    )


def _count(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


async def _questions(session: AsyncSession, period: _Period, now: datetime) -> _Questions:
    """One pass over the period's questions. Whether a judged question came back is
    read from ``came_back``, which `admin.comebacks.settle` has filled for every
    question older than 72 hours (`dashboard` settles before it counts)."""
    judge = now - COMEBACK
    at = _searched_at(_dialect(session), period)
    judged_kept = and_(SearchLog.created_at < judge, _kept())
    row = (
        await session.execute(
            select(
                func.count(),
                _count(_answered()),
                _count(SearchLog.feedback == Feedback.NOT_HELPED),
                _count(SearchLog.created_at >= judge),
                _count(and_(judged_kept, SearchLog.came_back.is_(False))),
                _count(judged_kept),
            ).where(at >= period.lo, at < period.hi)
        )
    ).one()
    asked, answered, not_helped, pending, resolved, kept = (int(v or 0) for v in row)
    return _Questions(asked, answered, not_helped, pending, resolved, kept - resolved)


def _searched_at(dialect: str, period: _Period) -> Any:
    """The question's time, to select the period's questions by. Over a long period
    SQLite is kept off the indexes that begin with the time (the unary ``+``): it then
    reads the whole of a covering index, which is faster than going from the time
    index to index entries or rows all over the file."""
    if dialect == "sqlite" and period.end - period.start > LONG_PERIOD:
        return literal_column("+search_log.created_at", DateTime(timezone=True))
    return SearchLog.created_at


# --- handoff cases ---


@dataclass(frozen=True)
class _Case:
    conversation_id: int
    operator_id: str | None
    operator_name: str | None
    group: str | None
    minutes: float | None
    missed: bool
    csat: int | None


def _missed(now: datetime) -> ColumnElement[bool]:
    """The case missed its first-response deadline (see the module's docstring)."""
    answered_or_open = func.coalesce(
        HandoffCase.first_response_at,
        HandoffCase.ended_at,
        literal(now, DateTime(timezone=True)),
    )
    return or_(
        HandoffCase.sla_missed_at.is_not(None),
        and_(HandoffCase.sla_due_at.is_not(None), answered_or_open > HandoffCase.sla_due_at),
    )


async def _cases(session: AsyncSession, period: _Period, now: datetime) -> list[_Case]:
    if _dialect(session) == "postgresql":
        seconds: Any = extract("epoch", HandoffCase.first_response_at - HandoffCase.requested_at)
    else:
        seconds = func.round(
            (
                func.julianday(HandoffCase.first_response_at)
                - func.julianday(HandoffCase.requested_at)
            )
            * 86400.0,
            3,
        )
    rows = await session.execute(
        select(
            HandoffCase.conversation_id,
            HandoffCase.operator_id,
            HandoffCase.operator_name,
            HandoffCase.group_chat_id,
            seconds,
            case((_missed(now), 1), else_=0),
            HandoffCase.csat_score,
        )
        .where(HandoffCase.requested_at >= period.lo, HandoffCase.requested_at < period.hi)
        .order_by(HandoffCase.id)
    )
    return [
        _Case(
            conversation,
            operator,
            name,
            group,
            float(sec) / 60 if sec is not None else None,
            bool(missed),
            csat,
        )
        for conversation, operator, name, group, sec, missed, csat in rows
    ]


def _response_times(cases: Sequence[_Case], *, by_operator: bool) -> tuple[ResponseTimes, ...]:
    grouped: dict[str | None, list[_Case]] = defaultdict(list)
    names: dict[str | None, str] = {}
    for c in cases:
        if by_operator:
            if c.operator_id is None:
                continue
            grouped[c.operator_id].append(c)
            names[c.operator_id] = c.operator_name or names.get(c.operator_id) or c.operator_id
        else:
            grouped[c.group].append(c)
            names[c.group] = c.group or NO_GROUP
    result = []
    for key, group in grouped.items():
        minutes = [c.minutes for c in group if c.minutes is not None]
        result.append(
            ResponseTimes(
                key=key,
                name=names[key],
                cases=len(group),
                answered=len(minutes),
                p50=percentile(minutes, 50),
                p90=percentile(minutes, 90),
                sla_missed=sum(c.missed for c in group),
            )
        )
    return tuple(sorted(result, key=lambda r: (r.name, r.key or "")))


# --- topics ---


def _attributed(at: Any, lo: datetime, hi: datetime) -> Any:
    """The questions searched in ``[lo, hi)`` (by ``at``) with the entry each is
    attributed to (``entry``: the one the citizen chose, else the search's first hit,
    kept in ``top_entry_id``), whether it was answered and when it was searched
    (``at``)."""
    entry = func.coalesce(SearchLog.chosen_entry_id, SearchLog.top_entry_id)
    return (
        select(
            entry.label("entry"),
            _answered().label("answered"),
            SearchLog.created_at.label("at"),
        )
        .where(at >= lo, at < hi)
        .subquery("attributed")
    )


async def _entries(session: AsyncSession, ids: Iterable[int]) -> dict[int, tuple[str, str]]:
    """Question and category label of each existing entry of ``ids``."""
    wanted = sorted(set(ids))
    found: dict[int, tuple[str, str]] = {}
    for begin in range(0, len(wanted), 500):
        rows = await session.execute(
            select(FaqEntry.id, FaqEntry.question, FaqEntry.category).where(
                FaqEntry.id.in_(wanted[begin : begin + 500])
            )
        )
        for entry_id, question, category in rows:
            found[entry_id] = (question, category or NO_CATEGORY)
    return found


async def _categories(session: AsyncSession, period: _Period) -> tuple[CategoryCount, ...]:
    dialect = _dialect(session)
    asked = _attributed(_searched_at(dialect, period), period.lo, period.hi)
    rows = (
        await session.execute(
            select(asked.c.entry, func.count(), _count(asked.c.answered)).group_by(asked.c.entry)
        )
    ).all()
    entries = await _entries(session, (entry for entry, _, _ in rows if entry is not None))
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for entry, count, answered in rows:
        label = NO_MATCH if entry is None else entries.get(entry, ("", NO_CATEGORY))[1]
        totals[label][0] += int(count)
        totals[label][1] += int(answered or 0)
    ordered = sorted(totals.items(), key=lambda item: (-item[1][0], item[0]))
    return tuple(CategoryCount(label, asked, answered) for label, (asked, answered) in ordered)


async def _rising(session: AsyncSession, weeks: _Period) -> tuple[RisingTopic, ...]:
    """``weeks`` is the fortnight: the week before, then this week."""
    middle = weeks.at(weeks.start + timedelta(days=7))
    asked = _attributed(SearchLog.created_at, weeks.lo, weeks.hi)
    rows = await session.execute(
        select(asked.c.entry, _count(asked.c.at >= middle), _count(asked.c.at < middle))
        .where(asked.c.entry.is_not(None))
        .group_by(asked.c.entry)
    )
    counts = [
        (int(entry), int(now), int(before))
        for entry, now, before in rows
        if int(now) > int(before) and int(now) >= RISING_MIN
    ]
    counts.sort(key=lambda c: (-(c[1] - c[2]), -c[1], c[0]))
    counts = counts[:RISING_LIMIT]
    entries = await _entries(session, (entry for entry, _, _ in counts))
    return tuple(
        RisingTopic(entry, *entries.get(entry, ("(запись удалена)", NO_CATEGORY)), now, before)
        for entry, now, before in counts
    )


# --- drill-down ---


async def conversations(
    sessions: SessionFactory,
    start: date,
    end: date,
    *,
    kind: DrillDown = DrillDown.MESSAGES,
    channel: str | None = None,
    day: date | None = None,
    operator: str | None = None,
    group: str | None = None,
    now: datetime | None = None,
    tz: ZoneInfo | None = None,
    limit: int = DRILL_LIMIT,
) -> list[ConversationRow]:
    """The conversations behind a figure of ``[start, end)``, latest event first.

    Args:
        sessions: The session factory.
        start: The first local day of the period.
        end: The local day after the last one.
        kind: What the conversations had in the period (`DrillDown`).
        channel: Only conversations of this channel.
        day: Only events of this local day (none when it is outside the period).
        operator: Only cases this operator (Telegram id) had (handoffs, SLA misses).
        group: Only cases this operator group (chat id) got (handoffs, SLA misses).
        now: The moment of the figures, for SLA misses of unanswered cases.
        tz: The time zone of the days (UTC when not given).
        limit: The most conversations returned.

    Raises:
        ValueError: ``start`` is not before ``end``, or the period is longer than ten
            years.
    """
    period = _period(start, end, tz)
    lo, hi = period.lo, period.hi
    if day is not None:
        lo, hi = max(lo, period.at(day)), min(hi, period.at(day + timedelta(days=1)))
        if lo >= hi:
            return []
    now = as_utc(now) if now is not None else utcnow()
    query = _events(kind, lo, hi, channel=channel, operator=operator, group=group, now=now)
    events = query.subquery("events")
    statement = (
        select(
            Conversation.id,
            Conversation.channel,
            Conversation.status,
            Identity.display_name,
            Identity.username,
            Identity.external_id,
            events.c.first_at,
            events.c.last_at,
            events.c.events,
        )
        .join(events, events.c.conversation_id == Conversation.id)
        .join(Identity, Identity.id == Conversation.identity_id)
        .order_by(events.c.last_at.desc(), Conversation.id.desc())
        .limit(limit)
    )
    if channel is not None:
        statement = statement.where(Conversation.channel == channel)
    async with sessions() as session:
        rows = (await session.execute(statement)).all()
    return [
        ConversationRow(
            id=row.id,
            channel=row.channel,
            citizen=_citizen(row.display_name, row.username, row.external_id),
            status=row.status,
            first_at=as_utc(row.first_at),
            last_at=as_utc(row.last_at),
            count=int(row.events),
        )
        for row in rows
    ]


def _events(
    kind: DrillDown,
    lo: datetime,
    hi: datetime,
    *,
    channel: str | None,
    operator: str | None,
    group: str | None,
    now: datetime,
) -> Any:
    """Per conversation: the first and last time and the number of events of ``kind``."""
    query: Any
    if kind in (DrillDown.HANDOFFS, DrillDown.SLA_MISSED):
        at: Any = HandoffCase.requested_at
        query = select(HandoffCase.conversation_id.label("conversation_id"))
        query = query.where(at >= lo, at < hi)
        if kind == DrillDown.SLA_MISSED:
            query = query.where(_missed(now))
        if operator is not None:
            query = query.where(HandoffCase.operator_id == operator)
        if group is not None:
            query = query.where(HandoffCase.group_chat_id == group)
        return query.add_columns(
            func.min(at).label("first_at"),
            func.max(at).label("last_at"),
            func.count().label("events"),
        ).group_by(HandoffCase.conversation_id)
    if kind == DrillDown.NOT_HELPED:
        at = SearchLog.created_at
        query = select(SearchLog.conversation_id.label("conversation_id")).where(
            at >= lo, at < hi, SearchLog.feedback == Feedback.NOT_HELPED
        )
        return query.add_columns(
            func.min(at).label("first_at"),
            func.max(at).label("last_at"),
            func.count().label("events"),
        ).group_by(SearchLog.conversation_id)
    at = Message.created_at
    query = select(Message.conversation_id.label("conversation_id")).where(
        Message.channel.in_(CHANNELS) if channel is None else Message.channel == channel,
        Message.direction == Direction.IN,
        at >= lo,
        at < hi,
    )
    return query.add_columns(
        func.min(at).label("first_at"), func.max(at).label("last_at"), func.count().label("events")
    ).group_by(Message.conversation_id)


def _citizen(display_name: str | None, username: str | None, external_id: str) -> str:
    if display_name:
        return display_name
    return f"@{username}" if username else f"id {external_id}"


# --- transcript ---


async def transcript(
    sessions: SessionFactory, conversation_id: int, *, limit: int = TRANSCRIPT_LIMIT
) -> Transcript | None:
    """A conversation's messages (the last ``limit``, oldest first) and its handoff
    cases (in the order requested); None when there is no such conversation."""
    async with sessions() as session:
        found = (
            await session.execute(
                select(Conversation, Identity)
                .join(Identity, Identity.id == Conversation.identity_id)
                .where(Conversation.id == conversation_id)
            )
        ).first()
        if found is None:
            return None
        conversation, identity = found
        total = int(
            await session.scalar(
                select(func.count()).where(Message.conversation_id == conversation_id)
            )
            or 0
        )
        messages = (
            await session.scalars(
                select(Message)
                .where(Message.conversation_id == conversation_id)
                .order_by(Message.created_at.desc(), Message.id.desc())
                .limit(limit)
            )
        ).all()
        cases = (
            await session.scalars(
                select(HandoffCase)
                .where(HandoffCase.conversation_id == conversation_id)
                .order_by(HandoffCase.requested_at, HandoffCase.id)
            )
        ).all()
    citizen = _citizen(identity.display_name, identity.username, identity.external_id)
    operators = {
        c.operator_id: c.operator_name for c in cases if c.operator_id and c.operator_name
    }
    return Transcript(
        id=conversation.id,
        channel=conversation.channel,
        citizen=citizen,
        status=conversation.status,
        created_at=as_utc(conversation.created_at),
        closed_at=as_utc(conversation.closed_at) if conversation.closed_at else None,
        messages=tuple(_message(m, citizen, operators) for m in reversed(messages)),
        cases=tuple(_case(c) for c in cases),
        omitted=max(0, total - len(messages)),
    )


def _message(message: Message, citizen: str, operators: dict[str, str]) -> TranscriptMessage:
    if message.direction == Direction.IN:
        author, kind = citizen, "citizen"
    elif message.author and message.author.startswith("operator:"):
        operator_id = message.author.removeprefix("operator:")
        author, kind = f"оператор {operators.get(operator_id, operator_id)}", "operator"
    else:
        author, kind = "бот", "bot"
    return TranscriptMessage(
        id=message.id,
        at=as_utc(message.created_at),
        direction=message.direction,
        author=author,
        author_kind=kind,
        kind=message.kind,
        text=message.text,
        delivery_status=message.delivery_status,
        attachments=len(message.attachments or ()),
    )


def _case(case_: HandoffCase) -> TranscriptCase:
    def moment(value: datetime | None) -> datetime | None:
        return as_utc(value) if value is not None else None

    return TranscriptCase(
        id=case_.id,
        reason=case_.reason,
        group_chat_id=case_.group_chat_id,
        operator_id=case_.operator_id,
        operator_name=case_.operator_name,
        requested_at=as_utc(case_.requested_at),
        taken_at=moment(case_.taken_at),
        first_response_at=moment(case_.first_response_at),
        sla_due_at=moment(case_.sla_due_at),
        sla_missed_at=moment(case_.sla_missed_at),
        ended_at=moment(case_.ended_at),
        outcome=case_.outcome,
        reopenings=case_.reopenings or 0,
        csat_score=case_.csat_score,
        csat_comment=case_.csat_comment,
    )


# --- CSV ---


def dashboard_csv(d: Dashboard) -> str:
    """The figures as CSV for Excel in a Russian locale: a byte-order mark, ``;`` between
    columns, decimal commas, one table after another (a title row, a header row, the
    rows, an empty row). Rates are in per cent, times in minutes."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")

    def block(title: str, header: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
        writer.writerow([title])
        writer.writerow(header)
        for row in rows:
            writer.writerow([escape_formula(_cell(v)) for v in row])
        writer.writerow([])

    block(
        "Период",
        ["начало", "конец (не включая)", "часовой пояс", "данные на"],
        [[d.start.isoformat(), d.end.isoformat(), d.timezone, f"{d.now:%Y-%m-%d %H:%M} UTC"]],
    )
    block("Сводка", ["показатель", "значение"], _summary(d))
    block(
        "Сообщения по дням",
        ["день", "канал", "от граждан", "гражданам"],
        [[m.day.isoformat(), m.channel, m.inbound, m.outbound] for m in d.messages],
    )
    times = ["обращений", "с ответом", "первый ответ p50, мин", "p90, мин", "просрочено"]
    for title, what, rows in (
        ("Время первого ответа по операторам", "оператор", d.response_by_operator),
        ("Время первого ответа по группам", "группа", d.response_by_group),
    ):
        block(
            title,
            [what, *times],
            [[r.name, r.cases, r.answered, r.p50, r.p90, r.sla_missed] for r in rows],
        )
    block(
        "Оценки", ["оценка", "количество"], [[n + 1, c] for n, c in enumerate(d.csat_distribution)]
    )
    block(
        "Категории",
        ["категория", "вопросов", "отвечено ботом"],
        [[c.category, c.asked, c.answered] for c in d.top_categories],
    )
    block(
        f"Растущие темы: неделя с {d.this_week.isoformat()} против предыдущей",
        ["вопрос", "категория", "на этой неделе", "на прошлой"],
        [[t.question, t.category, t.this_week, t.last_week] for t in d.rising_topics],
    )
    return out.getvalue()


def _summary(d: Dashboard) -> list[list[object]]:
    def percent(rate: float | None) -> float | None:
        return rate * 100 if rate is not None else None

    return [
        ["сообщений от граждан", d.inbound],
        ["сообщений гражданам", d.outbound],
        ["диалогов", d.conversations],
        ["вопросов", d.questions],
        ["отвечено ботом", d.answered],
        ["доля отвеченных, %", percent(d.naive_rate)],
        ["«Не помогло»", d.not_helped],
        ["вопросов старше 72 ч", d.judged],
        ["вопросов моложе 72 ч (ждут оценки)", d.pending],
        ["решено ботом честно", d.honest_resolved],
        ["вернулись в течение 72 ч", d.came_back],
        ["доля решённых честно, %", percent(d.honest_rate)],
        ["передано операторам", d.handoffs],
        ["диалогов у операторов", d.handed_off_conversations],
        ["доля переданных, %", percent(d.handoff_rate)],
        ["первый ответ p50, мин", d.response_p50],
        ["первый ответ p90, мин", d.response_p90],
        ["просрочено (SLA)", d.sla_missed],
        ["средняя оценка", d.csat_mean],
        ["оценок", d.csat_count],
    ]


def _cell(value: object) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.2f}".replace(".", ",")
    return str(value)
