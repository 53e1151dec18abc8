"""Rasa for the tests that need the real one.

- ``rasa_model`` (session): the model of ``nlu/`` as it is, trained through the hash cache
  in ``data/rasa/models`` (``make test`` trains it before pytest starts, so a test run
  normally reuses it; a second run always does).
- ``rasa_stack`` (session): Rasa and the action server, started once per session by the
  same code ``djinn run`` uses (`nlu.servers.RasaServers`, supervised: a killed Rasa comes
  back by itself), on free ports, over one session data directory — a copy of the demo
  data (SQLite database with the demo FAQ and its index). The action server writes to
  that database, so every test that talks to Rasa shares it: use a fresh citizen
  (``new_citizen()``) per test. Its ``settings`` have ``rasa=True`` and the two URLs.
- ``rasa_services`` (function): `bots.app.Services` over ``rasa_stack``'s settings, whose
  conversation service goes through Rasa with the knowledge-base fallback, opened once Rasa
  and the action server answer.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import signal
import socket
import threading
from collections.abc import AsyncIterator, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

from bots.app import Services, open_services
from core.settings import Settings
from nlu.project import REPOSITORY_MODELS, ModelCache, RasaProject, RasaVenv, TrainingError
from nlu.rasa import RasaHealth
from nlu.servers import RasaServers

T = TypeVar("T")
# Rasa loads TensorFlow and the model; on a busy two-core machine that takes a while.
STARTUP_TIMEOUT = 300.0
_citizens = itertools.count(900_001)


def new_citizen() -> str:
    """A user id no other test of the session uses."""
    return str(next(_citizens))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class BackgroundLoop:
    """An event loop in its own thread for the whole session: it supervises the
    servers while each test runs in its own loop."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="rasa", daemon=True)
        self._thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(30)
        self.loop.close()


async def wait_healthy(settings: Settings, timeout: float = STARTUP_TIMEOUT) -> None:
    """Until Rasa (model loaded) and the action server both answer."""
    health = RasaHealth(settings.rasa_url, settings.action_server_url)
    try:
        await health.wait(timeout)
    except TimeoutError as error:
        raise AssertionError(f"Rasa: {error}; see {settings.logs_dir}") from None
    finally:
        await health.aclose()


@dataclass
class RasaStack:
    settings: Settings
    servers: RasaServers
    model: Path

    @property
    def data_dir(self) -> Path:
        return self.settings.data_dir

    def kill_rasa(self) -> int:
        """SIGKILL the Rasa process (its supervisor starts it again); its pid."""
        pid = self.servers.rasa.pid
        assert pid is not None, "Rasa is not running"
        os.kill(pid, signal.SIGKILL)
        return pid


@pytest.fixture(scope="session")
def rasa_model() -> Path:
    cache = ModelCache(REPOSITORY_MODELS, RasaProject(), RasaVenv())
    try:
        return cache.ensure().path
    except TrainingError as error:
        pytest.fail(f"no Rasa model for the tests: {error}")


@pytest.fixture(scope="session")
def rasa_stack(
    rasa_model: Path, demo_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RasaStack]:
    data_dir = tmp_path_factory.mktemp("rasa-data")
    shutil.copytree(demo_template, data_dir, dirs_exist_ok=True)
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        data_dir=data_dir,
        rasa=True,
        rasa_url=f"http://127.0.0.1:{free_port()}",
        action_server_url=f"http://127.0.0.1:{free_port()}",
    )
    background = BackgroundLoop()

    async def start() -> RasaServers:
        servers = RasaServers(settings, rasa_model)
        servers.start()
        return servers

    servers = background.run(start())
    try:
        background.run(wait_healthy(settings))
        yield RasaStack(settings, servers, rasa_model)
    finally:
        background.run(servers.stop(), timeout=60)
        background.close()


@pytest.fixture
async def rasa_services(rasa_stack: RasaStack, embedder: Any) -> AsyncIterator[Services]:
    await wait_healthy(rasa_stack.settings)  # a test before may have killed Rasa
    async with open_services(rasa_stack.settings, with_redis=False, embedder=embedder) as services:
        await services.faq.refresh()
        yield services
