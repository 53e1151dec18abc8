"""Run the fake Bot API standalone: ``python -m tools.fake_telegram --port 8090``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib

from tools.fake_telegram.server import DEFAULT_TOKEN, FakeTelegram

USAGE = """\
Fake Telegram Bot API at {url}
  bot:       TELEGRAM_API_URL={url} TELEGRAM_BOT_TOKEN={token}
  write:     curl -X POST {url}/_fake/citizens/1001/text -d '{{"text": "Здравствуйте"}}'
  press:     curl -X POST {url}/_fake/citizens/1001/press \\
                  -d '{{"message": 2, "data": "<callback data>"}}'
  read:      curl {url}/_fake/chats/1001/messages
  faults:    curl -X POST {url}/_fake/faults -d '{{"method": "sendMessage", "status": 429}}'
  overview:  curl {url}/_fake/
"""


async def serve(host: str, port: int, token: str | None) -> None:
    async with FakeTelegram(token, host=host, port=port) as fake:
        print(USAGE.format(url=fake.api_url, token=token or DEFAULT_TOKEN), flush=True)
        await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--token", default=None, help="accept only this token (default: any)")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.host, args.port, args.token))


if __name__ == "__main__":
    main()
