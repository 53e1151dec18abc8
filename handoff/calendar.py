"""Business hours of the operators, for the first-response SLA and for telling a citizen
when somebody will answer.

The model
---------
A :class:`BusinessCalendar` describes when the operators work, in *local wall time* of
one IANA time zone (``Europe/Moscow`` by default in the settings):

* a **weekly schedule**: for each weekday, zero or more half-open intervals
  ``[start, end)`` of local time, e.g. ``"mon-thu 09:00-18:00; fri 09:00-16:45"`` or
  ``"mon-fri 09:00-13:00,14:00-18:00"`` (a lunch break). ``24:00`` is allowed as an end;
  an interval never crosses midnight (write ``22:00-24:00`` and ``00:00-06:00`` on the
  next day instead). ``"24/7"`` means *always open*: holidays and working dates are
  ignored then (write ``"mon-sun 00:00-24:00"`` for "round the clock except holidays");
* **holidays**: local dates on which the office is closed all day, even on a weekday
  that has hours;
* **working dates** (``workdays``): dates that are working days whatever their weekday
  (Russia moves weekends, so a Saturday can be a working day). On such a date the
  **Monday schedule** applies: a moved working day is an ordinary full day, and Monday is
  the weekday that normally has one. A date cannot be both a holiday and a working date.

For a local date the open intervals are therefore: none on a holiday; the Monday
schedule on a working date; the weekday's schedule otherwise. Each interval is turned
into an absolute UTC period through :mod:`zoneinfo`, so days that are 23 or 25 hours long
(DST changes) are handled: business time is always real elapsed time. A wall time that
does not exist (skipped by a spring-forward change) maps the way :mod:`zoneinfo` maps it
with ``fold=0``, i.e. with the offset in force before the change.

All public methods take and return timezone-aware datetimes in UTC; a naive datetime is
taken to be UTC (SQLite hands stored UTC timestamps back naive). Computations walk day by
day and interval by interval, never minute by minute, and look at most about 400 days
ahead for the next opening; the parser refuses calendars that would never open, or whose
holidays close the office for more than a year in a row.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["BusinessCalendar"]

Interval = tuple[int, int]
"""An open interval of one local day, ``[start, end)`` in minutes since midnight."""

DaySchedule = tuple[Interval, ...]

_DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_MINUTES_PER_DAY = 24 * 60
_SEARCH_DAYS = 400  # how far ahead the next opening is looked for
_MAX_CLOSED_DAYS = 366  # the longest closed stretch the parser accepts
_ALWAYS_OPEN = ("24/7", "24x7")

_TIME_RE = re.compile(r"(\d{1,2}):(\d{2})")
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DASHES = str.maketrans({"–": "-", "—": "-", "−": "-"})

_RU_DAYS_SHORT = ("пн", "вт", "ср", "чт", "пт", "сб", "вс")
# Accusative with the preposition: «в понедельник», «во вторник», «в среду»…
_RU_DAYS_ON = (
    "в понедельник",
    "во вторник",
    "в среду",
    "в четверг",
    "в пятницу",
    "в субботу",
    "в воскресенье",
)
_RU_MONTHS_GENITIVE = (
    "января",
    "февраля",
    "марта",
    "апреля",
    "мая",
    "июня",
    "июля",
    "августа",
    "сентября",
    "октября",
    "ноября",
    "декабря",
)


@dataclass(frozen=True)
class BusinessCalendar:
    """When the operators work; see the module docstring for the model.

    Build one with :meth:`parse`. The fields are the parsed, normalised form:

    Attributes:
        timezone: IANA time zone name of the schedule, e.g. ``"Europe/Moscow"``.
        week: Seven day schedules, Monday first; each is a sorted tuple of
            non-overlapping, non-touching ``(start, end)`` minute intervals.
        holidays: Local dates when the office is closed all day.
        workdays: Local dates that are working days with the Monday schedule.
        always_open: ``True`` for ``"24/7"``; the other fields are ignored then.
    """

    timezone: str
    week: tuple[DaySchedule, ...]
    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()
    always_open: bool = False

    def __post_init__(self) -> None:
        _zone(self.timezone)
        if len(self.week) != 7:
            raise ValueError(f"week must have 7 day schedules, got {len(self.week)}")
        if self.always_open:
            return
        if not any(self.week):
            raise ValueError("hours: no open intervals at all, the office would never be open")
        if self.workdays and not self.week[0]:
            raise ValueError(
                "workdays: working dates get the Monday schedule, but hours has no 'mon' intervals"
            )
        both = sorted(self.holidays & self.workdays)
        if both:
            raise ValueError(
                "dates listed both as holidays and as workdays: "
                + ", ".join(d.isoformat() for d in both)
            )
        self._check_closed_stretches()

    # -- construction ---------------------------------------------------------------

    @classmethod
    def parse(
        cls, hours: str, holidays: str, timezone: str, workdays: str = ""
    ) -> BusinessCalendar:
        """Build a calendar from the administrator's settings.

        Args:
            hours: The weekly schedule: ``;``-separated clauses of days and intervals,
                e.g. ``"mon-thu 09:00-18:00; fri 09:00-16:45"``,
                ``"mon,wed,fri 10:00-13:00,14:00-19:00"`` or ``"24/7"``. Day names are
                English three-letter ones (``mon`` … ``sun``); a range may wrap around the
                week (``fri-mon``). ``24:00`` may end an interval. A day may appear in
                several clauses as long as its intervals do not overlap.
            holidays: Comma- or space-separated ISO dates and inclusive ranges
                (``"2026-01-01..2026-01-08, 2026-02-23"``) when the office is closed.
            timezone: IANA time zone name of the schedule, e.g. ``"Europe/Moscow"``.
            workdays: Dates, in the same format, that are working days with the Monday
                schedule whatever their weekday (a moved working Saturday).

        Returns:
            The calendar.

        Raises:
            ValueError: A part of the input is malformed or the calendar would never be
                open; the message names the part (it is meant for the administrator).
        """
        _zone(timezone)
        text = hours.strip()
        if text.lower().replace(" ", "") in _ALWAYS_OPEN:
            week: tuple[DaySchedule, ...] = ((),) * 7
            always_open = True
        else:
            week = _parse_hours(text)
            always_open = False
        return cls(
            timezone=timezone.strip(),
            week=week,
            holidays=_parse_dates(holidays, "holidays"),
            workdays=_parse_dates(workdays, "workdays"),
            always_open=always_open,
        )

    # -- queries ----------------------------------------------------------------------

    def is_open(self, at: datetime) -> bool:
        """Whether the operators work at the moment ``at``.

        Intervals are half-open: open at 09:00 sharp, closed at 18:00 sharp.
        """
        at = _as_utc(at)
        if self.always_open:
            return True
        local_day = at.astimezone(self._tz).date()
        for day in (local_day - timedelta(days=1), local_day):
            for start, end in self._day_periods(day):
                if start <= at < end:
                    return True
        return False

    def next_open(self, at: datetime) -> datetime:
        """The first moment at or after ``at`` when the office is open.

        Returns:
            ``at`` itself (in UTC) when open, else the next opening moment.
        """
        at = _as_utc(at)
        if self.always_open:
            return at
        start, _ = next(self._open_periods(at))
        return start

    def add_business_time(self, start: datetime, duration: timedelta) -> datetime:
        """The moment when ``duration`` of open time has passed since ``start``.

        Only open periods count; a ``start`` outside business hours counts from the next
        opening. This is the SLA deadline: with ``09:00-18:00`` a request at 17:55 with a
        15-minute target is due at 09:10 of the next working day. A duration that ends
        exactly at closing time gives the closing moment, not the next opening; a zero
        duration gives :meth:`next_open`.

        Raises:
            ValueError: ``duration`` is negative.
        """
        start = _as_utc(start)
        if duration < timedelta(0):
            raise ValueError(f"duration must not be negative, got {duration}")
        if self.always_open:
            return start + duration
        remaining = duration
        for period_start, period_end in self._open_periods(start):
            length = period_end - period_start
            if remaining <= length:
                return period_start + remaining
            remaining -= length
        raise AssertionError("unreachable: _open_periods never ends")  # pragma: no cover

    def business_time_between(self, start: datetime, end: datetime) -> timedelta:
        """Open time between ``start`` and ``end``; zero when ``end <= start``."""
        start, end = _as_utc(start), _as_utc(end)
        if end <= start:
            return timedelta(0)
        if self.always_open:
            return end - start
        total = timedelta(0)
        day = start.astimezone(self._tz).date() - timedelta(days=1)
        last_day = end.astimezone(self._tz).date()
        while day <= last_day:
            for period_start, period_end in self._day_periods(day):
                overlap = min(period_end, end) - max(period_start, start)
                if overlap > timedelta(0):
                    total += overlap
            day += timedelta(days=1)
        return total

    # -- texts --------------------------------------------------------------------------

    def describe_hours(self) -> str:
        """The weekly schedule in Russian: «пн–пт 9:00–18:00», «круглосуточно»,
        «пн–чт 9:00–18:00; пт 9:00–16:45», «ежедневно 10:00–20:00»."""
        if self.always_open or all(d == ((0, _MINUTES_PER_DAY),) for d in self.week):
            return "круглосуточно"
        groups: dict[DaySchedule, list[int]] = {}
        for weekday, schedule in enumerate(self.week):
            if schedule:
                groups.setdefault(schedule, []).append(weekday)
        parts = []
        for schedule, weekdays in groups.items():
            days = "ежедневно" if len(weekdays) == 7 else _ru_days(weekdays)
            parts.append(f"{days} {_ru_schedule(schedule)}")
        return "; ".join(parts)

    def describe_next_open(self, at: datetime) -> str:
        """Russian text for a citizen saying when the operators will answer.

        E.g. «Операторы работают пн–пт 9:00–18:00 (время московское). Ответим
        в понедельник, 7 декабря, после 9:00.» The time is local to the calendar's zone,
        which is named («время московское» for Europe/Moscow, the zone name otherwise).
        «сегодня»/«завтра» are used for the same or the next local day and the year is
        added when the opening falls in another year. When the office is open at ``at``
        the text says that operators are available now.
        """
        at = _as_utc(at)
        if self.always_open:
            return "Операторы работают круглосуточно."
        hours = f"Операторы работают {self.describe_hours()} ({self._ru_zone()})"
        opening = self.next_open(at)
        if opening == at:
            return f"{hours}, сейчас они на связи."
        now_local = at.astimezone(self._tz)
        open_local = opening.astimezone(self._tz)
        open_day = open_local.date()
        time_text = _ru_time(open_local.hour * 60 + open_local.minute)
        date_text = f"{open_day.day} {_RU_MONTHS_GENITIVE[open_day.month - 1]}"
        if open_day.year != now_local.year:
            date_text += f" {open_day.year} г."
        on_day = f"{_RU_DAYS_ON[open_day.weekday()]}, {date_text}"
        days_ahead = (open_day - now_local.date()).days
        if days_ahead == 0:
            when = "сегодня"
        elif days_ahead == 1:
            when = f"завтра, {on_day},"
        else:
            when = f"{on_day},"
        return f"{hours}. Ответим {when} после {time_text}."

    # -- internals ----------------------------------------------------------------------

    @property
    def _tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)  # ZoneInfo caches instances by key

    def _ru_zone(self) -> str:
        if self.timezone == "Europe/Moscow":
            return "время московское"
        return f"часовой пояс {self.timezone}"

    def _day_schedule(self, day: date) -> DaySchedule:
        """The local intervals of one date (holidays and working dates applied)."""
        if day in self.holidays:
            return ()
        if day in self.workdays:
            return self.week[0]
        return self.week[day.weekday()]

    def _day_periods(self, day: date) -> list[tuple[datetime, datetime]]:
        """The UTC open periods of one local date, in order, non-overlapping."""
        tz = self._tz
        midnight = datetime.combine(day, time())
        periods: list[tuple[datetime, datetime]] = []
        for start_minute, end_minute in self._day_schedule(day):
            start = _to_utc(midnight + timedelta(minutes=start_minute), tz)
            end = _to_utc(midnight + timedelta(minutes=end_minute), tz)
            if periods:  # a skipped wall-clock hour can make intervals overlap in UTC
                start = max(start, periods[-1][1])
            if start < end:
                periods.append((start, end))
        return periods

    def _open_periods(self, after: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Open periods ending after ``after``, in order, the first one clipped to start no
        earlier than ``after``; endless.

        Raises:
            ValueError: No opening within ``_SEARCH_DAYS`` days (the parser's checks make
                this practically impossible).
        """
        day = after.astimezone(self._tz).date() - timedelta(days=1)
        closed_days = 0
        while True:
            periods = [(max(s, after), e) for s, e in self._day_periods(day) if e > after]
            day += timedelta(days=1)
            if periods:
                closed_days = 0
                yield from periods
                continue
            closed_days += 1
            if closed_days > _SEARCH_DAYS:
                raise ValueError(
                    f"the office does not open within {_SEARCH_DAYS} days after "
                    f"{after.isoformat()}"
                )

    def _check_closed_stretches(self) -> None:
        """Refuse holidays that close the office for more than a year in a row."""
        if not self.holidays:
            return
        day, last = min(self.holidays), max(self.holidays) + timedelta(days=7)
        closed_since: date | None = None
        while day <= last:
            if self._day_schedule(day):
                closed_since = None
            else:
                closed_since = closed_since or day
                if (day - closed_since).days >= _MAX_CLOSED_DAYS:
                    raise ValueError(
                        f"holidays: the office would be closed for more than a year "
                        f"from {closed_since.isoformat()}"
                    )
            day += timedelta(days=1)


