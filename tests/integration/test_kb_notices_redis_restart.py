"""Knowledge-base notices outlive a restart of the Redis server they come through."""

import asyncio
import contextlib
import shutil
import socket
import subprocess
from pathlib import Path

from redis.asyncio import Redis

from knowledge_base.notify import listen_versions, publish_version


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_redis(port: int, directory: Path) -> subprocess.Popen[bytes]:
    binary = shutil.which("redis-server")
    assert binary, "redis-server is installed with the machine's Redis"
    options = ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(directory)]
    return subprocess.Popen(
        [binary, *options],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def wait_serving(client: Redis) -> None:
    async with asyncio.timeout(10):
        while True:
            with contextlib.suppress(Exception):
                if await client.ping():
                    return
            await asyncio.sleep(0.05)


async def test_notices_still_wake_the_bot_after_redis_restarts(tmp_path):
    port = free_port()
    server = start_redis(port, tmp_path)
    client = Redis(host="127.0.0.1", port=port)
    stop, wake = asyncio.Event(), asyncio.Event()
    listener = asyncio.create_task(listen_versions(client, wake, stop, retry_delay=0.2))
    try:
        await wait_serving(client)
        await asyncio.sleep(0.3)  # subscribed
        server.kill()
        server.wait()
        await asyncio.sleep(4)  # Redis stays away for a while
        assert not listener.done(), "the listener ended with the Redis connection"
        server = start_redis(port, tmp_path)
        await wait_serving(client)
        wake.clear()  # it may have woken on reconnecting: a notice could have been missed
        async with asyncio.timeout(15):
            while not wake.is_set():  # the listener resubscribes on its own schedule
                await publish_version(client, 42)
                await asyncio.sleep(0.2)
    finally:
        stop.set()
        await asyncio.wait_for(listener, 10)
        await client.aclose()
        server.kill()
        server.wait()
