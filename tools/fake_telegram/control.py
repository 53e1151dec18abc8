"""HTTP control endpoints under ``/_fake/`` so another process (or a person with curl) can
drive the fake: inject updates, inject faults and outages, block chats and read what the bot
sent."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from tools.fake_telegram.server import FakeTelegram

CITIZEN_FIELDS = ("first_name", "last_name", "username", "language_code", "group_id")
ACTIONS = {
    "text": "send_text",
    "command": "send_command",
    "photo": "send_photo",
    "voice": "send_voice",
    "video": "send_video",
    "video_note": "send_video_note",
    "audio": "send_audio",
    "sticker": "send_sticker",
    "document": "send_document",
    "location": "send_location",
    "contact": "send_contact",
    "press": "press_button",
    "message": "send_message",
}


def add_control_routes(app: web.Application, fake: FakeTelegram) -> None:
    control = _Control(fake)
    app.router.add_get("/_fake/", control.summary)
    app.router.add_post("/_fake/citizens/{user_id}/{action}", control.citizen_action)
    app.router.add_post("/_fake/updates", control.inject)
    app.router.add_post("/_fake/updates/{update_id}/redeliver", control.redeliver)
    app.router.add_post("/_fake/faults", control.add_fault)
    app.router.add_post("/_fake/outage", control.outage)
    app.router.add_delete("/_fake/outage", control.outage)
    app.router.add_post("/_fake/blocked/{chat_id}", control.block)
    app.router.add_delete("/_fake/blocked/{chat_id}", control.block)
    app.router.add_get("/_fake/chats/{chat_id}/messages", control.messages)
    app.router.add_get("/_fake/requests", control.requests)


class _Control:
    def __init__(self, fake: FakeTelegram) -> None:
        self._fake = fake

    async def citizen_action(self, request: web.Request) -> web.Response:
        action = ACTIONS.get(request.match_info["action"])
        if action is None:
            raise web.HTTPNotFound(text=f"actions: {', '.join(ACTIONS)}")
        body = await _json_body(request)
        details = {key: body.pop(key) for key in CITIZEN_FIELDS if key in body}
        citizen = self._fake.citizen(int(request.match_info["user_id"]), **details)
        try:
            update = getattr(citizen, action)(**body)
        except (TypeError, LookupError) as error:
            raise web.HTTPBadRequest(text=str(error)) from None
        return web.json_response(update)

    async def inject(self, request: web.Request) -> web.Response:
        return web.json_response(self._fake.inject_raw(await _json_body(request)))

    async def redeliver(self, request: web.Request) -> web.Response:
        try:
            self._fake.redeliver(int(request.match_info["update_id"]))
        except KeyError:
            raise web.HTTPNotFound(text="no such update") from None
        return web.json_response({"ok": True})

    async def add_fault(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        method, times = str(body["method"]), int(body.get("times", 1))
        if body.get("drop"):
            self._fake.drop_next(method, times)
        else:
            status, retry_after = int(body.get("status", 429)), int(body.get("retry_after", 1))
            self._fake.fail_next(method, times, status=status, retry_after=retry_after)
        return web.json_response({"ok": True})

    async def outage(self, request: web.Request) -> web.Response:
        if request.method == "DELETE":
            self._fake.restore()
            return web.json_response({"ok": True})
        body = await _json_body(request)
        try:
            self._fake.outage(int(body.get("status", 502)))
        except ValueError as error:
            raise web.HTTPBadRequest(text=str(error)) from None
        return web.json_response({"ok": True})

    async def block(self, request: web.Request) -> web.Response:
        chat_id = int(request.match_info["chat_id"])
        if request.method == "DELETE":
            self._fake.unblock(chat_id)
        else:
            self._fake.block(chat_id)
        return web.json_response({"ok": True})

    async def messages(self, request: web.Request) -> web.Response:
        chat_id = int(request.match_info["chat_id"])
        count = int(request.query.get("count", 0))
        if count:
            timeout = float(request.query.get("timeout", 5))
            try:
                await self._fake.wait_for_messages(chat_id, count, timeout=timeout)
            except TimeoutError as error:
                raise web.HTTPRequestTimeout(text=str(error)) from None
        return web.json_response(self._fake.messages(chat_id))

    async def requests(self, request: web.Request) -> web.Response:
        found = self._fake.requests(request.query.get("method"))
        return web.json_response([asdict(r) for r in found])

    async def summary(self, request: web.Request) -> web.Response:
        state, limits = self._fake.state, self._fake.rate_limits
        return web.json_response(
            {
                "api_url": self._fake.api_url,
                "bot": state.bot_user,
                "pending_updates": len(state.queue),
                "outage": state.outage,
                "rate_limits": asdict(limits) if limits is not None else None,
                "webhook": asdict(state.webhook) if state.webhook else None,
                "chats": sorted(state.chats),
                "blocked": sorted(state.blocked),
                "commands": state.commands,
            }
        )


async def _json_body(request: web.Request) -> dict[str, Any]:
    if not request.body_exists:
        return {}
    try:
        body = await request.json()
    except ValueError:
        raise web.HTTPBadRequest(text="JSON object expected") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text="JSON object expected")
    return body