# -- parsing ------------------------------------------------------------------------------


def _zone(name: str) -> ZoneInfo:
    key = name.strip()
    if not key:
        raise ValueError("timezone is empty; use an IANA name such as 'Europe/Moscow'")
    try:
        return ZoneInfo(key)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown timezone {name!r}; use an IANA name such as 'Europe/Moscow'"
        ) from None


def _parse_hours(text: str) -> tuple[DaySchedule, ...]:
    if not text:
        raise ValueError("hours is empty; write e.g. 'mon-fri 09:00-18:00' or '24/7'")
    days: list[list[Interval]] = [[] for _ in range(7)]
    clauses = [c.strip() for c in text.translate(_DASHES).split(";")]
    for clause in filter(None, clauses):
        match = re.fullmatch(r"([A-Za-z][A-Za-z,\-\s]*?)\s*(\d.*)", clause)
        if not match:
            raise ValueError(
                f"hours: cannot read {clause!r}; expected days and times such as "
                "'mon-fri 09:00-18:00'"
            )
        weekdays = _parse_days(match.group(1), clause)
        intervals = [_parse_interval(part, clause) for part in match.group(2).split(",")]
        for weekday in weekdays:
            days[weekday].extend(intervals)
    return tuple(_normalise_day(_DAY_NAMES[i], intervals) for i, intervals in enumerate(days))


