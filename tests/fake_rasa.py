"""A fake Rasa server (REST channel, tracker events, status) and action server health,
on 127.0.0.1, for the unit tests of the Rasa client."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any, Self

from aiohttp import web

Handler = Callable[[dict[str, Any]], Awaitable[web.Response]]


def reply(messages: Any) -> Handler:
    """A webhook answer: ``messages`` as JSON."""

    async def handle(_: dict[str, Any]) -> web.Response:
        return web.json_response(messages)

    return handle


def raw(body: str, status: int = 200, content_type: str = "application/json") -> Handler:
    async def handle(_: dict[str, Any]) -> web.Response:
        return web.Response(text=body, status=status, content_type=content_type)

    return handle


def held(release: asyncio.Event, messages: Any) -> Handler:
    """Answers ``messages`` only once ``release`` is set (a slow Rasa)."""

    async def handle(_: dict[str, Any]) -> web.Response:
        await release.wait()
        return web.json_response(messages)

    return handle


class FakeRasa:
    """Answers each webhook request with the next queued handler and records what it
    was sent; ``status`` and ``health`` are the codes of ``GET /status`` and
    ``GET /health`` (the action server's, served here too)."""

    def __init__(self) -> None:
        self.handlers: list[Handler] = []
        self.requests: list[dict[str, Any]] = []
        self.events: list[tuple[str, Any]] = []
        self.status = 200
        self.health = 200
        self.events_seen = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def __aenter__(self) -> Self:
        app = web.Application()
        app.router.add_post("/webhooks/rest/webhook", self._webhook)
        app.router.add_post("/conversations/{sender}/tracker/events", self._events)
        app.router.add_get("/status", self._status)
        app.router.add_get("/health", self._health)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()

    def queue(self, *handlers: Handler) -> None:
        self.handlers.extend(handlers)

    async def _webhook(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append(body)
        assert self.handlers, f"FakeRasa has no reply queued for {body}"
        return await self.handlers.pop(0)(body)

    async def _events(self, request: web.Request) -> web.Response:
        self.events.append((request.match_info["sender"], await request.json()))
        self.events_seen.set()
        return web.json_response({"events": []})

    async def _status(self, _: web.Request) -> web.Response:
        return web.Response(text=json.dumps({"model_file": "fake"}), status=self.status)

    async def _health(self, _: web.Request) -> web.Response:
        return web.Response(text=json.dumps({"status": "ok"}), status=self.health)
