"""maxapi's `Bot` pointed at the configured MAX API URL, without retries of its own:
the outbox and the long poll decide when to try again."""

from __future__ import annotations

from maxapi import Bot
from maxapi.client.default import DefaultConnectionProperties

# Long polls are held up to 30 s by the server; a request never waits longer than this.
REQUEST_TIMEOUT = 45


def build_bot(token: str, api_url: str) -> Bot:
    """A `Bot` with its own HTTP session (close it with ``await bot.close_session()``)."""
    bot = Bot(
        token,
        auto_requests=False,
        auto_check_subscriptions=False,
        default_connection=DefaultConnectionProperties(
            timeout=REQUEST_TIMEOUT, sock_connect=10, max_retries=0, retry_on_statuses=()
        ),
    )
    bot.set_api_url(api_url)
    return bot
