"""Run the fake VK standalone: ``python -m tools.fake_vk --port 8091``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal

from tools.fake_vk.limits import VK_COMMUNITY_LIMIT
from tools.fake_vk.server import FakeVk

EPILOG = f"""\
More than {VK_COMMUNITY_LIMIT.calls} API calls a second get VK error 6, as a community token does.
A citizen's photo (its sizes are served by the fake itself):
  curl -X POST http://HOST:PORT/_fake/photo -d '{{"peer_id": 7, "text": "Яма во дворе"}}'
What the community sent (with the photos and documents it uploaded):
  curl http://HOST:PORT/_fake/sent?peer_id=7
An outage makes every method and the long poll answer one HTTP status until restored:
  curl -X POST http://HOST:PORT/_fake/outage -d '{{"status": 502}}'
  curl -X POST http://HOST:PORT/_fake/restore
"""


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m tools.fake_vk",
        description=__doc__,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8091)
    parser.add_argument("--token", default="fake-vk-token")
    parser.add_argument("--group-id", type=int, default=1000)
    parser.add_argument(
        "--no-rate-limit",
        dest="rate_limit",
        action="store_false",
        help="never answer error 6 on its own (injected faults still do)",
    )
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.host, args.port, args.token, args.group_id, args.rate_limit))


async def _serve(host: str, port: int, token: str, group_id: int, rate_limit: bool) -> None:
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    limit = VK_COMMUNITY_LIMIT if rate_limit else None
    async with FakeVk(
        token=token, group_id=group_id, host=host, port=port, rate_limit=limit
    ) as vk:
        print(f"fake VK API at {vk.api_url} (group {group_id}, token {token!r})", flush=True)
        print(f"controls at {vk.base_url}/_fake/ ; Ctrl-C stops", flush=True)
        print(f"outage:  curl -X POST {vk.base_url}/_fake/outage -d '{{\"status\": 502}}'")
        print(f"restore: curl -X POST {vk.base_url}/_fake/restore", flush=True)
        await stop.wait()


if __name__ == "__main__":
    main()