def _parse_days(text: str, clause: str) -> list[int]:
    weekdays: list[int] = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            raise ValueError(f"hours: empty day name in {clause!r}")
        first, sep, last = (bound.strip() for bound in item.partition("-"))
        start = _day_index(first, clause)
        if not sep:
            weekdays.append(start)
            continue
        end = _day_index(last, clause)
        span = (end - start) % 7  # a range may wrap around the week: fri-mon
        weekdays.extend((start + i) % 7 for i in range(span + 1))
    return weekdays


def _day_index(name: str, clause: str) -> int:
    try:
        return _DAY_NAMES.index(name.lower())
    except ValueError:
        raise ValueError(
            f"hours: unknown day {name!r} in {clause!r}; use {', '.join(_DAY_NAMES)}"
        ) from None


def _parse_interval(text: str, clause: str) -> Interval:
    start_text, sep, end_text = (part.strip() for part in text.partition("-"))
    if not sep:
        raise ValueError(f"hours: {text.strip()!r} in {clause!r} is not a range like 09:00-18:00")
    start = _parse_time(start_text, clause)
    end = _parse_time(end_text, clause)
    if start == _MINUTES_PER_DAY:
        raise ValueError(f"hours: an interval cannot start at 24:00 in {clause!r}")
    if end <= start:
        raise ValueError(
            f"hours: {text.strip()!r} in {clause!r} does not end after it starts; an interval "
            "cannot cross midnight, split it into ...-24:00 and 00:00-..."
        )
    return start, end


