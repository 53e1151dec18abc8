"""Business hours for the first-response SLA (handoff.calendar).

Weekdays used below (checked with a calendar): 2026-12-01 Tue, 2026-12-04 Fri,
2026-12-07 Mon, 2026-12-31 Thu, 2027-01-11 Mon, 2025-10-31 Fri, 2025-11-01 Sat,
2025-11-03 Mon, 2026-03-29 Sun (Europe/Berlin springs forward at 02:00 CET),
2026-10-25 Sun (Europe/Berlin falls back at 03:00 CEST).
"""

import dataclasses
import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from handoff.calendar import BusinessCalendar

MOSCOW = ZoneInfo("Europe/Moscow")
BERLIN = ZoneInfo("Europe/Berlin")
WEEKDAYS = "mon-fri 09:00-18:00"


def msk(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A Moscow wall time as an aware UTC datetime (Moscow is UTC+3 all year)."""
    return datetime(year, month, day, hour, minute, tzinfo=MOSCOW).astimezone(UTC)


def ber(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=BERLIN).astimezone(UTC)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def cal(hours: str = WEEKDAYS, holidays: str = "", tz: str = "Europe/Moscow", workdays: str = ""):
    return BusinessCalendar.parse(hours, holidays, tz, workdays)


def minutes(n: int) -> timedelta:
    return timedelta(minutes=n)


# -- parsing -------------------------------------------------------------------------------


def test_parse_normalises_the_schedule():
    c = cal("mon-thu 09:00-18:00; fri 09:00-16:45", "2026-01-01..2026-01-03, 2026-02-23")
    assert c.timezone == "Europe/Moscow"
    assert c.week == (
        ((540, 1080),),
        ((540, 1080),),
        ((540, 1080),),
        ((540, 1080),),
        ((540, 1005),),
        (),
        (),
    )
    assert c.holidays == {date(2026, 1, 1), date(2026, 1, 2), date(2026, 1, 3), date(2026, 2, 23)}
    assert c.workdays == frozenset()
    assert not c.always_open


def test_parse_day_lists_wrapping_ranges_and_lenient_spacing():
    c = cal(" MON , wed,fri 9:00 - 12:00 ; SAT - sun 10:00-11:00, 11:00-12:30 ;")
    assert c.week == (
        ((540, 720),),
        (),
        ((540, 720),),
        (),
        ((540, 720),),
        ((600, 750),),  # touching intervals are merged
        ((600, 750),),
    )
    # a range may wrap around the week; en dashes are accepted too
    wrapped = cal("fri–mon 10:00–12:00")
    assert [bool(day) for day in wrapped.week] == [True, False, False, False, True, True, True]


def test_a_day_may_appear_in_several_clauses_without_overlap():
    c = cal("mon-fri 09:00-13:00; mon-fri 14:00-18:00; sat 10:00-24:00")
    assert c.week[0] == ((540, 780), (840, 1080))
    assert c.week[5] == ((600, 1440),)


def test_holiday_and_workday_lists_accept_spaces_commas_and_ranges():
    c = cal(holidays="2026-05-01  2026-05-09,2026-05-11..2026-05-12", workdays="2026-11-28")
    assert c.holidays == {date(2026, 5, 1), date(2026, 5, 9), date(2026, 5, 11), date(2026, 5, 12)}
    assert c.workdays == {date(2026, 11, 28)}


def test_calendars_are_frozen_values():
    a = cal(WEEKDAYS, "2026-01-01")
    assert a == cal("mon-fri 09:00-18:00", "2026-01-01")
    assert hash(a) == hash(cal("mon-fri 09:00-18:00", "2026-01-01"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.timezone = "Europe/Berlin"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("hours", "holidays", "tz", "workdays", "message"),
    [
        ("", "", "Europe/Moscow", "", "hours is empty"),
        ("   ", "", "Europe/Moscow", "", "hours is empty"),
        ("mon-fri", "", "Europe/Moscow", "", "cannot read 'mon-fri'"),
        ("09:00-18:00", "", "Europe/Moscow", "", "cannot read '09:00-18:00'"),
        ("mon-fry 09:00-18:00", "", "Europe/Moscow", "", "unknown day 'fry'"),
        ("monday 09:00-18:00", "", "Europe/Moscow", "", "unknown day 'monday'"),
        ("пн-пт 09:00-18:00", "", "Europe/Moscow", "", "cannot read 'пн-пт 09:00-18:00'"),
        ("mon,,fri 09:00-18:00", "", "Europe/Moscow", "", "empty day name"),
        ("mon-fri 9-18", "", "Europe/Moscow", "", "bad time '9'"),
        ("mon-fri 09:00-25:00", "", "Europe/Moscow", "", "bad time '25:00'"),
        ("mon-fri 09:60-18:00", "", "Europe/Moscow", "", "bad time '09:60'"),
        ("mon-fri 24:00-24:00", "", "Europe/Moscow", "", "cannot start at 24:00"),
        ("mon-fri 09:00", "", "Europe/Moscow", "", "'09:00' in 'mon-fri 09:00' is not a range"),
        (
            "mon-fri 18:00-09:00",
            "",
            "Europe/Moscow",
            "",
            "does not end after it starts; an interval cannot cross midnight",
        ),
        ("mon-fri 09:00-09:00", "", "Europe/Moscow", "", "does not end after it starts"),
        (
            "mon-fri 09:00-18:00; fri 09:00-16:45",
            "",
            "Europe/Moscow",
            "",
            "on fri 09:00-18:00 overlaps 09:00-16:45 (is the day in two clauses?)",
        ),
        ("mon 09:00-13:00,12:00-18:00", "", "Europe/Moscow", "", "on mon 12:00-18:00 overlaps"),
        (";", "", "Europe/Moscow", "", "no open intervals"),
        (WEEKDAYS, "2026-13-01", "Europe/Moscow", "", "holidays: bad date '2026-13-01'"),
        (WEEKDAYS, "01.01.2026", "Europe/Moscow", "", "holidays: bad date '01.01.2026'"),
        (WEEKDAYS, "20260101", "Europe/Moscow", "", "holidays: bad date '20260101'"),
        (WEEKDAYS, "2026-01-08..2026-01-01", "Europe/Moscow", "", "ends before it starts"),
        (WEEKDAYS, "2026-01-01..", "Europe/Moscow", "", "holidays: bad date ''"),
        (WEEKDAYS, "2026-01-01..2027-06-01", "Europe/Moscow", "", "longer than a year"),
        (
            WEEKDAYS,
            "2026-01-01..2026-12-31 2027-01-01..2027-03-01",
            "Europe/Moscow",
            "",
            "closed for more than a year from 2026-01-01",
        ),
        (WEEKDAYS, "", "Europe/Moscow", "2026-11-31", "workdays: bad date '2026-11-31'"),
        (
            WEEKDAYS,
            "2026-11-28",
            "Europe/Moscow",
            "2026-11-28",
            "both as holidays and as workdays",
        ),
        ("tue-fri 09:00-18:00", "", "Europe/Moscow", "2026-11-28", "no 'mon' intervals"),
        (WEEKDAYS, "", "Europe/Moskow", "", "unknown timezone 'Europe/Moskow'"),
        (WEEKDAYS, "", "MSK+3", "", "unknown timezone 'MSK+3'"),
        (WEEKDAYS, "", "../etc/passwd", "", "unknown timezone"),
        (WEEKDAYS, "", "", "", "timezone is empty"),
        ("24/7", "", "Mars/Olympus", "", "unknown timezone 'Mars/Olympus'"),
    ],
)
def test_bad_input_raises_a_helpful_value_error(hours, holidays, tz, workdays, message):
    with pytest.raises(ValueError, match=re.escape(message)) as err:
        BusinessCalendar.parse(hours, holidays, tz, workdays)
    assert message in str(err.value)


# -- is_open / next_open -------------------------------------------------------------------


def test_is_open_uses_half_open_local_intervals():
    c = cal()
    assert not c.is_open(msk(2026, 12, 1, 8, 59))
    assert c.is_open(msk(2026, 12, 1, 9, 0))
    assert c.is_open(msk(2026, 12, 1, 17, 59))
    assert not c.is_open(msk(2026, 12, 1, 18, 0))
    assert not c.is_open(msk(2026, 12, 5, 12, 0))  # Saturday


def test_naive_datetimes_are_utc():
    c = cal()
    # 06:00 UTC is 09:00 in Moscow
    assert c.is_open(datetime(2026, 12, 1, 6, 0))
    assert not c.is_open(datetime(2026, 12, 1, 5, 59))
    result = c.add_business_time(datetime(2026, 12, 1, 14, 55), minutes(15))
    assert result == utc(2026, 12, 2, 6, 10)
    assert result.tzinfo is UTC


def test_aware_input_in_another_zone_is_converted():
    c = cal()
    at = datetime(2026, 12, 1, 8, 55, tzinfo=ZoneInfo("Asia/Yekaterinburg"))  # 06:55 Moscow
    opening = c.next_open(at)
    assert opening == utc(2026, 12, 1, 6, 0)
    assert opening.tzinfo is UTC


def test_next_open_is_now_when_open():
    c = cal()
    at = msk(2026, 12, 1, 12, 34)
    assert c.next_open(at) == at


def test_next_open_before_opening_same_day_and_after_closing():
    c = cal()
    assert c.next_open(msk(2026, 12, 1, 3, 0)) == msk(2026, 12, 1, 9, 0)
    assert c.next_open(msk(2026, 12, 1, 18, 0)) == msk(2026, 12, 2, 9, 0)
    assert c.next_open(msk(2026, 12, 4, 20, 0)) == msk(2026, 12, 7, 9, 0)  # Fri -> Mon


def test_next_open_skips_holidays():
    c = cal(holidays="2027-01-01..2027-01-08")
    assert c.next_open(msk(2026, 12, 31, 18, 30)) == msk(2027, 1, 11, 9, 0)
    assert not c.is_open(msk(2027, 1, 4, 12, 0))  # a Monday, but a holiday


def test_next_open_over_a_long_closure_still_finds_the_opening():
    c = cal("sat 10:00-14:00", "2026-01-01..2026-12-31")
    # closed for the whole of 2026; the first Saturday of 2027 is 2 January
    assert c.next_open(msk(2026, 1, 1)) == msk(2027, 1, 2, 10, 0)


# -- add_business_time (the SLA deadline) ----------------------------------------------


def test_request_at_1755_with_15_minutes_is_due_at_0910_next_working_day():
    c = cal()
    assert c.add_business_time(msk(2026, 12, 1, 17, 55), minutes(15)) == msk(2026, 12, 2, 9, 10)


def test_friday_evening_rolls_over_to_monday():
    c = cal()
    assert c.add_business_time(msk(2026, 12, 4, 17, 30), timedelta(hours=1)) == msk(
        2026, 12, 7, 9, 30
    )
    # after closing on Friday, and on the weekend, the clock starts on Monday
    assert c.add_business_time(msk(2026, 12, 4, 19, 0), minutes(15)) == msk(2026, 12, 7, 9, 15)
    assert c.add_business_time(msk(2026, 12, 6, 12, 0), minutes(15)) == msk(2026, 12, 7, 9, 15)


def test_short_friday_schedule():
    c = cal("mon-thu 09:00-18:00; fri 09:00-16:45")
    assert c.add_business_time(msk(2026, 12, 4, 16, 40), minutes(15)) == msk(2026, 12, 7, 9, 10)
    assert c.add_business_time(msk(2026, 12, 3, 17, 55), minutes(15)) == msk(2026, 12, 4, 9, 10)


def test_new_year_holidays():
    c = cal(holidays="2027-01-01..2027-01-08")
    # 10 minutes on Thursday 31 December, then 5 minutes on Monday 11 January
    assert c.add_business_time(msk(2026, 12, 31, 17, 50), minutes(15)) == msk(2027, 1, 11, 9, 5)


def test_moved_working_saturday_uses_the_monday_schedule():
    # In 2025 Saturday 1 November was a working day and Monday 3 November a day off.
    c = cal(
        "mon 09:00-18:00; tue-fri 09:00-17:00",
        holidays="2025-11-03,2025-11-04",
        workdays="2025-11-01",
    )
    assert c.is_open(msk(2025, 11, 1, 17, 30))  # Monday hours, not closed, not 17:00
    assert c.add_business_time(msk(2025, 10, 31, 16, 55), minutes(15)) == msk(2025, 11, 1, 9, 10)
    assert c.add_business_time(msk(2025, 11, 1, 17, 55), minutes(15)) == msk(2025, 11, 5, 9, 10)
    # an ordinary Saturday stays closed
    assert c.next_open(msk(2025, 11, 8, 12, 0)) == msk(2025, 11, 10, 9, 0)


def test_lunch_break_splits_a_duration():
    c = cal("mon-fri 09:00-13:00,14:00-18:00")
    assert not c.is_open(msk(2026, 12, 1, 13, 30))
    assert c.add_business_time(msk(2026, 12, 1, 12, 50), minutes(30)) == msk(2026, 12, 1, 14, 20)
    assert c.add_business_time(msk(2026, 12, 1, 13, 20), minutes(30)) == msk(2026, 12, 1, 14, 30)
    # both the lunch break and the night are skipped
    assert c.add_business_time(msk(2026, 12, 1, 12, 0), timedelta(hours=6)) == msk(
        2026, 12, 2, 10, 0
    )


def test_a_duration_ending_at_closing_time_ends_then():
    c = cal()
    assert c.add_business_time(msk(2026, 12, 1, 17, 45), minutes(15)) == msk(2026, 12, 1, 18, 0)
    assert c.add_business_time(msk(2026, 12, 1, 17, 45), minutes(16)) == msk(2026, 12, 2, 9, 1)


def test_zero_duration_is_the_next_opening_and_negative_is_refused():
    c = cal()
    assert c.add_business_time(msk(2026, 12, 5, 12, 0), timedelta(0)) == msk(2026, 12, 7, 9, 0)
    assert c.add_business_time(msk(2026, 12, 1, 12, 0), timedelta(0)) == msk(2026, 12, 1, 12, 0)
    with pytest.raises(ValueError, match="must not be negative"):
        c.add_business_time(msk(2026, 12, 1, 12, 0), minutes(-1))


def test_long_durations_walk_whole_weeks():
    c = cal()
    monday = msk(2026, 12, 7, 9, 0)
    # a working week is 5 x 9 hours
    assert c.add_business_time(monday, timedelta(hours=45)) == msk(2026, 12, 11, 18, 0)
    assert c.add_business_time(monday, timedelta(hours=45, minutes=1)) == msk(2026, 12, 14, 9, 1)
    # 52 weeks later, still exact
    assert c.add_business_time(monday, timedelta(hours=45 * 52)) == msk(2027, 12, 3, 18, 0)


def test_days_open_until_midnight_join_the_next_morning():
    c = cal("mon-fri 20:00-24:00; tue-sat 00:00-02:00")
    assert c.is_open(msk(2026, 12, 1, 23, 59))
    assert c.is_open(msk(2026, 12, 2, 0, 0))
    assert c.next_open(msk(2026, 12, 2, 0, 30)) == msk(2026, 12, 2, 0, 30)
    assert c.add_business_time(msk(2026, 12, 1, 23, 0), timedelta(hours=2)) == msk(
        2026, 12, 2, 1, 0
    )
    assert c.add_business_time(msk(2026, 12, 1, 23, 0), timedelta(hours=4)) == msk(
        2026, 12, 2, 21, 0
    )


# -- business_time_between -----------------------------------------------------------------


def test_business_time_between_across_a_weekend():
    c = cal()
    assert c.business_time_between(msk(2026, 12, 4, 17, 0), msk(2026, 12, 7, 10, 0)) == (
        timedelta(hours=2)
    )
    assert c.business_time_between(msk(2026, 12, 5, 0, 0), msk(2026, 12, 7, 0, 0)) == (
        timedelta(0)
    )
    # a whole week, Monday midnight to Monday midnight
    assert c.business_time_between(msk(2026, 11, 30), msk(2026, 12, 7)) == timedelta(hours=45)


def test_business_time_between_is_zero_for_reversed_or_empty_spans():
    c = cal()
    assert c.business_time_between(msk(2026, 12, 1, 12), msk(2026, 12, 1, 11)) == timedelta(0)
    assert c.business_time_between(msk(2026, 12, 1, 12), msk(2026, 12, 1, 12)) == timedelta(0)


def test_business_time_between_with_lunch_and_holidays():
    c = cal("mon-fri 09:00-13:00,14:00-18:00", holidays="2027-01-01..2027-01-08")
    assert c.business_time_between(msk(2026, 12, 1, 12, 30), msk(2026, 12, 1, 14, 15)) == (
        minutes(45)
    )
    assert c.business_time_between(msk(2026, 12, 31, 17, 0), msk(2027, 1, 11, 10, 0)) == (
        timedelta(hours=2)
    )


@pytest.mark.parametrize(
    ("start", "duration"),
    [
        (msk(2026, 12, 1, 17, 55), minutes(15)),
        (msk(2026, 12, 4, 20, 0), timedelta(hours=30)),
        (msk(2026, 12, 31, 17, 50), minutes(15)),
        (msk(2026, 12, 2, 10, 17), timedelta(hours=123, minutes=7)),
    ],
)
def test_between_inverts_add(start, duration):
    c = cal("mon-fri 09:00-13:00,14:00-18:00", holidays="2027-01-01..2027-01-08")
    deadline = c.add_business_time(start, duration)
    assert c.business_time_between(start, deadline) == duration


# -- 24/7 ----------------------------------------------------------------------------------


def test_always_open():
    c = cal("24/7", holidays="2026-12-31")
    at = msk(2026, 12, 31, 3, 0)
    assert c.always_open
    assert c.is_open(at)
    assert c.next_open(at) == at
    assert c.add_business_time(at, minutes(15)) == msk(2026, 12, 31, 3, 15)
    assert c.business_time_between(at, msk(2027, 1, 1, 3, 0)) == timedelta(days=1)
    assert c.describe_hours() == "круглосуточно"
    assert c.describe_next_open(at) == "Операторы работают круглосуточно."
    assert cal("24x7") == cal(" 24 / 7 ")


def test_round_the_clock_schedule_still_closes_on_holidays():
    c = cal("mon-sun 00:00-24:00", holidays="2026-12-31")
    assert c.is_open(msk(2026, 12, 30, 23, 59))
    assert not c.is_open(msk(2026, 12, 31, 12, 0))
    assert c.next_open(msk(2026, 12, 31, 12, 0)) == msk(2027, 1, 1, 0, 0)
    assert c.add_business_time(msk(2026, 12, 30, 23, 0), timedelta(hours=2)) == msk(
        2027, 1, 1, 1, 0
    )
    assert c.describe_hours() == "круглосуточно"


# -- daylight saving time ------------------------------------------------------------------


def test_berlin_spring_forward():
    c = cal(tz="Europe/Berlin")
    # Friday 17:00 CET is 16:00 UTC; Monday 10:00 CEST is 08:00 UTC
    deadline = c.add_business_time(ber(2026, 3, 27, 17, 0), timedelta(hours=2))
    assert deadline == utc(2026, 3, 30, 8, 0)
    assert deadline == ber(2026, 3, 30, 10, 0)
    assert c.next_open(ber(2026, 3, 28, 12, 0)) == utc(2026, 3, 30, 7, 0)  # 09:00 CEST


def test_berlin_short_and_long_days_count_real_hours():
    c = cal("mon-sun 00:00-24:00", tz="Europe/Berlin")
    # Sunday 29 March 2026 has 23 hours, Sunday 25 October 2026 has 25
    assert c.business_time_between(ber(2026, 3, 29), ber(2026, 3, 30)) == timedelta(hours=23)
    assert c.business_time_between(ber(2026, 10, 25), ber(2026, 10, 26)) == timedelta(hours=25)
    night = cal("mon-sun 01:00-04:00", tz="Europe/Berlin")
    # 01:00 CET .. 04:00 CEST is two real hours; 01:00 CEST .. 04:00 CET is four
    assert night.business_time_between(ber(2026, 3, 29), ber(2026, 3, 30)) == timedelta(hours=2)
    assert night.business_time_between(ber(2026, 10, 25), ber(2026, 10, 26)) == timedelta(hours=4)
    assert night.add_business_time(ber(2026, 3, 29, 1, 0), timedelta(hours=2, minutes=30)) == (
        ber(2026, 3, 30, 1, 30)
    )


def test_an_interval_inside_the_skipped_hour_does_not_overlap_its_neighbour():
    c = cal("sun 01:00-02:30,03:00-05:00", tz="Europe/Berlin")
    # On 29 March 02:30 does not exist; 01:00 CET .. 05:00 CEST is three real hours.
    assert c.business_time_between(ber(2026, 3, 29), ber(2026, 3, 30)) == timedelta(hours=3)
    # An ordinary Sunday has 1.5 + 2 hours.
    assert c.business_time_between(ber(2026, 3, 22), ber(2026, 3, 23)) == timedelta(hours=3.5)


# -- Russian texts -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hours", "text"),
    [
        ("mon-fri 09:00-18:00", "пн–пт 9:00–18:00"),
        ("mon-thu 09:00-18:00; fri 09:00-16:45", "пн–чт 9:00–18:00; пт 9:00–16:45"),
        ("mon-fri 09:00-13:00,14:00-18:00", "пн–пт 9:00–13:00, 14:00–18:00"),
        (
            "mon,wed,fri 10:00-19:00; tue,thu 12:00-20:00",
            "пн, ср, пт 10:00–19:00; вт, чт 12:00–20:00",
        ),
        ("sat-sun 10:00-16:00", "сб, вс 10:00–16:00"),
        ("mon-sun 08:00-20:00", "ежедневно 8:00–20:00"),
        ("mon-fri 09:00-18:00; sat 00:00-24:00", "пн–пт 9:00–18:00; сб круглосуточно"),
        ("fri-mon 10:00-12:00", "пн, пт–вс 10:00–12:00"),
        ("mon-sun 00:00-24:00", "круглосуточно"),
        ("24/7", "круглосуточно"),
    ],
)
def test_describe_hours(hours, text):
    assert cal(hours).describe_hours() == text


HOURS_MSK = "Операторы работают пн–пт 9:00–18:00 (время московское)."


def test_describe_next_open_after_hours_on_friday():
    text = cal().describe_next_open(msk(2026, 12, 4, 19, 0))
    assert text == f"{HOURS_MSK} Ответим в понедельник, 7 декабря, после 9:00."


def test_describe_next_open_today_and_tomorrow():
    c = cal()
    assert (
        c.describe_next_open(msk(2026, 12, 1, 7, 30)) == f"{HOURS_MSK} Ответим сегодня после 9:00."
    )
    assert c.describe_next_open(msk(2026, 12, 1, 18, 0)) == (
        f"{HOURS_MSK} Ответим завтра, в среду, 2 декабря, после 9:00."
    )
    assert c.describe_next_open(msk(2026, 12, 7, 23, 0)) == (
        f"{HOURS_MSK} Ответим завтра, во вторник, 8 декабря, после 9:00."
    )


def test_describe_next_open_uses_local_dates_not_utc_ones():
    # 22:30 UTC on Sunday is already 01:30 on Monday in Moscow: the opening is "today"
    text = cal().describe_next_open(utc(2026, 12, 6, 22, 30))
    assert text == f"{HOURS_MSK} Ответим сегодня после 9:00."


def test_describe_next_open_across_new_year_names_the_year():
    c = cal("mon-thu 09:00-18:00; fri 09:00-16:45", holidays="2027-01-01..2027-01-08")
    assert c.describe_next_open(msk(2026, 12, 31, 18, 5)) == (
        "Операторы работают пн–чт 9:00–18:00; пт 9:00–16:45 (время московское). "
        "Ответим в понедельник, 11 января 2027 г., после 9:00."
    )


def test_describe_next_open_on_a_working_saturday_and_with_minutes():
    c = cal("mon 10:30-18:00; tue-fri 09:00-17:00", workdays="2025-11-01")
    assert c.describe_next_open(msk(2025, 10, 31, 18, 0)) == (
        "Операторы работают пн 10:30–18:00; вт–пт 9:00–17:00 (время московское). "
        "Ответим завтра, в субботу, 1 ноября, после 10:30."
    )


def test_describe_next_open_when_open_now():
    assert cal().describe_next_open(msk(2026, 12, 1, 12, 0)) == (
        "Операторы работают пн–пт 9:00–18:00 (время московское), сейчас они на связи."
    )


def test_describe_next_open_names_other_time_zones():
    c = cal("mon-fri 08:00-17:00", tz="Asia/Yekaterinburg")
    # Friday 4 December 2026 20:00 UTC is Saturday 01:00 in Yekaterinburg (UTC+5)
    assert c.describe_next_open(utc(2026, 12, 4, 20, 0)) == (
        "Операторы работают пн–пт 8:00–17:00 (часовой пояс Asia/Yekaterinburg). "
        "Ответим в понедельник, 7 декабря, после 8:00."
    )
