"""Run the fake Bot API standalone: ``python -m tools.fake_telegram --port 8090``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib

from tools.fake_telegram.limits import TELEGRAM_LIMITS
from tools.fake_telegram.server import DEFAULT_TOKEN, FakeTelegram

CONTROLS = """\
  write:     curl -X POST {url}/_fake/citizens/1001/text -d '{{"text": "Здравствуйте"}}'
  press:     curl -X POST {url}/_fake/citizens/1001/press \\
                  -d '{{"message": 2, "data": "<callback data>"}}'
  read:      curl {url}/_fake/chats/1001/messages
  faults:    curl -X POST {url}/_fake/faults -d '{{"method": "sendMessage", "status": 429}}'
  outage:    curl -X POST {url}/_fake/outage -d '{{"status": 502}}'
  restore:   curl -X DELETE {url}/_fake/outage
  overview:  curl {url}/_fake/
"""
USAGE = (
    "Fake Telegram Bot API at {url}\n"
    "  bot:       TELEGRAM_API_URL={url} TELEGRAM_BOT_TOKEN={token}\n"
    "  limits:    {limits}\n" + CONTROLS
)
EPILOG = (
    f"Flood limits as Telegram's: more than {TELEGRAM_LIMITS.overall} messages a second overall\n"
    f"or {TELEGRAM_LIMITS.per_group} a minute into one group are answered 429 with retry_after.\n"
    "While the server runs:\n" + CONTROLS.format(url="http://HOST:PORT")
)


async def serve(host: str, port: int, token: str | None, rate_limits: bool) -> None:
    limits = TELEGRAM_LIMITS if rate_limits else None
    async with FakeTelegram(token, host=host, port=port, rate_limits=limits) as fake:
        described = "as Telegram's" if rate_limits else "off (--no-rate-limits)"
        url, shown_token = fake.api_url, token or DEFAULT_TOKEN
        print(USAGE.format(url=url, token=shown_token, limits=described), flush=True)
        await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m tools.fake_telegram",
        description=__doc__,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--token", default=None, help="accept only this token (default: any)")
    parser.add_argument(
        "--no-rate-limits",
        dest="rate_limits",
        action="store_false",
        help="never answer 429 on its own (injected faults still do)",
    )
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.host, args.port, args.token, args.rate_limits))


if __name__ == "__main__":
    main()
