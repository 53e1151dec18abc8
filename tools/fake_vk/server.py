"""The fake VK on the wire: API methods, the Bots Long Poll server and the control
endpoints, served by aiohttp on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from types import TracebackType
from typing import Any

import aiohttp
from aiohttp import web

from tools.fake_vk import api, control
from tools.fake_vk.callback import CallbackPusher
from tools.fake_vk.limits import RANDOM_ID_WINDOW, VK_COMMUNITY_LIMIT, Clock, RateLimit
from tools.fake_vk.validation import VkError
from tools.fake_vk.world import ERROR_MESSAGES, Fault, VkWorld

LONGPOLL_MAX_WAIT = 90
UPLOAD_SIZE_LIMIT = 60 * 1024**2  # above VK's 50 MB for a photo


class FakeVk(VkWorld):
    """A VK community and its citizens, served over HTTP.

    ``async with FakeVk() as vk:`` starts it on a free port; ``vk.api_url`` is the
    VK_API_URL for the bot. See `VkWorld` for ``random_id_window``, ``rate_limit`` and
    ``clock``.
    """

    def __init__(
        self,
        *,
        token: str = "fake-vk-token",
        group_id: int = 1000,
        host: str = "127.0.0.1",
        port: int = 0,
        random_id_window: float = RANDOM_ID_WINDOW,
        rate_limit: RateLimit | None = VK_COMMUNITY_LIMIT,
        clock: Clock = time.monotonic,
    ) -> None:
        super().__init__(
            token=token,
            group_id=group_id,
            random_id_window=random_id_window,
            rate_limit=rate_limit,
            clock=clock,
        )
        self.host = host
        self.port = port
        self.outage_status: int | None = None
        self.callback: CallbackPusher | None = None
        self._runner: web.AppRunner | None = None
        self._client: aiohttp.ClientSession | None = None
        self._pushes: set[asyncio.Task[bool]] = set()
        self._closing = False

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/method/"

    @property
    def longpoll_url(self) -> str:
        return f"{self.base_url}/lp/wh{self.group_id}"

    async def start(self) -> None:
        app = web.Application(client_max_size=UPLOAD_SIZE_LIMIT)
        app.router.add_route("*", "/method/{method}", self._method)
        app.router.add_route("*", "/lp/{server}", self._longpoll)
        app.router.add_post("/upload/{kind}/{token}", self._upload)
        app.router.add_get("/{folder:photos|docs|audio|stickers}/{name}", self._file)
        control.add_routes(app, self)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()
        self.port = self._runner.addresses[0][1]
        self.media.base_url = self.base_url
        self._client = aiohttp.ClientSession()

    async def close(self) -> None:
        self._closing = True
        self._wake()
        for task in list(self._pushes):
            task.cancel()
        await asyncio.gather(*self._pushes, return_exceptions=True)
        if self._client is not None:
            await self._client.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> FakeVk:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # --- outages ----------------------------------------------------------------------

    def outage(self, status: int = 502) -> None:
        """Answer every API method and long poll with HTTP ``status`` until `restore`;
        citizens' events keep arriving and are delivered afterwards."""
        if not 400 <= status < 600:
            raise ValueError(f"an outage answers an HTTP error status, not {status}")
        self.outage_status = status
        self._wake()

    def restore(self) -> None:
        self.outage_status = None
        self._wake()

    # --- Callback API ---------------------------------------------------------------

    def use_callback(
        self, url: str, secret: str | None, *, attempts: int = 5, retry_delay: float = 0.05
    ) -> CallbackPusher:
        """From now on, also POST every event to ``url`` as the Callback API does."""
        assert self._client is not None, "start the fake first"
        self.callback = CallbackPusher(
            self._client,
            url,
            secret=secret,
            group_id=self.group_id,
            attempts=attempts,
            retry_delay=retry_delay,
        )
        self.event_listeners[:] = [self._schedule_push]
        return self.callback

    async def confirm_callback(self) -> str:
        assert self.callback is not None, "call use_callback first"
        return await self.callback.confirm()

    async def callbacks_settled(self) -> list[bool]:
        """Wait until every event has been delivered or given up on."""
        return list(await asyncio.gather(*self._pushes))

    def _schedule_push(self, event: Any) -> None:
        assert self.callback is not None
        task = asyncio.get_running_loop().create_task(self.callback.push(event))
        self._pushes.add(task)
        task.add_done_callback(self._pushes.discard)

    # --- HTTP handlers --------------------------------------------------------------

    async def _method(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        params = await _params(request)
        self.record(method, {k: v for k, v in params.items() if k != "access_token"})
        if self.outage_status is not None:
            return _down(self.outage_status)
        fault = self.take_fault(method)
        if fault is not None:
            return _fault_response(request, fault, method, params)
        try:
            result = api.call(self, method, params, self.longpoll_url)
        except VkError as error:
            return _error(error.code, error.message, method, params)
        return web.json_response({"response": result})

    async def _upload(self, request: web.Request) -> web.StreamResponse:
        """The upload server an ``upload_url`` points at (see `tools.fake_vk.media`)."""
        kind = request.match_info["kind"]
        files: dict[str, tuple[str, bytes]] = {}
        if request.content_type == "multipart/form-data":
            form = await request.post()
            for name, value in form.items():
                if isinstance(value, web.FileField):
                    files[name] = (value.filename, value.file.read())
        self.record("upload", {"kind": kind, "fields": ",".join(sorted(files))})
        if self.outage_status is not None:
            return _down(self.outage_status)
        fault = self.take_fault("upload")
        if fault is not None:
            return _fault_response(request, fault, "upload", {})
        answer = self.media.receive_upload(kind, request.match_info["token"], files)
        return web.json_response(answer)

    async def _file(self, request: web.Request) -> web.StreamResponse:
        """A photo's size, a document, a voice message or a sticker's image, as VK's
        content servers serve them."""
        path = f"{request.match_info['folder']}/{request.match_info['name']}"
        found = self.media.files.get(path)
        if found is None:
            return web.Response(status=404, text="<html><h1>404 Not Found</h1></html>")
        return web.Response(body=found.body(), content_type=found.content_type)

    async def _longpoll(self, request: web.Request) -> web.StreamResponse:
        params = await _params(request)
        self.record("longpoll", params)
        if self.outage_status is not None:
            return _down(self.outage_status)
        fault = self.take_fault("longpoll")
        if fault is not None:
            return _fault_response(request, fault, "longpoll", params)
        if params.get("act") != "a_check":
            return web.json_response({"failed": 3})
        wait = min(_number(params.get("wait"), 25), LONGPOLL_MAX_WAIT)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while True:
            if self.outage_status is not None:
                # A poll held open when VK goes down ends with the outage, not with events.
                return _down(self.outage_status)
            answer = self._longpoll_answer(params)
            remaining = deadline - loop.time()
            if answer is not None or remaining <= 0 or self._closing:
                return web.json_response(answer or self._updates(params))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed(), remaining)

    def _longpoll_answer(self, params: dict[str, str]) -> dict[str, Any] | None:
        failure = self.take_longpoll_failure()
        if failure == 1:
            return {"failed": 1, "ts": str(self.next_ts)}
        if failure is not None:
            return {"failed": failure}
        if not self.key_valid(params.get("key", "")):
            return {"failed": 2}
        if not params.get("ts", "").isdigit():
            return {"failed": 1, "ts": str(self.next_ts)}
        if self.events_from(int(params["ts"])):
            return self._updates(params)
        return None

    def _updates(self, params: dict[str, str]) -> dict[str, Any]:
        ts = int(params["ts"]) if params.get("ts", "").isdigit() else self.next_ts
        return {"ts": str(self.next_ts), "updates": self.events_from(ts)}


