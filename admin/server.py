"""Serving the web admin: alone (`djinn admin`) with its own database connection and
knowledge-base search, or inside `djinn run`, sharing the bots' services."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator, Iterator
from zoneinfo import ZoneInfo

import uvicorn

from admin.accounts import Accounts
from admin.app import create_app
from admin.comebacks import settle_periodically
from admin.faq_pages import Publisher
from admin.web import AdminContext
from bots.app import Services, build_faq, open_database
from core.settings import Settings
from knowledge_base.embedder import create_embedder
from knowledge_base.notify import publish_version

log = logging.getLogger(__name__)


def shared_context(services: Services, wake: asyncio.Event | None = None) -> AdminContext:
    """The admin inside a bot process: a new version wakes this process's index at once
    and reaches the others through the Redis notice."""

    async def announce(version: int) -> None:
        if wake is not None:
            wake.set()
        if services.redis is not None:
            await publish_version(services.redis, version)

    settings = services.settings
    return AdminContext(
        settings=settings,
        sessions=services.sessions,
        accounts=Accounts(services.sessions),
        repository=services.faq_repository,
        faq=services.faq,
        announce=announce,
        tz=ZoneInfo(settings.timezone),
    )


@contextlib.asynccontextmanager
async def standalone_context(settings: Settings) -> AsyncIterator[AdminContext]:
    """The admin on its own: bots elsewhere learn of new versions through Redis when one
    is reachable (`djinn kb import` does the same), else at their next check."""
    from bots.cli.kb import notify_bots

    async def announce(version: int) -> None:
        if not await notify_bots(settings, version):
            log.info(
                "no Redis to announce knowledge base v%s; bots load it within %.0f s",
                version,
                settings.kb_reload_interval,
            )

    async with open_database(settings) as (_, sessions):
        embedder = create_embedder(
            settings.embedder, settings.embedder_model, settings.embedder_threads
        )
        repository, faq = build_faq(settings, sessions, embedder)
        yield AdminContext(
            settings=settings,
            sessions=sessions,
            accounts=Accounts(sessions),
            repository=repository,
            faq=faq,
            announce=announce,
            tz=ZoneInfo(settings.timezone),
        )


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
    """Serve the admin on ``host:port`` until ``stop`` is set."""
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
        forwarded_allow_ips="127.0.0.1",
        server_header=False,
    )
    # Bound here so that a taken port is an OSError for the caller to report, not the
    # exit uvicorn makes of it.
    sock = listen(host, port)
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
        await publisher.close()
        sock.close()
