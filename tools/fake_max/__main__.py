"""Run the fake MAX Bot API standalone: ``python -m tools.fake_max --port 8092``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal

from tools.fake_max.limits import MAX_LIMITS
from tools.fake_max.server import DEFAULT_TOKEN, FakeMax

CONTROLS = """\
  write:    curl -X POST {url}/_control/citizens/1001/text -d '{{"text": "Здравствуйте"}}'
  photo:    curl -X POST {url}/_control/citizens/1001/photo -d '{{"text": "Яма во дворе"}}'
  press:    curl -X POST {url}/_control/citizens/1001/press \\
                 -d '{{"message": "<mid>", "payload": "<payload>"}}'
  start:    curl -X POST {url}/_control/citizens/1001/start -d '{{"payload": "deeplink"}}'
  block:    curl -X POST {url}/_control/citizens/1001/stop
  garbage:  curl -X POST {url}/_control/updates -d '{{"update_type": "no_such_update"}}'
  read:     curl '{url}/_control/messages?user_id=1001'
  faults:   curl -X POST {url}/_control/faults \\
                 -d '{{"operation": "POST /messages", "times": 3, "status": 429}}'
  outage:   curl -X POST {url}/_control/outage -d '{{"status": 502}}'   (DELETE to restore)
  overview: curl {url}/_control/
"""
EPILOG = (
    f"Limits as MAX's: more than {MAX_LIMITS.requests} requests a second, or "
    f"{MAX_LIMITS.updates} long polls a second,\nare answered 429 too.many.requests.\n"
    "While the server runs:\n" + CONTROLS.format(url="http://HOST:PORT")
)


async def serve(host: str, port: int, token: str | None, rate_limits: bool) -> None:
    stop = asyncio.Event()
    with contextlib.suppress(NotImplementedError):
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    limits = MAX_LIMITS if rate_limits else None
    async with FakeMax(token, host=host, port=port, rate_limits=limits) as fake:
        shown = token if token is not None else "any (the Authorization header is not checked)"
        described = "as MAX's" if rate_limits else "off (--no-rate-limits)"
        print(f"Fake MAX Bot API at {fake.url}", flush=True)
        print(f"  token:   {shown}", flush=True)
        print(f"  maxapi:  bot = Bot(token); bot.set_api_url({fake.url!r})", flush=True)
        print(f"  limits:  {described}", flush=True)
        print(CONTROLS.format(url=fake.url), flush=True)
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m tools.fake_max",
        description=__doc__,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8092)
    parser.add_argument(
        "--token", default=DEFAULT_TOKEN, help=f"the bot's token (default {DEFAULT_TOKEN})"
    )
    parser.add_argument("--any-token", action="store_true", help="accept any Authorization value")
    parser.add_argument(
        "--no-rate-limits",
        dest="rate_limits",
        action="store_false",
        help="never answer 429 on its own (forced faults still do)",
    )
    args = parser.parse_args()
    token = None if args.any_token else args.token
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.host, args.port, token, args.rate_limits))


if __name__ == "__main__":
    main()
