"""The supervisors' dashboard comes out of a hand-made week exactly, on SQLite and
PostgreSQL: messages per day and channel, the naive and the honest resolution rate,
handoffs, response times per operator and group, SLA misses, ratings, categories and
rising topics; the period's edges; the conversations behind the figures, a transcript
and the CSV export.

The week is 2–8 March 2026 in Moscow (UTC+3): ``[2026-03-01 21:00, 2026-03-08 21:00)``
in UTC. The figures are taken on 10 March at 12:00 UTC, so questions from 7 March
12:00 UTC on are younger than 72 hours (pending).
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from admin.dashboard import (
    CategoryCount,
    ChannelDay,
    DrillDown,
    ResponseTimes,
    RisingTopic,
    conversations,
    dashboard,
    dashboard_csv,
    transcript,
)
from core.domain import Channel, Direction
from tests.dashboard_scenario import Seeder, World, at, seed_world

MSK = ZoneInfo("Europe/Moscow")
START, END = date(2026, 3, 2), date(2026, 3, 9)
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


@pytest.fixture
async def world(sessions) -> World:
    return await seed_world(sessions)


def _days(per_day: dict[int, tuple[int, int, int, int]]) -> tuple[ChannelDay, ...]:
    """Per March day: telegram in, out, vk in, out."""
    rows = []
    for day in range(2, 9):
        tg_in, tg_out, vk_in, vk_out = per_day.get(day, (0, 0, 0, 0))
        rows.append(ChannelDay(date(2026, 3, day), "telegram", tg_in, tg_out))
        rows.append(ChannelDay(date(2026, 3, day), "vk", vk_in, vk_out))
        rows.append(ChannelDay(date(2026, 3, day), "max", 0, 0))
        rows.append(ChannelDay(date(2026, 3, day), "web", 0, 0))
    return tuple(rows)


async def test_figures_of_a_week(sessions, world):
    d = await dashboard(sessions, START, END, now=NOW, tz=MSK)
    assert (d.start, d.end, d.timezone, d.now) == (START, END, "Europe/Moscow", NOW)
    assert d.days == tuple(date(2026, 3, n) for n in range(2, 9))
    assert d.channels == ("telegram", "vk", "max", "web")
    assert d.messages == _days(
        {
            2: (2, 1, 2, 2),
            3: (1, 2, 1, 2),
            4: (0, 0, 1, 2),
            5: (1, 1, 0, 0),
            6: (0, 0, 1, 1),
            7: (1, 1, 0, 0),
            8: (3, 2, 0, 0),
        }
    )
    assert (d.inbound, d.outbound) == (13, 14)
    assert d.conversations == 5
    assert (d.questions, d.answered, d.not_helped) == (11, 9, 1)
    assert d.naive_rate == pytest.approx(9 / 11)
    # Resolved: Anna's first, both of Gleb's, Dina's first. Back within 72 h: Boris's
    # second (asked again), Vera's first (operator), Anna's second (after the week).
    assert (d.judged, d.pending, d.honest_resolved, d.came_back) == (9, 2, 4, 3)
    assert d.honest_rate == pytest.approx(4 / 9)
    assert (d.handoffs, d.handed_off_conversations, d.handoff_rate) == (4, 3, 0.6)
    assert (d.response_p50, d.response_p90) == (12.0, 30.0)
    assert d.response_by_operator == (
        ResponseTimes("2", "Иван", 1, 1, 30.0, 30.0, 1),
        ResponseTimes("1", "Ольга", 1, 1, 12.0, 12.0, 0),
    )
    assert d.response_by_group == (
        ResponseTimes("-100", "-100", 2, 2, 12.0, 30.0, 1),
        ResponseTimes("-200", "-200", 2, 0, None, None, 1),
    )
    assert d.sla_missed == 2
    assert (d.csat_mean, d.csat_count, d.csat_distribution) == (4.0, 2, (0, 0, 1, 0, 1))
    assert d.top_categories == (
        CategoryCount("ЖКХ", 5, 5),
        CategoryCount("Транспорт", 4, 3),
        CategoryCount("без категории", 1, 1),
        CategoryCount("ничего не найдено", 1, 0),
    )
    e1, e3 = world.entries["e1"], world.entries["e3"]
    assert d.this_week == date(2026, 3, 2)
    assert d.rising_topics == (
        RisingTopic(e1, "Вопрос e1", "ЖКХ", 3, 0),
        RisingTopic(e3, "Вопрос e3", "Транспорт", 4, 3),
    )


async def test_a_long_period_reads_every_question(sessions, world):
    """Over more than 90 days SQLite reads the questions in another order; the figures
    are the same. The week before adds five answered questions: three resolved (the
    next question of the same citizen 74, 77 and 96 hours later), two followed by
    another within a day; Anna's question after the week is pending."""
    d = await dashboard(sessions, date(2026, 1, 1), date(2026, 4, 30), now=NOW, tz=MSK)
    assert (d.questions, d.answered, d.judged, d.pending) == (17, 15, 14, 3)
    assert (d.honest_resolved, d.came_back) == (7, 5)
    assert d.top_categories[:2] == (CategoryCount("ЖКХ", 8, 8), CategoryCount("Транспорт", 7, 6))
    assert (d.handoffs, d.sla_missed, d.csat_count) == (4, 2, 2)
    assert d.this_week == date(2026, 3, 4)  # the week up to today (10 March)
    assert (len(d.days), d.inbound) == (119, 21)


