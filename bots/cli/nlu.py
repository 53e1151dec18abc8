"""``djinn nlu``: the Rasa model."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import click

from core.settings import Settings
from nlu.project import TrainingError
from nlu.servers import RasaServers, missing_for_managed, model_cache


@click.group()
def nlu() -> None:
    """Диалоговая модель Rasa."""


@nlu.command()
@click.pass_obj
def train(settings: Settings) -> None:
    """Обучить модель Rasa, если файлы nlu/ изменились с прошлого обучения."""
    try:
        model = model_cache(settings).ensure(echo=click.echo)
    except TrainingError as error:
        raise click.ClickException(str(error)) from error
    if model.trained:
        click.echo(f"Модель Rasa обучена за {model.seconds:.0f} с: {model.path}")
    else:
        click.echo(f"Модель Rasa актуальна, обучение пропущено: {model.path}")


@nlu.command()
@click.pass_obj
def serve(settings: Settings) -> None:
    """Запустить Rasa и сервер действий (для djinn bot; djinn run запускает их сам)."""
    cache = model_cache(settings)
    problem = missing_for_managed(settings, cache)
    if problem is not None:
        raise click.ClickException(problem)
    asyncio.run(_serve(settings, cache.current()))


async def _serve(settings: Settings, model: Path) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with RasaServers(settings, model):
        click.echo(
            f"Rasa: {settings.rasa_url}, сервер действий: {settings.action_server_url}, "
            f"журналы: {settings.logs_dir}. Остановить: Ctrl+C."
        )
        await stop.wait()
    click.echo("Rasa остановлен.")
