"""``djinn operators``: the operators' reply templates and their figures."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import TypeVar

import click
from sqlalchemy import delete, select

from bots.app import open_database
from core.db import SessionFactory
from core.models import ReplyTemplate, utcnow
from core.settings import Settings
from handoff.figures import operator_figures

T = TypeVar("T")
NAME_LIMIT = 64


def _run(settings: Settings, action: Callable[[SessionFactory], Awaitable[T]]) -> T:
    async def go() -> T:
        async with open_database(settings) as (_, sessions):
            return await action(sessions)

    return asyncio.run(go())


@click.group()
def operators() -> None:
    """Операторы: шаблоны ответов (/t в теме обращения) и показатели работы."""


@operators.command("template-add")
@click.argument("name")
@click.pass_obj
def template_add(settings: Settings, name: str) -> None:
    """Добавить или заменить шаблон ИМЯ; текст читается со стандартного ввода.

    В тексте {name} заменяется именем гражданина, {number} — номером обращения.
    """
    name = name.strip()
    if not name or len(name) > NAME_LIMIT or any(c.isspace() for c in name):
        raise click.UsageError(f"имя шаблона — одно слово до {NAME_LIMIT} символов")
    text = sys.stdin.read().strip()
    if not text:
        raise click.UsageError("текст шаблона пуст: передайте его на стандартный ввод")

    async def add(sessions: SessionFactory) -> bool:
        async with sessions.begin() as session:
            row = await session.scalar(select(ReplyTemplate).where(ReplyTemplate.name == name))
            if row is None:
                session.add(ReplyTemplate(name=name, text=text))
                return True
            row.text, row.updated_at = text, utcnow()
            return False

    created = _run(settings, add)
    click.echo(f"Шаблон «{name}» {'добавлен' if created else 'обновлён'}.")


@operators.command("template-list")
@click.pass_obj
def template_list(settings: Settings) -> None:
    """Показать шаблоны ответов."""

    async def load(sessions: SessionFactory) -> list[ReplyTemplate]:
        async with sessions() as session:
            return list(await session.scalars(select(ReplyTemplate).order_by(ReplyTemplate.name)))

    rows = _run(settings, load)
    if not rows:
        click.echo("Шаблонов нет. Добавить: djinn operators template-add ИМЯ < текст.txt")
    for row in rows:
        click.echo(f"{row.name}\n  {row.text}")


@operators.command("template-remove")
@click.argument("name")
@click.pass_obj
def template_remove(settings: Settings, name: str) -> None:
    """Удалить шаблон ИМЯ."""

    async def remove(sessions: SessionFactory) -> int:
        async with sessions.begin() as session:
            result = await session.execute(delete(ReplyTemplate).where(ReplyTemplate.name == name))
            return int(result.rowcount or 0)  # type: ignore[attr-defined]

    if not _run(settings, remove):
        raise click.ClickException(f"шаблона «{name}» нет")
    click.echo(f"Шаблон «{name}» удалён.")


@operators.command("stats")
@click.option("--days", default=30, show_default=True, help="За сколько последних дней.")
@click.pass_obj
def stats(settings: Settings, days: int) -> None:
    """Показатели операторов и групп: первый ответ, обработка, повторные, оценка."""
    rows = _run(settings, lambda sessions: operator_figures(sessions, days))
    if not rows:
        click.echo(f"За {days} дн. обращений к операторам не было.")
        return
    click.echo(
        "кто\tобращений\tпервый ответ p50, мин\tp90, мин\tпросрочено\tобработка p50, мин"
        "\tповторных\tоценка\tоценок"
    )
    for row in rows:
        click.echo("\t".join(row.cells()))