async def test_period_edges_and_time_zone(sessions, world):
    """Dina's stickers at 23:59:59 on 1 March and at midnight of 9 March (Moscow) are
    outside the week; those at midnight of 2 March and 23:59:59 on 8 March are in. In
    UTC the same instants fall on other days."""
    d = await dashboard(sessions, date(2026, 3, 8), date(2026, 3, 9), now=NOW, tz=MSK)
    assert d.messages == (
        ChannelDay(date(2026, 3, 8), "telegram", 3, 2),
        ChannelDay(date(2026, 3, 8), "vk", 0, 0),
        ChannelDay(date(2026, 3, 8), "max", 0, 0),
        ChannelDay(date(2026, 3, 8), "web", 0, 0),
    )
    d = await dashboard(sessions, date(2026, 3, 1), date(2026, 3, 2), now=NOW, tz=MSK)
    assert (d.inbound, d.questions) == (1, 0)  # the sticker at 23:59:59
    utc = await dashboard(sessions, date(2026, 3, 8), date(2026, 3, 9), now=NOW)
    assert utc.timezone == "UTC"
    assert utc.messages[0] == ChannelDay(date(2026, 3, 8), "telegram", 4, 2)
    assert (utc.questions, utc.handoffs) == (2, 1)
    with pytest.raises(ValueError, match="раньше"):
        await dashboard(sessions, END, END, now=NOW, tz=MSK)
    with pytest.raises(ValueError, match="десяти лет"):
        await dashboard(sessions, date(2000, 1, 1), date(2020, 1, 1), now=NOW, tz=MSK)
    with pytest.raises(ValueError, match="раньше"):
        await conversations(sessions, END, START, tz=MSK)


async def test_an_empty_period(sessions, world):
    d = await dashboard(sessions, date(2025, 1, 1), date(2025, 1, 3), now=NOW, tz=MSK)
    assert (d.inbound, d.conversations, d.questions, d.handoffs) == (0, 0, 0, 0)
    assert (d.naive_rate, d.honest_rate, d.handoff_rate, d.csat_mean) == (None,) * 4
    assert (d.response_p50, d.response_by_operator, d.top_categories) == (None, (), ())
    assert d.csat_distribution == (0, 0, 0, 0, 0)


async def test_conversations_behind_the_figures(sessions, world):
    ids = world.conversations

    async def listed(kind=DrillDown.MESSAGES, **filters):
        rows = await conversations(sessions, START, END, kind=kind, now=NOW, tz=MSK, **filters)
        return [(r.citizen, r.count) for r in rows]

    assert await listed(channel="telegram", day=date(2026, 3, 8)) == [("Дина", 2), ("Вера", 1)]
    assert await listed(channel="vk", day=date(2026, 3, 2)) == [("Борис", 2)]
    assert await listed(day=date(2026, 3, 9)) == []
    assert await listed(DrillDown.HANDOFFS) == [("Вера", 2), ("Глеб", 1), ("Борис", 1)]
    assert await listed(DrillDown.HANDOFFS, channel="vk") == [("Глеб", 1), ("Борис", 1)]
    assert await listed(DrillDown.SLA_MISSED) == [("Вера", 1), ("Борис", 1)]
    assert await listed(DrillDown.SLA_MISSED, operator="2") == [("Борис", 1)]
    assert await listed(DrillDown.SLA_MISSED, group="-200") == [("Вера", 1)]
    assert await listed(DrillDown.NOT_HELPED) == [("Борис", 1)]
    assert await listed(DrillDown.HANDOFFS, limit=1) == [("Вера", 2)]
    [row] = await conversations(sessions, START, END, kind=DrillDown.NOT_HELPED, now=NOW, tz=MSK)
    assert (row.id, row.channel, row.status) == (ids["Борис"], "vk", "bot")
    assert (row.first_at, row.last_at) == (at(2, 12, 0, 1), at(2, 12, 0, 1))


