"""Progress reporting for long CLI operations, on stderr."""

from __future__ import annotations

import sys
import time

import click


class ProgressLine:
    """Prints ``label: done/total (pct)``: redrawn in place on a terminal,
    a line every few seconds otherwise (logs, CI)."""

    def __init__(self, label: str, every: float = 5.0) -> None:
        self._label = label
        self._tty = sys.stderr.isatty()
        self._every = every
        self._last = 0.0
        self._started = time.monotonic()

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        final = done >= total
        if not final and now - self._last < (0.1 if self._tty else self._every):
            return
        self._last = now
        pct = 100 * done // total if total else 100
        text = f"{self._label}: {done}/{total} ({pct}%), {now - self._started:.0f} с"
        if self._tty:
            click.echo(f"\r{text}", nl=final, err=True)
        else:
            click.echo(text, err=True)
