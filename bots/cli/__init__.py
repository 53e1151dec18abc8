"""The ``djinn`` command."""

from __future__ import annotations

import click

from bots.cli.admin import admin
from bots.cli.db import db
from bots.cli.kb import kb
from bots.cli.nlu import nlu
from bots.cli.operators import operators
from bots.cli.run import bot, run
from core.logs import configure_logging
from core.settings import Settings


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Djinn — контакт-центр администрации: бот для Telegram и VK, база знаний, операторы."""
    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    ctx.obj = settings


cli.add_command(run)
cli.add_command(bot)
cli.add_command(kb)
cli.add_command(db)
cli.add_command(nlu)
cli.add_command(operators)
cli.add_command(admin)


def main() -> None:
    cli(prog_name="djinn")