async def test_transcript_of_a_conversation(sessions, world):
    found = await transcript(sessions, world.conversations["Вера"])
    assert found is not None
    assert (found.citizen, found.channel, found.status, found.omitted) == (
        "Вера",
        "telegram",
        "bot",
        0,
    )
    assert [(m.at, m.direction, m.author, m.author_kind, m.text) for m in found.messages] == [
        (at(3, 9), "in", "Вера", "citizen", "вопрос"),
        (at(3, 9, 0, 2), "out", "бот", "bot", "ответ"),
        (at(3, 9, 22), "out", "оператор Ольга", "operator", "Здравствуйте"),
        (at(8, 15), "in", "Вера", "citizen", "вопрос"),
        (at(8, 15, 0, 2), "out", "бот", "bot", "ответ"),
    ]
    assert [(c.id, c.operator_name, c.first_response_at, c.csat_score) for c in found.cases] == [
        (world.cases["quick"], "Ольга", at(3, 9, 22), 5),
        (world.cases["unanswered"], None, None, None),
    ]
    assert found.cases[1].sla_missed_at == at(8, 15, 15)
    last = await transcript(sessions, world.conversations["Вера"], limit=2)
    assert last is not None
    assert [m.at for m in last.messages] == [at(8, 15), at(8, 15, 0, 2)]
    assert last.omitted == 3
    assert await transcript(sessions, 10**6) is None


async def test_csv_export(sessions, world):
    exported = dashboard_csv(await dashboard(sessions, START, END, now=NOW, tz=MSK))
    assert exported.startswith("\ufeffПериод\r\n")
    rows = list(csv.reader(io.StringIO(exported.removeprefix("\ufeff")), delimiter=";"))
    assert rows[1:3] == [
        ["начало", "конец (не включая)", "часовой пояс", "данные на"],
        ["2026-03-02", "2026-03-09", "Europe/Moscow", "2026-03-10 12:00 UTC"],
    ]
    summary = dict(rows[rows.index(["Сводка"]) + 2 : rows.index(["Сообщения по дням"]) - 1])
    assert summary["вопросов"] == "11"
    assert summary["доля отвеченных, %"] == "81,82"
    assert summary["доля решённых честно, %"] == "44,44"
    assert summary["вопросов моложе 72 ч (ждут оценки)"] == "2"
    assert summary["первый ответ p90, мин"] == "30,00"
    assert summary["средняя оценка"] == "4,00"
    days = rows.index(["Сообщения по дням"])
    assert rows[days + 2] == ["2026-03-02", "telegram", "2", "1"]
    groups = rows.index(["Время первого ответа по группам"])
    # A group id starting with «-» is kept from being taken for a formula.
    assert rows[groups + 3] == ["'-200", "2", "0", "—", "—", "1"]
    assert ["Транспорт", "4", "3"] in rows
    assert ["Вопрос e3", "Транспорт", "4", "3"] in rows
    assert rows[rows.index(["Оценки"]) + 2 :][:5] == [
        ["1", "0"],
        ["2", "0"],
        ["3", "1"],
        ["4", "0"],
        ["5", "1"],
    ]


async def test_a_max_citizens_messages_are_counted_as_max(sessions, world):
    async with sessions.begin() as session:
        seed = Seeder(session, world)
        await seed.citizen("mira", Channel.MAX)
        await seed.message("mira", at(1, 9, month=4))
        await seed.message("mira", at(1, 9, 1, month=4), Direction.OUT)
    d = await dashboard(sessions, date(2026, 4, 1), date(2026, 4, 2), now=NOW, tz=MSK)
    assert d.messages == (
        ChannelDay(date(2026, 4, 1), "telegram", 0, 0),
        ChannelDay(date(2026, 4, 1), "vk", 0, 0),
        ChannelDay(date(2026, 4, 1), "max", 1, 1),
        ChannelDay(date(2026, 4, 1), "web", 0, 0),
    )


async def test_a_website_visitors_messages_are_counted_as_web(sessions, world):
    async with sessions.begin() as session:
        seed = Seeder(session, world)
        await seed.citizen("vita", Channel.WEB)
        await seed.message("vita", at(2, 10, month=4))
        await seed.message("vita", at(2, 10, 1, month=4), Direction.OUT)
        await seed.message("vita", at(2, 10, 2, month=4), Direction.OUT)
    d = await dashboard(sessions, date(2026, 4, 2), date(2026, 4, 3), now=NOW, tz=MSK)
    assert d.messages[-1] == ChannelDay(date(2026, 4, 2), "web", 1, 2)
    assert [day.channel for day in d.messages] == ["telegram", "vk", "max", "web"]
