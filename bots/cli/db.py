"""``djinn db``: database migrations."""

from __future__ import annotations

import asyncio

import click

from core import migrate
from core.db import create_engine
from core.settings import Settings


@click.group()
def db() -> None:
    """Схема базы данных (миграции alembic)."""


def _with_engine(settings: Settings, action: str, revision: str | None = None) -> str | None:
    async def go() -> str | None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            settings.resolved_database_url, synchronous=settings.sqlite_synchronous
        )
        try:
            if action == "upgrade":
                await migrate.upgrade(engine, revision or "head")
            elif action == "downgrade":
                await migrate.downgrade(engine, revision or "-1")
            return await migrate.current_revision(engine)
        finally:
            await engine.dispose()

    return asyncio.run(go())


@db.command()
@click.argument("revision", default="head")
@click.pass_obj
def upgrade(settings: Settings, revision: str) -> None:
    """Обновить схему до REVISION (по умолчанию до последней)."""
    click.echo(f"Схема базы данных: {_with_engine(settings, 'upgrade', revision)}")


@db.command()
@click.argument("revision")
@click.pass_obj
def downgrade(settings: Settings, revision: str) -> None:
    """Откатить схему до REVISION (base — до пустой базы)."""
    click.echo(f"Схема базы данных: {_with_engine(settings, 'downgrade', revision)}")


@db.command()
@click.pass_obj
def current(settings: Settings) -> None:
    """Показать текущую ревизию схемы."""
    click.echo(_with_engine(settings, "current") or "пустая база")
