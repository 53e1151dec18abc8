"""The webhook endpoint: check Telegram's secret header, store the update, answer 200 at
once and handle the update in the background."""

from __future__ import annotations

import hmac
import logging

from aiohttp import web

from bots.inbox import InboxWorker
from bots.telegram.inbound import update_id
from bots.webhooks import Handler

logger = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


def webhook_handler(secret: str, worker: InboxWorker) -> Handler:
    """The handler of Telegram's POSTs (`bots.webhooks.listening` serves it)."""
    if not secret:
        raise ValueError("a webhook without a secret would accept anyone's updates")
    expected = secret.encode()

    async def receive_update(request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, expected):
            logger.warning("Webhook request without the right secret from %s", request.remote)
            return web.Response(status=403)
        try:
            raw = await request.json()
        except ValueError:
            raw = None
        key = update_id(raw)
        if key is None:
            # Telegram would re-send it forever if refused; there is nothing to retry.
            logger.warning("A webhook update without an id ignored")
            return web.Response()
        try:
            await worker.accept([(str(key), raw)])
        except Exception as error:
            logger.warning(
                "update_id=%s not stored (%s); Telegram will send it again",
                key, type(error).__name__,
            )  # fmt: skip
            return web.Response(status=500)
        return web.Response()

    return receive_update
