"""HTTP control endpoints under ``/_fake/``, for driving the fake from another process.

Every POST takes a JSON object; every answer is JSON.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from tools.fake_vk.server import FakeVk

Handler = Callable[[web.Request], Awaitable[web.Response]]


def add_routes(app: web.Application, vk: FakeVk) -> None:
    controls = Controls(vk)
    for name in (
        "message",
        "button",
        "attachment",
        "photo",
        "location",
        "event",
        "fault",
        "block",
        "unblock",
        "users",
        "callback",
        "outage",
        "restore",
    ):
        app.router.add_post(f"/_fake/{name}", _guarded(getattr(controls, name)))
    app.router.add_delete("/_fake/outage", _guarded(controls.restore))
    app.router.add_post("/_fake/longpoll/fail", _guarded(controls.longpoll_fail))
    app.router.add_post("/_fake/callback/confirm", _guarded(controls.confirm))
    app.router.add_get("/_fake/sent", _guarded(controls.sent))
    app.router.add_get("/_fake/requests", _guarded(controls.requests))


def _guarded(handler: Handler) -> Handler:
    async def guarded(request: web.Request) -> web.Response:
        try:
            return await handler(request)
        except (KeyError, ValueError, TypeError) as error:
            return web.json_response({"error": repr(error)}, status=400)

    return guarded


class Controls:
    def __init__(self, vk: FakeVk) -> None:
        self.vk = vk

    async def message(self, request: web.Request) -> web.Response:
        body = await _body(request)
        event = self.vk.send_text(
            int(body["peer_id"]),
            str(body.get("text", "")),
            payload=body.get("payload"),
            event_id=body.get("event_id"),
        )
        return web.json_response(event)

    async def button(self, request: web.Request) -> web.Response:
        body = await _body(request)
        event = self.vk.press_button(int(body["peer_id"]), str(body["label"]), body["payload"])
        return web.json_response(event)

    async def attachment(self, request: web.Request) -> web.Response:
        body = await _body(request)
        event = self.vk.send_attachment(
            int(body["peer_id"]), str(body["kind"]), str(body.get("text", ""))
        )
        return web.json_response(event)

    async def photo(self, request: web.Request) -> web.Response:
        body = await _body(request)
        event = self.vk.send_photo(
            int(body["peer_id"]),
            str(body.get("text", "")),
            width=int(body.get("width", 1280)),
            height=int(body.get("height", 960)),
        )
        return web.json_response(event)

    async def location(self, request: web.Request) -> web.Response:
        body = await _body(request)
        event = self.vk.send_location(
            int(body["peer_id"]), float(body["latitude"]), float(body["longitude"])
        )
        return web.json_response(event)

    async def event(self, request: web.Request) -> web.Response:
        body = await _body(request)
        return web.json_response(self.vk.push_event(body.get("event")))

    async def fault(self, request: web.Request) -> web.Response:
        body = await _body(request)
        method, count, kind = str(body["method"]), int(body.get("count", 1)), body.get("kind")
        if kind == "http":
            self.vk.fail_http(method, count, int(body.get("code", 502)))
        elif kind == "drop":
            self.vk.drop_next(method, count)
        else:
            self.vk.fail_next(method, count, int(body.get("code", 6)))
        return web.json_response({"ok": True})

    async def block(self, request: web.Request) -> web.Response:
        body = await _body(request)
        self.vk.block_peer(int(body["peer_id"]), int(body.get("code", 901)))
        return web.json_response({"ok": True})

    async def unblock(self, request: web.Request) -> web.Response:
        body = await _body(request)
        self.vk.unblock_peer(int(body["peer_id"]))
        return web.json_response({"ok": True})

    async def outage(self, request: web.Request) -> web.Response:
        body = await _body(request) if request.body_exists else {}
        self.vk.outage(int(body.get("status", 502)))
        return web.json_response({"ok": True})

    async def restore(self, request: web.Request) -> web.Response:
        self.vk.restore()
        return web.json_response({"ok": True})

    async def longpoll_fail(self, request: web.Request) -> web.Response:
        body = await _body(request)
        self.vk.fail_longpoll(int(body["code"]))
        return web.json_response({"ok": True})

    async def callback(self, request: web.Request) -> web.Response:
        body = await _body(request)
        self.vk.use_callback(str(body["url"]), body.get("secret"))
        return web.json_response({"ok": True})

    async def confirm(self, request: web.Request) -> web.Response:
        return web.json_response({"answer": await self.vk.confirm_callback()})

    async def users(self, request: web.Request) -> web.Response:
        body = await _body(request)
        self.vk.users[int(body["id"])] = (str(body["first_name"]), str(body["last_name"]))
        return web.json_response({"ok": True})

    async def sent(self, request: web.Request) -> web.Response:
        peer = request.query.get("peer_id")
        messages = self.vk.sent_to(int(peer)) if peer else self.vk.all_sent()
        return web.json_response([dataclasses.asdict(m) for m in messages])

    async def requests(self, request: web.Request) -> web.Response:
        method = request.query.get("method")
        found = self.vk.calls(method) if method else self.vk.requests
        return web.json_response([dataclasses.asdict(r) for r in found])


async def _body(request: web.Request) -> dict[str, Any]:
    body = await request.json()
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text="a JSON object is expected")
    return body
