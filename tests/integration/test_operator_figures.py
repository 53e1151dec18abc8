"""The operators' figures come out of the handoff cases exactly: first response,
handling time, SLA misses, reopenings and ratings, per operator and per group (on
SQLite and PostgreSQL); and the templates operators send with /t are managed from the
shell."""

from __future__ import annotations

from datetime import timedelta

from click.testing import CliRunner

from bots.cli import cli
from core.domain import Channel, ConversationStatus
from core.models import Citizen, Conversation, HandoffCase, Identity, utcnow
from handoff.figures import operator_figures, percentile


async def _conversation(session, number: int) -> int:
    citizen = Citizen()
    session.add(citizen)
    await session.flush()
    identity = Identity(
        citizen_id=citizen.id,
        channel=Channel.TELEGRAM,
        external_id=str(number),
        chat_id=str(number),
    )
    session.add(identity)
    await session.flush()
    conversation = Conversation(
        identity_id=identity.id, channel=Channel.TELEGRAM, status=ConversationStatus.CLOSED
    )
    session.add(conversation)
    await session.flush()
    return conversation.id


async def test_figures_per_operator_and_group(sessions):
    start = utcnow() - timedelta(hours=3)
    minutes = lambda n: start + timedelta(minutes=n)  # noqa: E731
    plan = [
        # operator, group, first response, taken, ended, due, reopenings, rating
        ("1", "-100", 4, 2, 30, 15, 0, 5),
        ("1", "-100", 20, 20, 50, 15, 1, 3),  # answered after its deadline
        ("2", "-200", 10, 10, 25, 15, 0, None),
        (None, "-200", None, None, None, 15, 0, None),  # nobody answered: a miss
    ]
    async with sessions.begin() as session:
        for number, (operator, group, first, taken, ended, due, reopened, rating) in enumerate(
            plan
        ):
            session.add(
                HandoffCase(
                    conversation_id=await _conversation(session, number),
                    group_chat_id=group,
                    requested_at=start,
                    sla_due_at=minutes(due),
                    operator_id=operator,
                    operator_name={"1": "Ольга", "2": "Иван"}.get(operator or ""),
                    taken_at=minutes(taken) if taken is not None else None,
                    first_response_at=minutes(first) if first is not None else None,
                    ended_at=minutes(ended) if ended is not None else None,
                    reopenings=reopened,
                    csat_score=rating,
                )
            )
    figures = {f.who: f for f in await operator_figures(sessions, days=1)}
    olga = figures["оператор Ольга (1)"]
    assert (olga.cases, olga.first_response, olga.handling) == (2, [4.0, 20.0], [28.0, 30.0])
    assert (olga.sla_missed, olga.reopenings, olga.csat) == (1, 1, 4.0)
    ivan = figures["оператор Иван (2)"]
    assert (ivan.cases, ivan.sla_missed, ivan.csat, ivan.ratings) == (1, 0, None, [])
    first = figures["группа -100"]
    assert (first.cases, first.sla_missed, first.cells()[2], first.cells()[3]) == (
        2,
        1,
        "4.0",
        "20.0",
    )
    second = figures["группа -200"]
    assert (second.cases, second.sla_missed, second.first_response) == (2, 1, [10.0])
    assert await operator_figures(sessions, days=0) == []


def test_percentile_is_nearest_rank():
    values = [float(n) for n in range(1, 11)]
    assert (percentile(values, 50), percentile(values, 90), percentile([], 50)) == (5.0, 9.0, None)


def test_templates_are_managed_from_the_shell(tmp_path, monkeypatch):
    monkeypatch.setenv("DJINN_DATA_DIR", str(tmp_path))
    runner = CliRunner()
    added = runner.invoke(
        cli, ["operators", "template-add", "срок"], input="{name}, ответим до {number}.\n"
    )
    assert added.exit_code == 0 and "добавлен" in added.output
    again = runner.invoke(cli, ["operators", "template-add", "срок"], input="Новый текст\n")
    assert "обновлён" in again.output
    listed = runner.invoke(cli, ["operators", "template-list"])
    assert listed.output == "срок\n  Новый текст\n"
    empty = runner.invoke(cli, ["operators", "template-add", "пусто"], input="  \n")
    assert empty.exit_code == 2 and "пуст" in empty.output
    assert runner.invoke(cli, ["operators", "template-remove", "срок"]).exit_code == 0
    missing = runner.invoke(cli, ["operators", "template-remove", "срок"])
    assert missing.exit_code == 1 and "нет" in missing.output
