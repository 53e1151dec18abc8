"""What every performance benchmark prints: the machine, how busy it was, percentiles
and a Markdown table to paste into bench/README.md."""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from types import TracebackType

import faiss
import numpy as np
import psutil


def machine() -> str:
    """One line: CPU model, cores, RAM, Python, faiss, date."""
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        model = next(
            line.split(":", 1)[1].strip() for line in lscpu.splitlines() if "Model name" in line
        )
    except (OSError, subprocess.CalledProcessError, StopIteration):
        model = platform.processor() or "unknown CPU"
    ram = psutil.virtual_memory().total / 2**30
    return (
        f"{model}, {os.cpu_count()} cores, {ram:.0f} GiB RAM, Python {platform.python_version()}, "
        f"faiss {faiss.__version__}, {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC"
    )


@dataclass
class Load:
    """How busy the machine was around a measurement.

    ``others`` is the CPU that processes other than this one (and its children) used,
    in cores, averaged over the measurement: 0.0 on a quiet machine, up to the number
    of cores on a saturated one.
    """

    before: float = 0.0
    after: float = 0.0
    others: float = 0.0
    _start: tuple[float, float, float] = field(default=(0.0, 0.0, 0.0), repr=False)

    def __enter__(self) -> Load:
        self.before = os.getloadavg()[0]
        self._start = (time.perf_counter(), _busy(), _own())
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        wall = time.perf_counter() - self._start[0]
        busy = _busy() - self._start[1]
        own = _own() - self._start[2]
        self.after = os.getloadavg()[0]
        self.others = max(0.0, (busy - own) / wall) if wall > 0 else 0.0

    def __str__(self) -> str:
        return (
            f"load average {self.before:.2f} → {self.after:.2f}; "
            f"other processes used {self.others:.2f} cores meanwhile"
        )


def _busy() -> float:
    t = psutil.cpu_times()
    return float(sum(t) - t.idle - getattr(t, "iowait", 0.0) - getattr(t, "guest", 0.0)
                 - getattr(t, "guest_nice", 0.0))  # fmt: skip


def _own() -> float:
    t = psutil.Process().cpu_times()
    return float(t.user + t.system + t.children_user + t.children_system)


def percentiles(samples: Sequence[float], points: Iterable[float] = (50, 95, 99)) -> list[float]:
    return [float(np.percentile(np.asarray(samples), p)) for p in points]


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table, every column but the first right-aligned."""
    lines = ["| " + " | ".join(headers) + " |", "|---|" + "---:|" * (len(headers) - 1)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def sizes(text: str) -> list[int]:
    """``"1000,10k,100k"`` → ``[1000, 10000, 100000]``."""
    out = []
    for part in text.split(","):
        part = part.strip().lower()
        factor = 1000 if part.endswith("k") else 1
        out.append(int(float(part.removesuffix("k")) * factor))
    return out
