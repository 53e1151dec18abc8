"""Callback API mode: VK POSTs each event to us; we check it, store it, answer "ok" at
once and handle it in the background."""

from __future__ import annotations

import asyncio
import hmac
import logging

from aiohttp import web

from bots.inbox import InboxWorker
from bots.vk.processing import event_key
from bots.webhooks import serve_post

log = logging.getLogger(__name__)

CALLBACK_PATH = "/vk/callback"


class VkCallbackEndpoint:
    def __init__(
        self,
        *,
        group_id: int,
        secret: str,
        confirmation_code: str,
        worker: InboxWorker,
    ) -> None:
        if not secret:
            raise ValueError("a Callback API without a secret would accept anyone's events")
        self._group_id = group_id
        self._secret = secret.encode()
        self._confirmation_code = confirmation_code
        self._worker = worker

    async def receive(self, request: web.Request) -> web.Response:
        try:
            event = await request.json()
        except ValueError:
            return web.Response(status=400, text="not JSON")
        if not isinstance(event, dict):
            return web.Response(status=400, text="not an event")
        if event.get("group_id") != self._group_id:
            log.warning("VK callback for another community: %r", event.get("group_id"))
            return web.Response(status=403, text="wrong community")
        if event.get("type") == "confirmation":
            return web.Response(text=self._confirmation_code)
        secret = event.pop("secret", None)
        if not isinstance(secret, str) or not hmac.compare_digest(secret.encode(), self._secret):
            log.warning("VK callback with a wrong secret refused")
            return web.Response(status=403, text="wrong secret")
        try:
            await self._worker.accept([(event_key(event), event)])
        except Exception as error:
            log.warning("a VK callback event not stored (%s); VK will send it again",
                        type(error).__name__)  # fmt: skip
            return web.Response(status=500, text="try again")
        return web.Response(text="ok")


async def serve_callback(
    endpoint: VkCallbackEndpoint, *, host: str, port: int, stop: asyncio.Event
) -> None:
    await serve_post(
        CALLBACK_PATH, endpoint.receive, host=host, port=port, stop=stop, what="VK Callback API"
    )
