"""The webhook endpoint: check Telegram's secret header, store the update, answer 200 at
once and handle the update in the background."""

from __future__ import annotations

import hmac
import logging

from aiohttp import web

from bots.inbox import InboxWorker
from bots.telegram.inbound import CHANNEL
from core.inbox import InboxRepository

logger = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


def build_webhook_app(
    path: str, secret: str, inbox: InboxRepository, worker: InboxWorker
) -> web.Application:
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
        update_id = raw.get("update_id") if isinstance(raw, dict) else None
        if not isinstance(update_id, int) or isinstance(update_id, bool):
            # Telegram would re-send it forever if refused; there is nothing to retry.
            logger.warning("A webhook update without an id ignored")
            return web.Response()
        try:
            stored = await inbox.put_many(CHANNEL, [(str(update_id), raw)])
        except Exception as error:
            logger.warning(
                "update_id=%s not stored (%s); Telegram will send it again",
                update_id, type(error).__name__,
            )  # fmt: skip
            return web.Response(status=500)
        for item in stored:
            worker.submit(item)
        return web.Response()

    app = web.Application()
    app.router.add_post(path, receive_update)
    return app