async def _params(request: web.Request) -> dict[str, str]:
    params = dict(request.query)
    if request.can_read_body:
        form = await request.post()
        params.update({k: v for k, v in form.items() if isinstance(v, str)})
    return params


def _number(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


def _error(code: int, message: str, method: str, params: dict[str, str]) -> web.Response:
    shown = {"method": method, "oauth": "1"} | {
        k: v for k, v in params.items() if k != "access_token"
    }
    request_params = [{"key": k, "value": v} for k, v in shown.items()]
    body = {"error": {"error_code": code, "error_msg": message, "request_params": request_params}}
    return web.Response(text=json.dumps(body, ensure_ascii=False), content_type="application/json")


def _fault_response(
    request: web.Request, fault: Fault, method: str, params: dict[str, str]
) -> web.StreamResponse:
    if fault.kind == "error":
        return _error(fault.code, ERROR_MESSAGES.get(fault.code, "Unknown error"), method, params)
    if fault.kind == "http":
        return _down(fault.code)
    # Dropping the connection: the client sees it closed without an answer.
    if request.transport is not None:
        request.transport.close()
    return web.Response()


def _down(status: int) -> web.Response:
    # VK's front servers answer an HTTP error with a bare HTML page, not a VK error object.
    return web.Response(status=status, text=f"<html><h1>{status}</h1></html>")
