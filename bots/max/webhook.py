"""Webhook mode: MAX POSTs each update to us with the subscription's secret in
``X-Max-Bot-Api-Secret``; we check it, store the update, answer 200 at once and handle
it in the background. An update we could not store gets a 503, so MAX sends it again."""

from __future__ import annotations

import asyncio
import hmac
import logging

from aiohttp import web

from bots.inbox import InboxWorker
from bots.max.processing import as_payload, inbox_key
from bots.webhooks import serve_post

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/max/webhook"
SECRET_HEADER = "X-Max-Bot-Api-Secret"


class MaxWebhookEndpoint:
    def __init__(self, *, secret: str, worker: InboxWorker) -> None:
        if not secret:
            raise ValueError("a webhook without a secret would accept anyone's updates")
        self._secret = secret.encode()
        self._worker = worker

    async def receive(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), self._secret):
            log.warning("a MAX webhook call with a wrong secret refused")
            return web.Response(status=403, text="wrong secret")
        try:
            update = await request.json()
        except ValueError:
            return web.Response(status=400, text="not JSON")
        try:
            await self._worker.accept([(inbox_key(update), as_payload(update))])
        except Exception as error:
            log.warning("a MAX update not stored (%s); MAX will send it again",
                        type(error).__name__)  # fmt: skip
            return web.Response(status=503, text="try again")
        return web.json_response({"ok": True})


async def serve_webhook(
    endpoint: MaxWebhookEndpoint, *, host: str, port: int, stop: asyncio.Event
) -> None:
    await serve_post(
        WEBHOOK_PATH, endpoint.receive, host=host, port=port, stop=stop, what="MAX webhook"
    )
