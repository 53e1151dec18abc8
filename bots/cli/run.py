"""``djinn run`` and ``djinn bot``: the long-running processes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable

import click

from bots.app import Services, open_services
from bots.cli.progress import ProgressLine
from core.settings import Settings
from knowledge_base.notify import listen_versions

log = logging.getLogger("djinn")
Runner = Callable[[Settings, Services, asyncio.Event], Awaitable[None]]
CHANNEL_NAMES = {"telegram": "Telegram", "vk": "VK"}


async def _telegram(settings: Settings, services: Services, stop: asyncio.Event) -> None:
    from bots.telegram.runner import run_telegram

    await run_telegram(settings, services.conversation, services.inbox, stop)


async def _vk(settings: Settings, services: Services, stop: asyncio.Event) -> None:
    from bots.vk.runner import run_vk

    await run_vk(settings, services.conversation, services.inbox, stop)


RUNNERS: dict[str, Runner] = {"telegram": _telegram, "vk": _vk}


async def ensure_knowledge_base(services: Services) -> None:
    """Import the bundled demo FAQ into an empty knowledge base, when allowed."""
    from bots.cli.kb import DEMO_FAQ
    from knowledge_base.io import read_entries

    repository = services.faq_repository
    if await repository.current_version() or not services.settings.demo_faq:
        return
    report = await repository.apply_import(read_entries(DEMO_FAQ), source="demo FAQ")
    click.echo(
        f"База знаний была пуста: загружен демонстрационный FAQ ({report.created} "
        "записей). Свой FAQ: djinn kb import ФАЙЛ --replace; отключить: DJINN_DEMO_FAQ=0."
    )


async def _supervise(
    name: str, runner: Runner, settings: Settings, services: Services, stop: asyncio.Event
) -> None:
    """Run a channel; if it crashes, log it and start it again with a growing pause."""
    delay = 1.0
    while not stop.is_set():
        try:
            await runner(settings, services, stop)
            return
        except Exception:
            log.exception("%s bot stopped with an error; restarting in %.0f s", name, delay)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), delay)
        delay = min(delay * 2, 60.0)


async def serve(settings: Settings, channels: list[str]) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with open_services(settings) as services:
        await ensure_knowledge_base(services)
        await services.faq.refresh(progress=ProgressLine("Индекс базы знаний"))
        wake = asyncio.Event()
        tasks = [asyncio.create_task(services.faq.watch(stop, settings.kb_reload_interval, wake))]
        if services.redis is not None:
            tasks.append(asyncio.create_task(listen_versions(services.redis, wake, stop)))
        for name in channels:
            tasks.append(
                asyncio.create_task(
                    _supervise(CHANNEL_NAMES[name], RUNNERS[name], settings, services, stop)
                )
            )
        click.echo(f"Djinn работает (база знаний v{services.faq.version}). Остановить: Ctrl+C.")
        await stop.wait()
        await asyncio.gather(*tasks, return_exceptions=True)
    click.echo("Djinn остановлен.")


def _report_channels(settings: Settings) -> list[str]:
    missing = settings.missing_channels()
    ready = [name for name in RUNNERS if name not in missing]
    for name in RUNNERS:
        if name in missing:
            click.echo(
                f"{CHANNEL_NAMES[name]}: не запущен — не задано: "
                f"{', '.join(missing[name])} (см. README, раздел «Настройка»)."
            )
        else:
            click.echo(f"{CHANNEL_NAMES[name]}: запускается.")
    if not ready:
        click.echo(
            "Ни один канал не настроен. Работает база знаний: проверить ответы можно "
            'командой djinn kb search "ваш вопрос".'
        )
    return ready


@click.command()
@click.pass_obj
def run(settings: Settings) -> None:
    """Запустить всё, что настроено: базу знаний и ботов Telegram и VK."""
    asyncio.run(serve(settings, _report_channels(settings)))


@click.command()
@click.argument("channel", type=click.Choice(sorted(RUNNERS)))
@click.pass_obj
def bot(settings: Settings, channel: str) -> None:
    """Запустить бота одного канала (telegram или vk)."""
    missing = settings.missing_channels().get(channel)
    if missing:
        raise click.UsageError(f"не задано: {', '.join(missing)}")
    asyncio.run(serve(settings, [channel]))
