"""Whether a citizen came back within 72 hours is settled once, after those hours, and
kept with the question (`admin.comebacks`), on SQLite and PostgreSQL: the boundaries of
the window, the kinds of comeback, batches, and the dashboard counting from it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from admin import comebacks
from admin.comebacks import COMEBACK, settle
from admin.dashboard import dashboard
from core.domain import Channel
from core.models import SearchLog
from tests.dashboard_scenario import Seeder, World

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LATE = T0 + timedelta(days=30)


async def _seed(sessions) -> World:
    """Per citizen, a first answered question at T0 and what followed it."""
    world = World()
    async with sessions.begin() as session:
        seed = Seeder(session, world)
        await seed.entry("e1", "Транспорт")
        for name in ("alone", "asked_again", "asked_later", "operator", "operator_later"):
            await seed.citizen(name, Channel.TELEGRAM)
            await seed.ask(name, T0, ("answer", "e1"))
        await seed.citizen("parts", Channel.TELEGRAM)
        # Another question 71 hours after: came back.
        await seed.ask("asked_again", T0 + timedelta(hours=71), ("answer", "e1"))
        # Another question a second past 72 hours: not a comeback of the first.
        await seed.ask("asked_later", T0 + COMEBACK + timedelta(seconds=1), ("answer", "e1"))
        await seed.case("c1", "operator", T0 + timedelta(hours=5))
        await seed.case("c2", "operator_later", T0 + COMEBACK + timedelta(minutes=1))
        # Two questions of one message are one contact, not a comeback of each other.
        await seed.ask("parts", T0 + timedelta(days=1), ("answer", "e1"), ("answer", "e1"))
    return world


async def _came_back(sessions, world: World) -> dict[str, list[bool | None]]:
    async with sessions() as session:
        rows = (
            await session.execute(
                select(SearchLog.conversation_id, SearchLog.came_back).order_by(
                    SearchLog.created_at, SearchLog.id
                )
            )
        ).all()
    names = {conversation: name for name, conversation in world.conversations.items()}
    found: dict[str, list[bool | None]] = {}
    for conversation, came_back in rows:
        found.setdefault(names[conversation], []).append(came_back)
    return found


async def test_comebacks_are_settled_once_the_72_hours_have_passed(sessions):
    world = await _seed(sessions)
    # Before the first question is 72 hours old nothing is settled.
    assert await settle(sessions, T0 + COMEBACK) == 0
    assert all(v is None for vs in (await _came_back(sessions, world)).values() for v in vs)

    # An hour later only the first questions are (each asked at T0 and one second).
    assert await settle(sessions, T0 + COMEBACK + timedelta(hours=1)) == 5
    assert await _came_back(sessions, world) == {
        "alone": [False],
        "asked_again": [True, None],
        "asked_later": [False, None],
        "operator": [True],
        "operator_later": [False],
        "parts": [None, None],
    }

    # A month later everything is, the second question of a message does not count as
    # a comeback of the first, and settling again changes nothing.
    assert await settle(sessions, LATE) == 4
    assert (await _came_back(sessions, world))["parts"] == [False, False]
    assert (await _came_back(sessions, world))["asked_again"] == [True, False]
    assert await settle(sessions, LATE) == 0


async def test_settling_in_small_batches_gives_the_same(sessions, monkeypatch):
    world = await _seed(sessions)
    monkeypatch.setattr(comebacks, "BATCH", 3)
    assert await settle(sessions, LATE) == 9
    assert await _came_back(sessions, world) == {
        "alone": [False],
        "asked_again": [True, False],
        "asked_later": [False, False],
        "operator": [True],
        "operator_later": [False],
        "parts": [False, False],
    }


async def test_the_dashboard_settles_before_it_counts(sessions):
    await _seed(sessions)
    d = await dashboard(sessions, date(2026, 3, 1), date(2026, 3, 10), now=LATE)
    # Nine questions, all answered and judged; two came back (asked again within
    # 71 hours, and an operator).
    assert (d.questions, d.answered, d.judged, d.pending) == (9, 9, 9, 0)
    assert (d.honest_resolved, d.came_back) == (7, 2)
    async with sessions() as session:
        unsettled = await session.scalar(
            select(SearchLog.id).where(SearchLog.came_back.is_(None)).limit(1)
        )
    assert unsettled is None
