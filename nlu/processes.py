"""Child processes that must keep running: started, restarted with a growing pause when
they die, and stopped (with everything they started) on request."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ChildSpec:
    """How to start one child process.

    Attributes:
        name: Its name in our log.
        argv: The command.
        env: Its whole environment.
        cwd: Its working directory.
        log_path: Its stdout and stderr are appended here.
    """

    name: str
    argv: Sequence[str]
    env: Mapping[str, str]
    cwd: Path
    log_path: Path


class SupervisedProcess:
    """Keeps one child process running until `stop`.

    The child gets its own process group (a Ctrl+C in the terminal reaches only us, and
    we stop the child and whatever it forked together) and, on Linux, dies with us even
    when we are killed (``setpriv --pdeathsig``).

    Args:
        spec: What to run.
        first_delay: The pause before the first restart; it doubles up to ``max_delay``.
        max_delay: The longest pause between restarts.
        stable_after: A child that ran this long counts as healthy again: the next
            restart comes after ``first_delay``.
    """

    def __init__(
        self,
        spec: ChildSpec,
        *,
        first_delay: float = 1.0,
        max_delay: float = 60.0,
        stable_after: float = 60.0,
    ) -> None:
        self.spec = spec
        self._first_delay = first_delay
        self._max_delay = max_delay
        self._stable_after = stable_after
        self._process: asyncio.subprocess.Process | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self.starts = 0

    @property
    def pid(self) -> int | None:
        """The running child's pid (None between runs)."""
        process = self._process
        return process.pid if process is not None and process.returncode is None else None

    def start(self) -> None:
        self._stopping.clear()
        self._task = asyncio.create_task(self._supervise(), name=f"supervise {self.spec.name}")

    async def stop(self, grace: float = 15.0) -> None:
        """Stop the child (SIGTERM, then SIGKILL after ``grace`` seconds)."""
        self._stopping.set()
        process = self._process
        if process is not None and process.returncode is None:
            _signal_group(process.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), grace)
            except TimeoutError:
                log.warning("%s did not stop in %.0f s; killing it", self.spec.name, grace)
                _signal_group(process.pid, signal.SIGKILL)
                await process.wait()
        if self._task is not None:
            await self._task

    async def _supervise(self) -> None:
        delay = self._first_delay
        while not self._stopping.is_set():
            started = time.monotonic()
            code = await self._run_once()
            if self._stopping.is_set():
                return
            if time.monotonic() - started >= self._stable_after:
                delay = self._first_delay
            log.warning(
                "%s exited with code %s; restarting in %g s. The end of %s:\n%s",
                self.spec.name, code, delay, self.spec.log_path, _tail(self.spec.log_path),
            )  # fmt: skip
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)
            delay = min(delay * 2, self._max_delay)

    async def _run_once(self) -> int:
        self.spec.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.spec.log_path.open("ab") as output:
            output.write(f"--- {time.strftime('%F %T')} starting {self.spec.name}\n".encode())
            output.flush()
            try:
                self._process = await asyncio.create_subprocess_exec(
                    *_dying_with_parent(self.spec.argv),
                    env=dict(self.spec.env),
                    cwd=self.spec.cwd,
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=output,
                    stderr=asyncio.subprocess.STDOUT,
                    start_new_session=True,
                )
            except OSError as error:
                output.write(f"cannot start: {error}\n".encode())
                return -1
        self.starts += 1
        log.info("%s started (pid %s, log %s)", self.spec.name, self._process.pid,
                 self.spec.log_path)  # fmt: skip
        code = await self._process.wait()
        # What it forked (a Sanic worker holding the port) must not outlive it.
        _signal_group(self._process.pid, signal.SIGKILL)
        return code


def _dying_with_parent(argv: Sequence[str]) -> list[str]:
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return list(argv)
    return [setpriv, "--pdeathsig", "TERM", "--", *argv]


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def _tail(path: Path, lines: int = 10) -> str:
    try:
        text = path.read_bytes()[-8192:].decode("utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])
