"""``djinn`` for the handoff fault tests: ``python -m tests.e2e.faults.handoff_bot bot
telegram`` runs the real CLI, with one change: the operator group's pacing window
(`bots.telegram.operators.GROUP_WINDOW`, Telegram's minute) is scaled down to
``DJINN_TEST_GROUP_WINDOW`` seconds, matching the fake Bot API's shortened minute, so a
test can move a hundred escalations through one group in seconds instead of ten minutes.
The rate (messages per window) and everything else stay as they are."""

from __future__ import annotations

import os


def main() -> None:
    from bots.telegram import operators

    window = os.environ.get("DJINN_TEST_GROUP_WINDOW")
    if window:
        operators.GROUP_WINDOW = float(window)

    from bots.cli import main as djinn

    djinn()


if __name__ == "__main__":
    main()