def _parse_time(text: str, clause: str) -> int:
    match = _TIME_RE.fullmatch(text)
    if match:
        hour, minute = int(match.group(1)), int(match.group(2))
        if (hour < 24 and minute < 60) or (hour == 24 and minute == 0):
            return hour * 60 + minute
    raise ValueError(f"hours: bad time {text!r} in {clause!r}; use HH:MM from 00:00 to 24:00")


def _normalise_day(name: str, intervals: list[Interval]) -> DaySchedule:
    """Sort a day's intervals, refuse overlaps, merge touching ones."""
    merged: list[Interval] = []
    for start, end in sorted(intervals):
        if merged and start < merged[-1][1]:
            previous = merged[-1]
            raise ValueError(
                f"hours: on {name} {_hhmm(start)}-{_hhmm(end)} overlaps "
                f"{_hhmm(previous[0])}-{_hhmm(previous[1])} (is the day in two clauses?)"
            )
        if merged and start == merged[-1][1]:
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return tuple(merged)


def _parse_dates(text: str, what: str) -> frozenset[date]:
    dates: set[date] = set()
    for item in re.split(r"[\s,;]+", text.strip()):
        if not item:
            continue
        first, sep, last = item.partition("..")
        start = _parse_date(first, item, what)
        if not sep:
            dates.add(start)
            continue
        end = _parse_date(last, item, what)
        if end < start:
            raise ValueError(f"{what}: range {item!r} ends before it starts")
        if (end - start).days >= _MAX_CLOSED_DAYS:
            raise ValueError(f"{what}: range {item!r} is longer than a year")
        dates.update(start + timedelta(days=i) for i in range((end - start).days + 1))
    return frozenset(dates)


