"""Knowledge-base change notices over Redis pub/sub, so running bots reload at once
instead of at their next periodic check."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from redis.asyncio import Redis

CHANNEL = "djinn:kb:version"
log = logging.getLogger(__name__)


async def publish_version(redis: Redis, version: int) -> None:
    """Tell every running bot that knowledge-base ``version`` exists."""
    await redis.publish(CHANNEL, str(version))


async def listen_versions(redis: Redis, wake: asyncio.Event, stop: asyncio.Event) -> None:
    """Set ``wake`` on every notice until ``stop``; reconnects after Redis errors."""
    while not stop.is_set():
        pubsub = redis.pubsub()
        try:
            await pubsub.subscribe(CHANNEL)
            while not stop.is_set():
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                if message is not None:
                    wake.set()
        except (OSError, ConnectionError) as error:
            log.warning("knowledge-base notices unavailable (%s); retrying", error)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 5)
        finally:
            with contextlib.suppress(Exception):
                await pubsub.aclose()
