"""An HTTP proxy between our Rasa client and the real Rasa server, on 127.0.0.1: it
forwards every request, but answers the next webhook requests as told — HTTP 500 or
garbage after Rasa handled the message, HTTP 500 before Rasa saw it, or Rasa's own
answer held back past our timeout."""

from __future__ import annotations

import asyncio
import enum
from dataclasses import dataclass
from typing import Any, Self

import aiohttp
from aiohttp import web

WEBHOOK = "/webhooks/rest/webhook"


class Fault(enum.Enum):
    FAIL_AFTER = "500 once Rasa answered"
    GARBAGE_AFTER = "not JSON once Rasa answered"
    FAIL_BEFORE = "500 without asking Rasa"
    LATE = "Rasa's answer, held back"


@dataclass
class Upstream:
    """What Rasa itself answered to a webhook request the proxy forwarded."""

    status: int
    body: bytes


class RasaProxy:
    """Forwards to ``upstream`` (Rasa's base URL); ``fault(...)`` queues what the next
    webhook requests get instead of Rasa's answer. ``forwarded`` holds Rasa's own
    answers to the webhook requests, in order.

    Args:
        upstream: Rasa's base URL.
        hold: How long a `Fault.LATE` answer is held back once Rasa gave it.
    """

    def __init__(self, upstream: str, *, hold: float = 0.0) -> None:
        self._upstream = upstream.rstrip("/")
        self.hold = hold
        self.faults: list[Fault] = []
        self.forwarded: list[Upstream] = []
        self.url = ""
        self._runner: web.AppRunner | None = None
        self._http: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Self:
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=300))
        app = web.Application()
        app.router.add_route("*", "/{path:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._runner is not None and self._http is not None
        await self._runner.cleanup()
        await self._http.close()

    def fault(self, *faults: Fault) -> None:
        self.faults.extend(faults)

    async def _handle(self, request: web.Request) -> web.Response:
        fault = self.faults.pop(0) if request.path == WEBHOOK and self.faults else None
        if fault is Fault.FAIL_BEFORE:
            return web.Response(text="Internal Server Error", status=500)
        status, body, content_type = await self._forward(request)
        if request.path == WEBHOOK:
            self.forwarded.append(Upstream(status, body))
        if fault is Fault.FAIL_AFTER:
            return web.Response(text="Internal Server Error", status=500)
        if fault is Fault.GARBAGE_AFTER:
            return web.Response(text="<html>upstream hiccup", content_type="text/html")
        if fault is Fault.LATE:
            await asyncio.sleep(self.hold)
        return web.Response(body=body, status=status, content_type=content_type)

    async def _forward(self, request: web.Request) -> tuple[int, bytes, str]:
        assert self._http is not None
        headers: dict[str, Any] = {}
        if request.content_type:
            headers["Content-Type"] = request.content_type
        async with self._http.request(
            request.method,
            self._upstream + request.path,
            params=request.query,
            data=await request.read(),
            headers=headers,
        ) as response:
            return response.status, await response.read(), response.content_type
