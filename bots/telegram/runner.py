"""`run_telegram`: the Telegram channel's entry point, in polling or webhook mode."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar
from urllib.parse import urlsplit

from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramAPIError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.types import BotCommand
from aiohttp import web

from bots.conversation import ConversationHandler
from bots.telegram.citizen import build_citizen_router
from bots.telegram.inbound import ALLOWED_UPDATES, UpdateProcessor
from bots.telegram.polling import DurablePolling, Stopped, until_stopped
from bots.telegram.sender import ReplySender, RetryPolicy, Sleep
from bots.telegram.webhook import build_webhook_app
from core.domain import Channel
from core.inbox import InboxRepository
from core.settings import Settings, TelegramMode

logger = logging.getLogger(__name__)

T = TypeVar("T")

COMMANDS = [
    BotCommand(command="start", description="Начать сначала"),
    BotCommand(command="help", description="Как задать вопрос"),
]


@dataclass(frozen=True, slots=True)
class RunOptions:
    poll_timeout: int = 25
    shutdown_grace: float = 5.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    sleep: Sleep = asyncio.sleep


@dataclass(frozen=True, slots=True)
class _Channel:
    bot: Bot
    handler: ConversationHandler
    inbox: InboxRepository
    sender: ReplySender
    processor: UpdateProcessor
    stop: asyncio.Event


async def run_telegram(
    settings: Settings,
    handler: ConversationHandler,
    inbox: InboxRepository,
    stop: asyncio.Event,
    *,
    options: RunOptions | None = None,
) -> None:
    options = options or RunOptions()
    if settings.telegram_bot_token is None:
        raise ValueError("TELEGRAM_BOT_TOKEN is not set")
    session = AiohttpSession(api=TelegramAPIServer.from_base(settings.telegram_api_url))
    bot = Bot(settings.telegram_bot_token.get_secret_value(), session=session)
    sender = ReplySender(bot, handler, policy=options.retry, sleep=options.sleep)
    dispatcher = Dispatcher(service=handler, sender=sender)
    dispatcher.include_router(build_citizen_router())
    processor = UpdateProcessor(dispatcher, bot, inbox)
    channel = _Channel(bot, handler, inbox, sender, processor, stop)
    logger.info("Telegram channel starting in %s mode", settings.telegram_mode)
    try:
        if settings.telegram_mode is TelegramMode.WEBHOOK:
            await _serve_webhook(channel, settings)
        else:
            await _poll(channel, options)
    except Stopped:
        pass
    finally:
        await processor.drain(options.shutdown_grace)
        await session.close()
        logger.info("Telegram channel stopped")


async def _poll(channel: _Channel, options: RunOptions) -> None:
    bot = channel.bot
    await _keep_trying(lambda: bot.delete_webhook(drop_pending_updates=False), channel.stop)
    await _catch_up(channel)
    polling = DurablePolling(bot, channel.inbox, channel.processor, timeout=options.poll_timeout)
    await polling.run(channel.stop)


async def _serve_webhook(channel: _Channel, settings: Settings) -> None:
    url, secret = settings.telegram_webhook_url, settings.telegram_webhook_secret
    if not url or secret is None:
        raise ValueError("webhook mode needs TELEGRAM_WEBHOOK_URL and TELEGRAM_WEBHOOK_SECRET")
    path = urlsplit(url).path or "/"
    app = build_webhook_app(path, secret.get_secret_value(), channel.inbox, channel.processor)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, settings.telegram_webhook_host, settings.telegram_webhook_port)
        await site.start()
        await _catch_up(channel)
        await _keep_trying(
            lambda: channel.bot.set_webhook(
                url,
                secret_token=secret.get_secret_value(),
                allowed_updates=ALLOWED_UPDATES,
                drop_pending_updates=False,
            ),
            channel.stop,
        )
        await channel.stop.wait()
    finally:
        await runner.cleanup()


async def _catch_up(channel: _Channel) -> None:
    """Before taking new updates: set the command menu, resend undelivered replies and
    handle updates an earlier run stored but did not finish."""
    try:
        await channel.bot.set_my_commands(COMMANDS)
    except TelegramAPIError as error:
        logger.warning("Command menu not set: %s", error)
    await channel.sender.resend(await channel.handler.pending_replies(Channel.TELEGRAM))
    await channel.processor.recover()


async def _keep_trying(call: Callable[[], Awaitable[T]], stop: asyncio.Event) -> T:
    """Call the API until it answers; only a transient failure is retried."""
    failures = 0
    while True:
        try:
            return await until_stopped(call(), stop)
        except TelegramRetryAfter as error:
            delay: float = error.retry_after
        except (TelegramNetworkError, TelegramServerError, ClientDecodeError) as error:
            failures += 1
            delay = min(0.5 * 2 ** (failures - 1), 30.0)
            logger.warning("Telegram unreachable (%s); retrying in %.1f s", error, delay)
        await until_stopped(asyncio.sleep(delay), stop)
