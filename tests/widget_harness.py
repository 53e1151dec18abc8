"""The widget served as `djinn run` and `djinn admin` serve it (uvicorn on 127.0.0.1,
the web admin's app, the real conversation service over the demo knowledge base), and a
visitor on a real WebSocket client (`websockets`)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

from admin.server import serve_admin, shared_context
from admin.web import AdminContext
from bots.app import Services, open_services
from bots.web.channel import WebChannel
from core.settings import Settings
from tests.rasa_fixtures import free_port

SITE = "http://city.example.ru"  # the administration's site, allowed to embed the widget
PRIVACY = "http://city.example.ru/privacy"
WAIT = 30.0  # seconds a frame may take (a turn on a busy test machine)


@dataclass
class WidgetServer:
    url: str
    services: Services
    context: AdminContext

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://") + "/widget/ws"

    @property
    def widget(self) -> WebChannel:
        assert self.context.widget is not None
        return self.context.widget

    def http(self, origin: str | None = SITE) -> httpx.AsyncClient:
        headers = {"Origin": origin} if origin else {}
        return httpx.AsyncClient(base_url=self.url, headers=headers, timeout=WAIT)

    @contextlib.asynccontextmanager
    async def visitor(
        self, token: str | None = None, origin: str = SITE
    ) -> AsyncIterator[Visitor]:
        async with connect(self.ws_url, origin=origin, open_timeout=WAIT) as socket:  # type: ignore[arg-type]
            visitor = Visitor(socket)
            await visitor.hello(token)
            yield visitor


@dataclass
class Visitor:
    """A browser's side of one socket."""

    socket: ClientConnection
    token: str = ""
    ready: dict[str, Any] = field(default_factory=dict)
    seen: list[dict[str, Any]] = field(default_factory=list)

    async def hello(self, token: str | None) -> dict[str, Any]:
        await self.socket.send(json.dumps({"type": "hello", "token": token}))
        self.ready = await self.next("ready")
        self.token = self.ready["token"]
        return self.ready

    def new_id(self) -> str:
        """A new id of a message, unique as a browser's (random) one is."""
        return uuid.uuid4().hex

    async def say(self, text: str, *, consent: bool = True) -> str:
        client_id = self.new_id()
        await self.send({"type": "message", "id": client_id, "text": text, "consent": consent})
        return client_id

    async def press(self, button: dict[str, str]) -> str:
        client_id = self.new_id()
        await self.send({"type": "button", "id": client_id, **button})
        return client_id

    async def send(self, frame: dict[str, Any]) -> None:
        await self.socket.send(json.dumps(frame, ensure_ascii=False))

    async def next(
        self, kind: str, found: Callable[[dict[str, Any]], bool] = lambda _: True
    ) -> dict[str, Any]:
        """The next frame of ``kind`` that ``found`` accepts (earlier ones are kept in
        ``seen``)."""
        async with asyncio.timeout(WAIT):
            while True:
                frame = json.loads(await self.socket.recv())
                self.seen.append(frame)
                if frame.get("type") == kind and found(frame):
                    return frame

    async def reply(self, found: Callable[[dict[str, Any]], bool] = lambda _: True) -> dict:
        """The next message of the bot or an operator."""
        return await self.next("message", lambda f: f["from"] != "visitor" and found(f))


@contextlib.asynccontextmanager
async def widget_server(
    settings: Settings, embedder: Any, **overrides: Any
) -> AsyncIterator[WidgetServer]:
    values = {
        **dict(settings),
        "widget_origins": SITE,
        "widget_privacy_url": PRIVACY,
        **overrides,
    }
    settings = Settings(_env_file=None, **values)
    async with open_services(
        settings, with_redis=False, with_rasa=False, embedder=embedder
    ) as services:
        await services.faq.refresh()
        context = shared_context(services)
        port = free_port()
        stop = asyncio.Event()
        server = asyncio.create_task(serve_admin(context, "127.0.0.1", port, stop))
        url = f"http://127.0.0.1:{port}"
        async with asyncio.timeout(WAIT), httpx.AsyncClient() as probe:
            while True:
                try:
                    await probe.get(f"{url}/api/health")
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.05)
        try:
            yield WidgetServer(url, services, context)
        finally:
            stop.set()
            await server
