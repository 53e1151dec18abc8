"""HTTP control endpoints under ``/_control/``, so another process (or a person with curl)
can drive the fake: citizens' actions, raw and repeated updates, faults, outages, blocked
citizens, and what the bot sent. No token needed; every POST takes a JSON object."""

from __future__ import annotations

import base64
import dataclasses
import functools
import json
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from tools.fake_max.server import FakeMax

CITIZEN_FIELDS = ("first_name", "last_name", "username", "chat_id", "locale")
ACTIONS = {
    "text": "send_text",
    "message": "send_message",
    "photo": "send_photo",
    "file": "send_file",
    "location": "send_location",
    "contact": "send_contact",
    "press": "press",
    "start": "start",
    "stop": "stop",
}


def add_control_routes(app: web.Application, fake: FakeMax) -> None:
    control = _Control(fake)
    app.router.add_get("/_control/", control.summary)
    app.router.add_post("/_control/citizens/{user_id}/{action}", control.citizen_action)
    app.router.add_get("/_control/updates", control.updates)
    app.router.add_post("/_control/updates", control.deliver)
    app.router.add_post("/_control/updates/{seq}/redeliver", control.redeliver)
    app.router.add_post("/_control/faults", control.fault)
    app.router.add_post("/_control/not-ready", control.not_ready)
    app.router.add_post("/_control/outage", control.outage)
    app.router.add_delete("/_control/outage", control.outage)
    app.router.add_post("/_control/blocked/{user_id}", control.block)
    app.router.add_delete("/_control/blocked/{user_id}", control.block)
    app.router.add_get("/_control/messages", control.messages)
    app.router.add_get("/_control/answers", control.answers)
    app.router.add_get("/_control/requests", control.requests)
    app.router.add_get("/_control/webhook", control.webhook)


class _Control:
    def __init__(self, fake: FakeMax) -> None:
        self._fake = fake

    async def citizen_action(self, request: web.Request) -> web.Response:
        action = ACTIONS.get(request.match_info["action"])
        if action is None:
            raise web.HTTPNotFound(text=f"actions: {', '.join(ACTIONS)}")
        body = await _json_object(request)
        details = {key: body.pop(key) for key in CITIZEN_FIELDS if key in body}
        citizen = self._fake.citizen(_int(request.match_info["user_id"]), **details)
        if "data_base64" in body:
            body["data"] = base64.b64decode(body.pop("data_base64"))
        elif action == "send_file" and "content" in body:
            body["data"] = str(body.pop("content")).encode()
        try:
            update = getattr(citizen, action)(**body)
        except (TypeError, LookupError, ValueError) as error:
            raise web.HTTPBadRequest(text=str(error)) from None
        return _json(update)

    async def updates(self, request: web.Request) -> web.Response:
        committed = self._fake.state.committed
        shown = [
            {"seq": u.seq, "committed": u.seq < committed, "payload": u.payload}
            for u in self._fake.updates
        ]
        return _json(shown)

    async def deliver(self, request: web.Request) -> web.Response:
        """Any JSON (an object, or garbage: a string, null, a list) queued as an update."""
        try:
            update = await request.json()
        except ValueError:
            raise web.HTTPBadRequest(text="a JSON body is expected") from None
        return _json({"seq": self._fake.deliver(update)})

    async def redeliver(self, request: web.Request) -> web.Response:
        try:
            seq = self._fake.redeliver(_int(request.match_info["seq"]))
        except IndexError:
            raise web.HTTPNotFound(text="no such update") from None
        return _json({"seq": seq})

    async def fault(self, request: web.Request) -> web.Response:
        body = await _json_object(request)
        operation, times = str(body.get("operation", "*")), _int(body.get("times", 1))
        if body.get("drop"):
            self._fake.drop_next(operation, times)
        else:
            status = _int(body.get("status", 429))
            self._fake.fail_next(operation, times, status=status, body=body.get("body"))
        return _json({"ok": True})

    async def not_ready(self, request: web.Request) -> web.Response:
        body = await _json_object(request)
        self._fake.attachments_not_ready(_int(body.get("times", 1)))
        return _json({"ok": True})

    async def outage(self, request: web.Request) -> web.Response:
        if request.method == "DELETE":
            self._fake.restore()
            return _json({"ok": True})
        body = await _json_object(request)
        try:
            self._fake.outage(_int(body.get("status", 502)))
        except ValueError as error:
            raise web.HTTPBadRequest(text=str(error)) from None
        return _json({"ok": True})

    async def block(self, request: web.Request) -> web.Response:
        user_id = _int(request.match_info["user_id"])
        if request.method == "DELETE":
            self._fake.unblock(user_id)
        else:
            self._fake.block(user_id)
        return _json({"ok": True})

    async def messages(self, request: web.Request) -> web.Response:
        """The bot's messages; ``?user_id=&count=&timeout=`` waits for ``count`` of them."""
        user_id = request.query.get("user_id")
        chat_id = request.query.get("chat_id")
        count = _int(request.query.get("count", 0))
        if count and user_id:
            timeout = float(request.query.get("timeout", 5))
            try:
                await self._fake.wait_for_messages(_int(user_id), count, timeout)
            except TimeoutError as error:
                raise web.HTTPRequestTimeout(text=str(error)) from None
        found = self._fake.sent(
            _int(user_id) if user_id else None, chat_id=_int(chat_id) if chat_id else None
        )
        return _json([_message(m) for m in found])

    async def answers(self, request: web.Request) -> web.Response:
        return _json([dataclasses.asdict(a) for a in self._fake.answers])

    async def requests(self, request: web.Request) -> web.Response:
        found = self._fake.requests(request.query.get("operation"))
        return _json([dataclasses.asdict(r) for r in found])

    async def webhook(self, request: web.Request) -> web.Response:
        return _json(
            {
                "subscriptions": [s.to_api() for s in self._fake.subscriptions],
                "attempts": [dataclasses.asdict(a) for a in self._fake.webhook_attempts],
            }
        )

    async def summary(self, request: web.Request) -> web.Response:
        fake, state = self._fake, self._fake.state
        limits = fake.rate_limits
        return _json(
            {
                "url": fake.url,
                "token": fake.token,
                "bot": state.bot_info(),
                "citizens": [
                    {"user_id": p.user_id, "chat_id": p.chat_id, "blocked": p.blocked}
                    for p in state.people.values()
                ],
                "updates": len(state.updates),
                "pending_updates": state.pending,
                "messages_sent": len(state.sent()),
                "subscriptions": [s.to_api() for s in fake.subscriptions],
                "outage": state.outage,
                "rate_limits": dataclasses.asdict(limits) if limits is not None else None,
            }
        )


def _message(message: Any) -> dict[str, Any]:
    return {
        "mid": message.mid,
        "user_id": message.user_id,
        "chat_id": message.chat_id,
        "text": message.text,
        "keyboard": message.keyboard,
        "attachments": message.attachments,
        "request": message.request,
        "query": message.query,
        "edits": message.edits,
        "deleted": message.deleted,
        "message": message.to_api(),
    }


def _json(data: Any) -> web.Response:
    return web.json_response(data, dumps=functools.partial(json.dumps, ensure_ascii=False))


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise web.HTTPBadRequest(text=f"an integer is expected, not {value!r}") from None


async def _json_object(request: web.Request) -> dict[str, Any]:
    if not request.body_exists:
        return {}
    try:
        body = await request.json()
    except ValueError:
        raise web.HTTPBadRequest(text="a JSON object is expected") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text="a JSON object is expected")
    return body
