"""``djinn run`` and ``djinn bot``: the long-running processes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from bots.app import Services, open_services, serve_process_metrics
from bots.cli.progress import ProgressLine
from core.metrics import Metrics
from core.settings import Settings
from handoff.events import HandoffEventRepository
from handoff.queue import HandoffRelay, HandoffStreams
from knowledge_base.learning import learn_periodically
from knowledge_base.notify import listen_versions, publish_version
from nlu.servers import RasaServers, missing_for_managed, model_cache

if TYPE_CHECKING:
    from bots.telegram.runner import OperatorSetup

log = logging.getLogger("djinn")
Runner = Callable[[Settings, Services, asyncio.Event], Awaitable[None]]
CHANNEL_NAMES = {"telegram": "Telegram", "vk": "VK", "max": "MAX"}


async def _telegram(settings: Settings, services: Services, stop: asyncio.Event) -> None:
    from bots.telegram.runner import run_telegram

    await run_telegram(
        settings,
        services.conversation,
        services.inbox,
        services.outbox,
        stop,
        metrics=services.metrics,
        operators=_operator_setup(settings, services),
        senders=services.senders,
    )


def _operator_setup(settings: Settings, services: Services) -> OperatorSetup | None:
    """The operator groups the Telegram bot serves; None without OPERATOR_CHAT_ID (or
    without Redis, which carries the queue)."""
    from zoneinfo import ZoneInfo

    from bots.telegram.operators import OperatorGroups
    from bots.telegram.runner import OperatorSetup

    if settings.operator_chat_id is None or services.redis is None:
        return None
    groups = OperatorGroups(
        settings.operator_chat_id,
        settings.operator_group_map(),
        settings.supervisor_chat_id,
    )
    return OperatorSetup(
        groups=groups,
        sessions=services.sessions,
        service=services.operators,
        streams=HandoffStreams(services.redis, settings.redis_namespace),
        senders=services.senders,
        faq=services.faq,
        sla=services.handoff.sla,
        timezone=ZoneInfo(settings.timezone),
    )


async def _vk(settings: Settings, services: Services, stop: asyncio.Event) -> None:
    from bots.vk.runner import run_vk

    await run_vk(
        settings,
        services.conversation,
        services.inbox,
        services.outbox,
        stop,
        metrics=services.metrics,
        senders=services.senders,
    )


async def _max(settings: Settings, services: Services, stop: asyncio.Event) -> None:
    from bots.max.runner import run_max

    await run_max(
        settings,
        services.conversation,
        services.inbox,
        services.outbox,
        stop,
        metrics=services.metrics,
        senders=services.senders,
    )


RUNNERS: dict[str, Runner] = {"telegram": _telegram, "vk": _vk, "max": _max}


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


def _rasa_plan(settings: Settings, manage: bool) -> tuple[bool, Path | None]:
    """Whether the dialogue goes through Rasa, and the model to start it with when
    this process starts Rasa itself."""
    if not settings.rasa:
        click.echo("Rasa: выключен (DJINN_RASA=off) — бот отвечает из базы знаний.")
        return False, None
    if not manage:
        click.echo(
            f"Rasa: внешний, {settings.rasa_url} (сервер действий {settings.action_server_url})."
        )
        return True, None
    cache = model_cache(settings)
    problem = missing_for_managed(settings, cache)
    if problem is not None:
        click.echo(f"Rasa: не запущен — {problem}. Бот отвечает только из базы знаний.")
        return False, None
    click.echo(
        f"Rasa: запускается ({settings.rasa_url}, журналы в {settings.logs_dir}); "
        "пока он загружается, бот отвечает из базы знаний."
    )
    return True, cache.current()


async def serve(settings: Settings, channels: list[str], manage_rasa: bool = False) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    with_rasa, model = _rasa_plan(settings, manage_rasa)
    async with contextlib.AsyncExitStack() as stack:
        if model is not None:
            await stack.enter_async_context(RasaServers(settings, model))
        services = await stack.enter_async_context(
            open_services(settings, with_rasa=with_rasa, metrics=Metrics())
        )
        await _serve_channels(settings, services, channels, stop)
    click.echo("Djinn остановлен.")


async def _serve_channels(
    settings: Settings, services: Services, channels: list[str], stop: asyncio.Event
) -> None:
    await ensure_knowledge_base(services)
    await services.faq.refresh(progress=ProgressLine("Индекс базы знаний"))
    wake = asyncio.Event()
    tasks = [asyncio.create_task(services.faq.watch(stop, settings.kb_reload_interval, wake))]
    if services.redis is not None:
        tasks.append(asyncio.create_task(listen_versions(services.redis, wake, stop)))
        tasks.append(_start_relay(services, stop))
    if settings.learn_interval > 0:
        tasks.append(_start_learning(settings, services, stop, wake))
    _report_operators(settings, services, channels)
    for name in channels:
        tasks.append(
            asyncio.create_task(
                _supervise(CHANNEL_NAMES[name], RUNNERS[name], settings, services, stop)
            )
        )
    if settings.admin_port:
        tasks.append(_start_admin(settings, services, stop, wake))
    else:
        click.echo("Веб-интерфейс: выключен (DJINN_ADMIN_PORT=0).")
    if settings.metrics_port:
        tasks.append(_start_metrics(settings, services, stop))
    else:
        click.echo("Метрики Prometheus: выключены (DJINN_METRICS_PORT=0).")
    click.echo(f"Djinn работает (база знаний v{services.faq.version}). Остановить: Ctrl+C.")
    await stop.wait()
    await asyncio.gather(*tasks, return_exceptions=True)


def _start_learning(
    settings: Settings, services: Services, stop: asyncio.Event, wake: asyncio.Event
) -> asyncio.Task[None]:
    """Learning from use; a new version it makes reaches this process at once and the
    others through the Redis notice (or their next check)."""

    async def announce(version: int) -> None:
        wake.set()
        if services.redis is not None:
            await publish_version(services.redis, version)

    job = services.faq.learning_job()
    return asyncio.create_task(
        learn_periodically(job, stop, settings.learn_interval, announce), name="kb-learning"
    )


def _start_admin(
    settings: Settings, services: Services, stop: asyncio.Event, wake: asyncio.Event
) -> asyncio.Task[None]:
    """The web admin beside the bots; if its port is taken, the bots run on without it."""
    from admin.server import serve_admin, shared_context

    host, port = settings.admin_host, settings.admin_port
    click.echo(
        f"Веб-интерфейс: http://{host}:{port}/login "
        "(пользователи: djinn admin create-user LOGIN --role admin; "
        "выключить: DJINN_ADMIN_PORT=0)."
    )

    async def run() -> None:
        try:
            await serve_admin(shared_context(services, wake), host, port, stop)
        except OSError as error:
            click.echo(f"Веб-интерфейс: не запущен — {host}:{port}: {error}", err=True)

    return asyncio.create_task(run(), name="admin")


def _start_relay(services: Services, stop: asyncio.Event) -> asyncio.Task[None]:
    """Every bot process publishes the handoff events its turns store."""
    assert services.redis is not None
    streams = HandoffStreams(services.redis, services.settings.redis_namespace)
    relay = HandoffRelay(streams, HandoffEventRepository(services.sessions))
    services.handoff.notify = relay.wake
    services.operators.notify = relay.wake
    return asyncio.create_task(relay.run(stop), name="handoff-relay")


def _report_operators(settings: Settings, services: Services, channels: list[str]) -> None:
    if settings.operator_chat_id is None:
        click.echo(
            "Операторы: не подключены — не задан OPERATOR_CHAT_ID (группа Telegram с темами). "
            "Запросы граждан сохраняются и попадут к операторам, когда группа будет задана."
        )
    elif "telegram" not in channels:
        click.echo("Операторы: группу обслуживает процесс бота Telegram (djinn bot telegram).")
    elif services.redis is None:
        click.echo("Операторы: не подключены — нет Redis для очереди.")
    else:
        departments = len(set(settings.operator_group_map().values()))
        extra = f", групп отделов: {departments}" if departments else ""
        click.echo(f"Операторы: группа {settings.operator_chat_id}{extra}.")


def _start_metrics(
    settings: Settings, services: Services, stop: asyncio.Event
) -> asyncio.Task[None]:
    click.echo(
        f"Метрики Prometheus: http://{settings.metrics_host}:{settings.metrics_port}/metrics "
        "(выключить: DJINN_METRICS_PORT=0)."
    )
    return asyncio.create_task(serve_process_metrics(services, stop))


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
    """Запустить всё, что настроено: базу знаний, Rasa и ботов Telegram и VK."""
    asyncio.run(serve(settings, _report_channels(settings), manage_rasa=settings.rasa_managed))


@click.command()
@click.argument("channel", type=click.Choice(sorted(RUNNERS)))
@click.pass_obj
def bot(settings: Settings, channel: str) -> None:
    """Запустить бота одного канала (telegram или vk); Rasa — внешний (RASA_URL)."""
    missing = settings.missing_channels().get(channel)
    if missing:
        raise click.UsageError(f"не задано: {', '.join(missing)}")
    asyncio.run(serve(settings, [channel]))
