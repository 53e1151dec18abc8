"""The bot as a real process (`python -m bots.cli bot <channel>`), started, killed and
restarted by the test, its output appended to one log file across restarts."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from pathlib import Path

from tests.conftest import ROOT

READY = "Djinn работает"
STARTUP_CAP = 120.0


class BotExited(AssertionError):
    """The bot process ended while the test waited for it."""


class BotProcess:
    def __init__(self, channel: str, env: dict[str, str], log_path: Path) -> None:
        self.channel = channel
        self.env = env
        self.log_path = log_path
        self.starts = 0
        self.startup_seconds: list[float] = []  # spawn to READY, per start that got there
        self._process: asyncio.subprocess.Process | None = None
        self._offset = 0  # where the current run's output begins in the log
        self._spawned_at = 0.0
        self.ready_at: float | None = None  # time.monotonic() of the current run's READY
        self._watcher: asyncio.Task[None] | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    # The module run as ``python -m <module> bot <channel>``.
    module = "bots.cli"

    @property
    def returncode(self) -> int | None:
        return self._process.returncode if self._process else None

    async def start(self) -> None:
        assert self.returncode is not None or self._process is None, "the bot is running"
        self._stop_watcher()
        self.starts += 1
        with self.log_path.open("ab") as log:
            log.write(f"\n=== faults harness: start #{self.starts} ===\n".encode())
            self._offset = log.tell()
            self._spawned_at, self.ready_at = time.monotonic(), None
            self._process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                self.module,
                "bot",
                self.channel,
                cwd=ROOT,
                env=self.env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
            )
        # Startup is timed by a watcher, not by whoever waits for READY next.
        self._watcher = asyncio.create_task(self._watch_ready())

    async def _watch_ready(self) -> None:
        with contextlib.suppress(AssertionError):
            await self.wait_for_output(READY)
            self.ready_at = time.monotonic()
            self.startup_seconds.append(self.ready_at - self._spawned_at)

    async def wait_for_output(self, text: str, timeout: float = STARTUP_CAP) -> None:
        """Wait until the current run printed ``text``."""
        deadline = time.monotonic() + timeout
        while text not in self.output():
            if self.returncode is not None:
                raise BotExited(
                    f"the bot exited ({self.returncode}) before {text!r}\n{self.tail()}"
                )
            if time.monotonic() > deadline:
                raise AssertionError(f"no {text!r} from the bot in {timeout} s\n{self.tail()}")
            await asyncio.sleep(0.1)

    async def wait_ready(self, timeout: float = STARTUP_CAP) -> float:
        """Wait for READY of the current run; the seconds it took from spawning."""
        assert self._watcher is not None, "start the bot first"
        await asyncio.wait({self._watcher}, timeout=timeout)
        if self.ready_at is not None:
            return self.ready_at - self._spawned_at
        if self.returncode is not None:
            raise BotExited(f"the bot exited ({self.returncode}) before {READY!r}\n{self.tail()}")
        raise AssertionError(f"no {READY!r} from the bot in {timeout} s\n{self.tail()}")

    async def kill(self) -> None:
        """SIGKILL, and wait until the pid is gone."""
        assert self._process is not None
        if self._process.returncode is None:
            self._process.send_signal(signal.SIGKILL)
        await self._process.wait()

    async def interrupt(self, timeout: float = 60.0) -> int | None:
        """Stop with SIGINT, as Ctrl+C does; the exit code, or None when it hung (then
        it is killed)."""
        assert self._process is not None
        if self._process.returncode is not None:
            return self._process.returncode
        self._process.send_signal(signal.SIGINT)
        try:
            return await asyncio.wait_for(self._process.wait(), timeout)
        except TimeoutError:
            await self.kill()
            return None

    async def close(self) -> None:
        if self._process is not None and self._process.returncode is None:
            await self.kill()
        self._stop_watcher()

    def _stop_watcher(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            self._watcher = None

    def output(self) -> str:
        """Everything the current run printed so far."""
        with self.log_path.open("rb") as log:
            log.seek(self._offset)
            return log.read().decode("utf-8", errors="replace")

    def tail(self, lines: int = 60) -> str:
        if not self.log_path.exists():
            return "(no bot output)"
        text = self.log_path.read_text("utf-8", errors="replace").splitlines()
        shown = "\n".join(text[-lines:])
        return f"--- last {lines} lines of {self.log_path} ---\n{shown}"


async def run_cli(env: dict[str, str], *args: str, timeout: float = 300.0) -> str:
    """Run ``djinn ARGS`` (e.g. ``kb import``) to completion; its output."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bots.cli",
        *args,
        cwd=ROOT,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    text = output.decode("utf-8", errors="replace")
    assert process.returncode == 0, f"djinn {' '.join(args)} failed:\n{text}"
    return text


def bot_environment(data_dir: Path, redis_url: str, **extra: str) -> dict[str, str]:
    """The environment every bot process of a test gets; channels add their fakes."""
    return {
        **os.environ,
        "PYTHONUNBUFFERED": "1",  # READY is printed to a file, not a terminal
        "DJINN_DATA_DIR": str(data_dir),
        "DJINN_RASA": "off",
        "DJINN_METRICS_PORT": "0",
        "REDIS_URL": redis_url,
        **extra,
    }
