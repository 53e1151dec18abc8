"""The embedded Redis: started on demand, shared between processes on one machine."""

import asyncio
import os
import signal

from core.redis import is_serving as alive
from core.redis import open_redis


async def test_embedded_redis_is_started_and_shared(tmp_path):
    async with open_redis(None, tmp_path) as first:
        assert await first.ping()
        await first.set("djinn:test", "1")
        async with open_redis(None, tmp_path) as second:  # connects, starts nothing
            assert await second.get("djinn:test") == b"1"
            pubsub = second.pubsub()
            await pubsub.subscribe("djinn:test:channel")
            await first.publish("djinn:test:channel", "hello")
            async with asyncio.timeout(5):
                while (
                    message := await pubsub.get_message(ignore_subscribe_messages=True, timeout=1)
                ) is None:
                    pass
            assert message["data"] == b"hello"
            await pubsub.aclose()
        assert await first.ping()  # the second client leaving did not stop the server
    assert not await alive(tmp_path / "redis" / "redis.sock")  # its owner stopped it


async def test_redis_url_is_used_when_given(tmp_path):
    async with open_redis("redis://127.0.0.1:6379/15", tmp_path) as client:
        assert await client.ping()
    assert not (tmp_path / "redis").exists()


async def test_embedded_redis_keeps_writes_across_a_crash(tmp_path):
    """AOF with fsync every second: a write a second old survives SIGKILL of the server."""
    async with open_redis(None, tmp_path) as client:
        await client.set("djinn:test:durable", "kept")
        await asyncio.sleep(1.5)  # appendfsync everysec
        pid = (await client.info("server"))["process_id"]
        os.kill(pid, signal.SIGKILL)
        async with asyncio.timeout(5):
            while await alive(tmp_path / "redis" / "redis.sock"):
                await asyncio.sleep(0.05)
    async with open_redis(None, tmp_path) as client:  # starts a new server on the same dir
        assert (await client.info("server"))["process_id"] != pid
        assert await client.get("djinn:test:durable") == b"kept"
