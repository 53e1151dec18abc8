"""Waiting in background loops."""

from __future__ import annotations

import asyncio


async def wait_any(seconds: float, *events: asyncio.Event) -> None:
    """Until one of ``events`` is set, or ``seconds`` have passed."""
    waits = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waits:
            waiter.cancel()
