"""Run the fake VK standalone: ``python -m tools.fake_vk --port 8091``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal

from tools.fake_vk.server import FakeVk


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tools.fake_vk", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8091)
    parser.add_argument("--token", default="fake-vk-token")
    parser.add_argument("--group-id", type=int, default=1000)
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.host, args.port, args.token, args.group_id))


async def _serve(host: str, port: int, token: str, group_id: int) -> None:
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with FakeVk(token=token, group_id=group_id, host=host, port=port) as vk:
        print(f"fake VK API at {vk.api_url} (group {group_id}, token {token!r})", flush=True)
        print(f"controls at {vk.base_url}/_fake/ ; Ctrl-C stops", flush=True)
        await stop.wait()


if __name__ == "__main__":
    main()
