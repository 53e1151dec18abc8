"""Pushing queued updates to the bot's webhook the way Telegram does: one at a time, in
order, retrying an update until the bot answers 2xx."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiohttp import ClientError, ClientSession, ClientTimeout

from tools.fake_telegram.state import FakeState, Webhook, WebhookAttempt

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


async def deliver_updates(state: FakeState, session: ClientSession, retry_delay: float) -> None:
    while not state.closing:
        webhook = state.webhook
        # Updates wait out an outage in the queue, as they do at Telegram.
        up = webhook is not None and state.outage is None
        batch = state.take_batch(1) if up else []
        if webhook is None or not batch:
            await state.changed.wait(1.0)
            continue
        update = batch[0]
        status, reason = await _post(session, webhook, update)
        state.webhook_attempts.append(WebhookAttempt(update["update_id"], status, time.time()))
        if status is not None and 200 <= status < 300:
            state.drop_delivered(update["update_id"])
            continue
        webhook.last_error_date = int(time.time())
        webhook.last_error_message = reason
        state.changed.notify()
        await asyncio.sleep(retry_delay)


async def _post(
    session: ClientSession, webhook: Webhook, update: dict[str, Any]
) -> tuple[int | None, str]:
    headers = {SECRET_HEADER: webhook.secret_token} if webhook.secret_token else {}
    try:
        async with session.post(
            webhook.url, json=update, headers=headers, timeout=ClientTimeout(total=10)
        ) as response:
            await response.read()
            return response.status, f"Wrong response from the webhook: {response.status}"
    except (ClientError, TimeoutError) as error:
        return None, f"Connection failed: {type(error).__name__}"
