"""Serving the web admin and the website's chat widget (`bots.web`): alone (`djinn
admin`) with services of its own — the database, the knowledge-base search and the
conversation service the widget's visitors talk to — or inside `djinn run`, sharing the
bots' services."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from zoneinfo import ZoneInfo

import click
import uvicorn

from admin.accounts import Accounts
from admin.app import create_app
from admin.comebacks import settle_periodically
from admin.faq_pages import Publisher
from admin.web import AdminContext
from bots.app import Services, open_services, serve_process_metrics
from bots.web.channel import WebChannel
from bots.web.config import widget_problem
from core.settings import Settings
from knowledge_base.notify import publish_version

log = logging.getLogger(__name__)

WIDGET_FRAME_BYTES = 128 * 1024


def shared_context(services: Services, wake: asyncio.Event | None = None) -> AdminContext:
    """The admin inside a bot process: a new version wakes this process's index at once
    and reaches the others through the Redis notice."""

    async def announce(version: int) -> None:
        if wake is not None:
            wake.set()
        if services.redis is not None:
            await publish_version(services.redis, version)

    return _context(services, announce)


def _context(services: Services, announce: Callable[[int], Awaitable[None]]) -> AdminContext:
    settings = services.settings
    return AdminContext(
        settings=settings,
        sessions=services.sessions,
        accounts=Accounts(services.sessions),
        repository=services.faq_repository,
        faq=services.faq,
        announce=announce,
        tz=ZoneInfo(settings.timezone),
        widget=WebChannel.build(
            settings,
            services.sessions,
            services.conversation,
            services.inbox,
            services.outbox,
            metrics=services.metrics,
            senders=services.senders,
        ),
    )


@contextlib.asynccontextmanager
async def standalone_context(settings: Settings) -> AsyncIterator[AdminContext]:
    """The admin on its own, with the services the widget's conversations need: bots
    elsewhere learn of new versions through Redis when one is reachable (`djinn kb
    import` does the same), else at their next check; this process follows theirs."""
    from bots.cli.kb import notify_bots
    from bots.cli.run import ensure_knowledge_base

    async def announce(version: int) -> None:
        if not await notify_bots(settings, version):
            log.info(
                "no Redis to announce knowledge base v%s; bots load it within %.0f s",
                version,
                settings.kb_reload_interval,
            )

    # Redis only when there is one to share (the handoff events reach it through the
    # bot processes' relay); Rasa as the settings say (external: RASA_URL).
    async with open_services(settings, with_redis=settings.redis_url is not None) as services:
        await ensure_knowledge_base(services)
        stop = asyncio.Event()
        tasks = [
            asyncio.create_task(
                services.faq.watch(stop, settings.kb_reload_interval), name="admin-kb-watch"
            )
        ]
        if settings.metrics_port:
            # The widget's conversations and the searches run in this process: its
            # metrics are served as a bot's are.
            tasks.append(
                asyncio.create_task(serve_process_metrics(services, stop), name="admin-metrics")
            )
        try:
            yield _context(services, announce)
        finally:
            stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)


class _Server(uvicorn.Server):
    """uvicorn without its own signal handlers: the process's stop event ends it."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


async def serve_admin(admin: AdminContext, host: str, port: int, stop: asyncio.Event) -> None:
    """Serve the admin (and the widget, when it is on) on ``host:port`` until ``stop``."""
    app = create_app(admin)
    publisher = Publisher(admin)
    admin.extras["publisher"] = publisher
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="off",
        proxy_headers=True,
        forwarded_allow_ips=admin.settings.admin_forwarded_ips,
        server_header=False,
        # The widget's sockets: small frames (bots.web.frames), no compression (a
        # compressor per socket costs more memory than thousands of idle sockets).
        ws="websockets-sansio",
        ws_max_size=WIDGET_FRAME_BYTES,
        ws_per_message_deflate=False,
    )
    # Bound here so that a taken port is an OSError for the caller to report, not the
    # exit uvicorn makes of it.
    sock = listen(host, port)
    _report_widget(admin, host, port)
    async with contextlib.AsyncExitStack() as stack:
        if admin.widget is not None:
            await stack.enter_async_context(admin.widget.running())
        await _serve(admin, config, sock, stop)
        await publisher.close()


async def _serve(
    admin: AdminContext, config: uvicorn.Config, sock: socket.socket, stop: asyncio.Event
) -> None:
    server = _Server(config)
    running = asyncio.create_task(server.serve(sockets=[sock]), name="admin-http")
    settling = asyncio.create_task(
        settle_periodically(admin.sessions, stop), name="admin-comebacks"
    )
    stopping = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({running, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        server.should_exit = True
        stopping.cancel()
        settling.cancel()
        await asyncio.gather(running, settling, return_exceptions=True)
        sock.close()


def _report_widget(admin: AdminContext, host: str, port: int) -> None:
    if admin.widget is None:
        click.echo(f"Виджет для сайта: выключен — {widget_problem(admin.settings)}.")
        return
    sites = ", ".join(sorted(admin.widget.origins)) or "пока только демонстрационная страница"
    click.echo(
        f"Виджет для сайта: http://{host}:{port}/widget/widget.js, демонстрация — "
        f"http://{host}:{port}/widget/demo (разрешённые сайты: {sites}; DJINN_WIDGET_ORIGINS)."
    )
