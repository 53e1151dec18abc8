"""Pushing updates to the bot's webhook subscriptions the way MAX does: in order, each to
every subscription that wants its type, with the secret in ``X-Max-Bot-Api-Secret``;
anything but 200 is a failed delivery, retried with growing pauses.

MAX keeps retrying for up to 8 hours; the fake gives up after ``attempts`` tries (recorded
in `MaxState.webhook_attempts`) and goes on with the next update, so one broken update
does not stall a test.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import ClientError, ClientSession, ClientTimeout

from tools.fake_max.world import MaxState, StoredUpdate, Subscription, WebhookAttempt

SECRET_HEADER = "X-Max-Bot-Api-Secret"


async def push_updates(
    state: MaxState, session: ClientSession, *, attempts: int, retry_delay: float
) -> None:
    while not state.closing:
        if not state.subscriptions or state.outage is not None:
            await state.changed.wait(1.0)
            continue
        start = max(state.webhook_next, state.committed)
        if start >= len(state.updates):
            await state.changed.wait(1.0)
            continue
        update = state.updates[start]
        for subscription in list(state.subscriptions.values()):
            if subscription.wants(update):
                await _deliver(state, session, subscription, update, attempts, retry_delay)
        state.webhook_next = start + 1
        # A pushed update is gone from the queue, as if a marker had committed it.
        state.commit(start + 1)
        state.notify()


async def _deliver(
    state: MaxState,
    session: ClientSession,
    subscription: Subscription,
    update: StoredUpdate,
    attempts: int,
    retry_delay: float,
) -> bool:
    for attempt in range(attempts):
        if attempt:
            await asyncio.sleep(retry_delay * 2 ** (attempt - 1))
        if subscription.url not in state.subscriptions or state.closing:
            return False
        status, error = await _post(session, subscription, update.payload)
        state.webhook_attempts.append(WebhookAttempt(update.seq, subscription.url, status, error))
        state.notify()
        if status == 200:
            return True
    return False


async def _post(
    session: ClientSession, subscription: Subscription, payload: Any
) -> tuple[int | None, str | None]:
    headers = {SECRET_HEADER: subscription.secret} if subscription.secret else {}
    try:
        async with session.post(
            subscription.url, json=payload, headers=headers, timeout=ClientTimeout(total=10)
        ) as response:
            await response.read()
            return response.status, None
    except (ClientError, TimeoutError) as error:
        return None, f"{type(error).__name__}: {error}"
