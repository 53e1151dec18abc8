"""The MAX bot: receive updates by long polling or a webhook until ``stop`` is set,
while the inbox worker runs turns (and takes over what a previous run left) and the
outbox sender delivers replies."""

from __future__ import annotations

import asyncio
import logging

from maxapi import Bot

from bots.conversation import ConversationHandler
from bots.inbox import InboxWorker
from bots.loops import RunOptions, running_channel
from bots.max.client import build_bot
from bots.max.polling import MaxLongPoll
from bots.max.processing import CHANNEL, MaxEvents
from bots.max.sender import MaxTransport
from bots.max.webhook import WEBHOOK_PATH, MaxWebhookEndpoint, serve_webhook
from bots.operator_files import operator_downloads
from bots.outbox import Senders
from bots.polling import PositionFile
from core.inbox import InboxRepository
from core.metrics import Metrics
from core.outbox import OutboxRepository
from core.settings import MaxMode, Settings

log = logging.getLogger(__name__)

# MAX allows a bot about 30 requests a second; replies take most of them.
SEND_RATE = 20.0
# Seconds a long poll waits for updates.
POLL_WAIT = 30
UPDATE_TYPES = ("message_created", "message_callback", "message_edited", "bot_started")


async def run_max(
    settings: Settings,
    conversation: ConversationHandler,
    inbox: InboxRepository,
    outbox: OutboxRepository,
    stop: asyncio.Event,
    *,
    options: RunOptions | None = None,
    metrics: Metrics | None = None,
    senders: Senders | None = None,
) -> None:
    """Run the MAX bot until ``stop`` is set; ``senders`` learns of its outbox sender
    (an operator's answer to a MAX citizen wakes it)."""
    options = options or RunOptions()
    _check(settings)
    assert settings.max_bot_token is not None
    bot = build_bot(settings.max_bot_token.get_secret_value(), settings.max_api_url)
    try:
        # Operators answer from Telegram: their photos and files are downloaded there.
        async with (
            operator_downloads(settings) as download,
            running_channel(
                CHANNEL,
                MaxTransport(bot, download=download),
                lambda sender: MaxEvents(bot=bot, conversation=conversation, wake=sender.wake),
                conversation,
                inbox,
                outbox,
                **options.policies(settings, SEND_RATE),
                metrics=metrics,
                senders=senders,
            ) as channel,
        ):
            if settings.max_mode is MaxMode.WEBHOOK:
                await _serve_webhook(settings, bot, channel.worker, stop)
            else:
                await _unsubscribe(bot)
                poll = MaxLongPoll(
                    bot=bot,
                    worker=channel.worker,
                    marker_file=PositionFile(settings.data_dir / "max" / "marker"),
                    wait=options.poll_wait or POLL_WAIT,
                    backoff=options.poll_backoff,
                )
                await poll.run(stop)
    finally:
        await bot.close_session()


def _check(settings: Settings) -> None:
    if settings.max_bot_token is None:
        raise ValueError("MAX_BOT_TOKEN is not set")
    if settings.max_mode is MaxMode.WEBHOOK and not settings.max_webhook_secret_ok():
        raise ValueError("MAX_MODE=webhook needs MAX_WEBHOOK_URL and MAX_WEBHOOK_SECRET")


async def _unsubscribe(bot: Bot) -> None:
    """Long polling gets nothing while a webhook is subscribed: drop subscriptions a
    webhook run left."""
    try:
        found = await bot.get_subscriptions()
        for subscription in found.subscriptions:
            await bot.unsubscribe_webhook(subscription.url)
            log.info("MAX: webhook subscription %s removed for long polling", subscription.url)
    except Exception as error:
        log.warning("MAX: could not check webhook subscriptions: %s", type(error).__name__)


async def _serve_webhook(
    settings: Settings, bot: Bot, worker: InboxWorker, stop: asyncio.Event
) -> None:
    assert settings.max_webhook_secret is not None and settings.max_webhook_url is not None
    secret = settings.max_webhook_secret.get_secret_value()
    endpoint = MaxWebhookEndpoint(secret=secret, worker=worker)
    serving = asyncio.create_task(
        serve_webhook(
            endpoint, host=settings.max_webhook_host, port=settings.max_webhook_port, stop=stop
        )
    )
    try:
        await bot.subscribe_webhook(
            settings.max_webhook_url, update_types=list(UPDATE_TYPES), secret=secret
        )
        log.info("MAX: webhook subscribed at %s (served at %s)",
                 settings.max_webhook_url, WEBHOOK_PATH)  # fmt: skip
    except Exception as error:
        log.error("MAX: webhook subscription failed: %s", type(error).__name__)
    await serving