def _parse_date(text: str, item: str, what: str) -> date:
    if _DATE_RE.fullmatch(text):
        try:
            return date.fromisoformat(text)
        except ValueError:
            pass
    raise ValueError(
        f"{what}: bad date {text!r} in {item!r}; use YYYY-MM-DD or YYYY-MM-DD..YYYY-MM-DD"
    )


# -- small helpers ------------------------------------------------------------------------


def _as_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _to_utc(local_wall_time: datetime, tz: ZoneInfo) -> datetime:
    return local_wall_time.replace(tzinfo=tz).astimezone(UTC)


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _ru_time(minutes: int) -> str:
    return f"{minutes // 60}:{minutes % 60:02d}"


def _ru_schedule(schedule: DaySchedule) -> str:
    if schedule == ((0, _MINUTES_PER_DAY),):
        return "круглосуточно"
    return ", ".join(f"{_ru_time(start)}–{_ru_time(end)}" for start, end in schedule)


def _ru_days(weekdays: list[int]) -> str:
    """«пн–пт», «сб, вс», «пн, ср, пт»: runs of three or more days become a range."""
    runs: list[list[int]] = []
    for weekday in weekdays:
        if runs and weekday == runs[-1][-1] + 1:
            runs[-1].append(weekday)
        else:
            runs.append([weekday])
    parts: list[str] = []
    for run in runs:
        if len(run) >= 3:
            parts.append(f"{_RU_DAYS_SHORT[run[0]]}–{_RU_DAYS_SHORT[run[-1]]}")
        else:
            parts.extend(_RU_DAYS_SHORT[d] for d in run)
    return ", ".join(parts)
