"""A fake Rasa server (REST channel, its tracker, status) and action server health, on
127.0.0.1, for the unit tests of the Rasa client."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
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


def later(release: asyncio.Event, answer: Handler) -> Handler:
    """Answers with ``answer`` only once ``release`` is set (a slow Rasa)."""

    async def handle(body: dict[str, Any]) -> web.Response:
        await release.wait()
        return await answer(body)

    return handle


def held(release: asyncio.Event, messages: Any) -> Handler:
    """Answers ``messages`` only once ``release`` is set."""
    return later(release, reply(messages))


@dataclass
class Unlogged:
    """A webhook answer Rasa gives before it logged the message (an error early in the
    turn): its tracker keeps the previous turn as the latest."""

    answer: Handler

    async def __call__(self, body: dict[str, Any]) -> web.Response:
        return await self.answer(body)


class FakeRasa:
    """Answers each webhook request with the next queued handler and records what it
    was sent; ``status`` and ``health`` are the codes of ``GET /status`` and
    ``GET /health`` (the action server's, served here too).

    Like Rasa, it applies a message to the sender's tracker when its handler has
    answered (unless the handler is `Unlogged`); ``applied[sender]`` holds the metadata
    of the user messages still applied, oldest first, ``GET .../tracker`` answers the
    latest as ``latest_message`` and each rewind event takes one back. ``calls`` lists what
    was asked, in order: ``("webhook" | "tracker" | "events", sender)``.
    """

    def __init__(self) -> None:
        self.handlers: list[Handler] = []
        self.requests: list[dict[str, Any]] = []
        self.events: list[tuple[str, Any]] = []
        self.applied: dict[str, list[dict[str, Any]]] = {}
        self.calls: list[tuple[str, str]] = []
        self.status = 200
        self.health = 200
        self.tracker_status = 200
        self.events_seen = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def __aenter__(self) -> Self:
        app = web.Application()
        app.router.add_post("/webhooks/rest/webhook", self._webhook)
        app.router.add_post("/conversations/{sender}/tracker/events", self._events)
        app.router.add_get("/conversations/{sender}/tracker", self._tracker)
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

    def applied_ids(self, sender: str = "7") -> list[Any]:
        """The ``message_id`` of each user message applied to ``sender``, oldest first."""
        return [metadata.get("message_id") for metadata in self.applied.get(sender, [])]

    async def _webhook(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append(body)
        self.calls.append(("webhook", body["sender"]))
        assert self.handlers, f"FakeRasa has no reply queued for {body}"
        handler = self.handlers.pop(0)
        response = await handler(body)
        if not isinstance(handler, Unlogged):
            self.applied.setdefault(body["sender"], []).append(body.get("metadata") or {})
        return response

    async def _tracker(self, request: web.Request) -> web.Response:
        sender = request.match_info["sender"]
        self.calls.append(("tracker", sender))
        if self.tracker_status != 200:
            return web.Response(text="tracker store down", status=self.tracker_status)
        applied = self.applied.get(sender)
        latest = {"text": None, "metadata": applied[-1] if applied else {}}
        return web.json_response({"sender_id": sender, "latest_message": latest, "events": None})

    async def _events(self, request: web.Request) -> web.Response:
        sender = request.match_info["sender"]
        body = await request.json()
        events = body if isinstance(body, list) else [body]
        self.calls.append(("events", sender))
        self.events.append((sender, body))
        applied = self.applied.setdefault(sender, [])
        rewinds = sum(1 for event in events if event.get("event") == "rewind")
        del applied[max(0, len(applied) - rewinds) :]
        self.events_seen.set()
        return web.json_response({"sender_id": sender, "events": None})

    async def _status(self, _: web.Request) -> web.Response:
        return web.Response(text=json.dumps({"model_file": "fake"}), status=self.status)

    async def _health(self, _: web.Request) -> web.Response:
        return web.Response(text=json.dumps({"status": "ok"}), status=self.health)
