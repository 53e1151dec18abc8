"""Who holds a lease on a stored row (an inbox update being handled, replies being
sent), and whether that holder can still be alive.

Several processes may share one database (production runs more than one bot worker),
so work is leased to one worker for a while. A lease ends when its time is up, or at
once when its holder is known to be dead: a worker on this machine whose process is
gone (a crash, SIGKILL) does not keep its work waiting for the lease to run out.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass

import psutil
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError


@dataclass(frozen=True, slots=True)
class Worker:
    """A process as a lease holder: ``host/pid/start`` (the process's start time tells
    it apart from a later process that got the same pid)."""

    host: str
    pid: int
    started: str

    @classmethod
    def current(cls) -> Worker:
        return cls(socket.gethostname()[:40], os.getpid(), _started(os.getpid()) or "?")

    @property
    def id(self) -> str:
        return f"{self.host}/{self.pid}/{self.started}"

    def outlived(self, holder: str) -> bool:
        """True when ``holder`` (a worker's id) is known to be dead: a process on this
        host that no longer exists, or exists but started later (its pid was reused)."""
        host, _, rest = holder.partition("/")
        pid_text, _, started = rest.partition("/")
        if host != self.host or not pid_text.isdigit() or holder == self.id:
            return False
        now_started = _started(int(pid_text))
        return now_started is None or now_started != started


def _started(pid: int) -> str | None:
    """When process ``pid`` started (to the centisecond), None when there is none."""
    try:
        return f"{psutil.Process(pid).create_time():.2f}"
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return None
    except psutil.Error:
        return "?"  # it exists but cannot be inspected: count it as alive


# SQLSTATE classes and codes of a database that is unreachable, restarting or busy
# (connection exceptions, shutdowns, too many connections, serialization and deadlocks).
_TRANSIENT_STATES = ("08", "57P01", "57P02", "57P03", "53300", "40001", "40P01")


def is_transient(error: BaseException) -> bool:
    """True when ``error`` says the database cannot be reached, is restarting or asks to
    try again (worth retrying as it is); False for an error in what was asked of it."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OperationalError | InterfaceError | OSError | TimeoutError):
            return True
        if isinstance(current, DBAPIError) and current.connection_invalidated:
            return True
        state = getattr(current, "sqlstate", None) or getattr(current, "pgcode", None)
        if isinstance(state, str) and state.startswith(_TRANSIENT_STATES):
            return True
        if (
            type(current).__module__.startswith("asyncpg")
            and "Connection" in type(current).__name__
        ):
            return True
        current = getattr(current, "orig", None) or current.__cause__ or current.__context__
    return False
