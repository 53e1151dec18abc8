"""Serving a channel's webhook: one POST path on a small aiohttp server until ``stop``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

log = logging.getLogger(__name__)

# The largest body a platform posts (an update with a long text and its attachments).
BODY_LIMIT = 4 * 1024**2

Handler = Callable[[web.Request], Awaitable[web.Response]]


async def serve_post(
    path: str, handler: Handler, *, host: str, port: int, stop: asyncio.Event, what: str
) -> None:
    """Answer POSTs to ``path`` with ``handler`` on ``host:port`` until ``stop`` is set."""
    async with listening(path, handler, host=host, port=port, what=what):
        await stop.wait()


@contextlib.asynccontextmanager
async def listening(
    path: str, handler: Handler, *, host: str, port: int, what: str
) -> AsyncIterator[None]:
    """Answer POSTs to ``path`` with ``handler`` on ``host:port`` inside the block; a
    port that cannot be taken raises on entry."""
    app = web.Application(client_max_size=BODY_LIMIT)
    app.router.add_post(path, handler)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        log.info("%s listening on http://%s:%d%s", what, host, port, path)
        yield
    finally:
        await runner.cleanup()
