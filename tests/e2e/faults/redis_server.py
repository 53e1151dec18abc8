"""A private `redis-server` for one test, with its own port and append-only file."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

from redis.asyncio import Redis

REDIS_SERVER = "/usr/bin/redis-server"


class RedisServer:
    def __init__(self, directory: Path, port: int) -> None:
        self.directory = directory
        self.port = port
        self._process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> Redis:
        return Redis.from_url(self.url, socket_connect_timeout=1)

    async def start(self, timeout: float = 10.0) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._process = await asyncio.create_subprocess_exec(
            REDIS_SERVER,
            "--bind", "127.0.0.1",
            "--port", str(self.port),
            "--appendonly", "yes",
            "--appendfsync", "everysec",
            "--dir", str(self.directory),
            "--logfile", str(self.directory / "redis.log"),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while not await self.answers():
            log = self.directory / "redis.log"
            if self._process.returncode is not None or time.monotonic() > deadline:
                raise AssertionError(f"redis-server did not start:\n{log.read_text()[-2000:]}")
            await asyncio.sleep(0.05)

    async def answers(self) -> bool:
        client = self.client()
        try:
            return bool(await client.ping())
        except Exception:
            return False
        finally:
            await client.aclose()

    async def kill(self) -> None:
        """kill -9, and wait until it is gone."""
        if self._process is not None and self._process.returncode is None:
            self._process.send_signal(signal.SIGKILL)
            await self._process.wait()

    async def subscribers(self, channel: str) -> int:
        client = self.client()
        try:
            [(_, count)] = await client.pubsub_numsub(channel)
            return int(count)
        finally:
            await client.aclose()
