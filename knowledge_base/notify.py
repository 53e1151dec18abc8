"""Knowledge-base change notices over Redis pub/sub, so running bots reload at once
instead of at their next periodic check."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from redis.asyncio import Redis
from redis.exceptions import RedisError

CHANNEL = "djinn:kb:version"
log = logging.getLogger(__name__)


async def publish_version(redis: Redis, version: int) -> None:
    """Tell every running bot that knowledge-base ``version`` exists."""
    await redis.publish(CHANNEL, str(version))


async def listen_versions(
    redis: Redis, wake: asyncio.Event, stop: asyncio.Event, *, retry_delay: float = 5.0
) -> None:
    """Set ``wake`` on every notice until ``stop``; reconnects after Redis errors, and
    wakes once on reconnecting (a notice sent while Redis was away is lost)."""
    reconnecting = False
    while not stop.is_set():
        pubsub = redis.pubsub()
        try:
            await pubsub.subscribe(CHANNEL)
            if reconnecting:
                log.info("knowledge-base notices available again")
                wake.set()
                reconnecting = False
            while not stop.is_set():
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                if message is not None:
                    wake.set()
        except (OSError, RedisError) as error:
            # redis-py's ConnectionError is not the builtin one: a restarted Redis
            # must not end the listener for good.
            log.warning("knowledge-base notices unavailable (%s); retrying", error)
            reconnecting = True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), retry_delay)
        finally:
            with contextlib.suppress(Exception):
                await pubsub.aclose()
