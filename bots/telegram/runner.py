"""`run_telegram`: the Telegram channel's entry point, in polling or webhook mode.

Three loops share the process: receiving (polling or the webhook) stores updates and
hands them to the inbox worker; the inbox worker runs turns, retries failed ones and
takes over what a dead worker left; the outbox sender delivers replies chat by chat.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, tzinfo
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

from bots.conversation import ConversationHandler
from bots.inbox import InboxPolicy, InboxWorker
from bots.loops import running_channel
from bots.outbox import OutboxPolicy, OutboxSender, Pacer, Senders
from bots.telegram.citizen import build_citizen_router
from bots.telegram.inbound import ALLOWED_UPDATES, CHANNEL, TelegramUpdates
from bots.telegram.operator_router import MemberCheck, OperatorDeps, build_operator_router
from bots.telegram.operators import SUGGESTIONS, OperatorDesk, OperatorGroups, Suggest
from bots.telegram.polling import DurablePolling, Stopped, until_stopped
from bots.telegram.sender import TelegramTransport
from bots.telegram.webhook import webhook_handler
from bots.webhooks import listening
from core.db import SessionFactory
from core.inbox import InboxRepository
from core.leases import Worker
from core.metrics import Metrics
from core.models import utcnow
from core.outbox import OutboxRepository
from core.settings import Settings, TelegramMode
from core.waiting import wait_any
from handoff.events import HandoffEventRepository
from handoff.operators import OperatorService
from handoff.queue import ConsumerPolicy, HandoffConsumer, HandoffStreams
from handoff.sla import SlaPolicy, SlaWatcher
from knowledge_base.search import FaqSearchService

logger = logging.getLogger(__name__)

T = TypeVar("T")

COMMANDS = [
    BotCommand(command="start", description="Начать сначала"),
    BotCommand(command="help", description="Как задать вопрос"),
]


@dataclass(frozen=True, slots=True)
class RunOptions:
    """Knobs tests and benchmarks turn; by default the policies follow the settings."""

    poll_timeout: int = 25
    inbox: InboxPolicy | None = None
    outbox: OutboxPolicy | None = None


@dataclass(frozen=True, slots=True)
class OperatorSetup:
    """The operator groups this Telegram bot serves, and what it needs to serve them.

    Attributes:
        groups: The groups (default, departments, supervisors).
        sessions: The session factory.
        service: The operators' actions.
        streams: The handoff queue's streams.
        senders: The outbox senders of this process (an operator's answer wakes the
            citizen's channel).
        faq: The knowledge base (FAQ suggestions on the card, their answers).
        sla: The first-response SLA; None fires no reminders.
        timezone: The operators' time zone.
        consumer: How the queue's consumer works.
        clock: The SLA watcher's clock (tests move it).
        sla_interval: Seconds between SLA checks.
    """

    groups: OperatorGroups
    sessions: SessionFactory
    service: OperatorService
    streams: HandoffStreams
    senders: Senders
    faq: FaqSearchService | None = None
    sla: SlaPolicy | None = None
    timezone: tzinfo | None = None
    consumer: ConsumerPolicy | None = None
    clock: Callable[[], datetime] = utcnow
    sla_interval: float = 10.0


@dataclass(frozen=True, slots=True)
class _Channel:
    bot: Bot
    worker: InboxWorker
    stop: asyncio.Event


async def run_telegram(
    settings: Settings,
    conversation: ConversationHandler,
    inbox: InboxRepository,
    outbox: OutboxRepository,
    stop: asyncio.Event,
    *,
    options: RunOptions | None = None,
    metrics: Metrics | None = None,
    operators: OperatorSetup | None = None,
    senders: Senders | None = None,
) -> None:
    options = options or RunOptions()
    if settings.telegram_bot_token is None:
        raise ValueError("TELEGRAM_BOT_TOKEN is not set")
    webhook = settings.telegram_mode is TelegramMode.WEBHOOK
    if webhook and not settings.webhook_secret_ok():
        raise ValueError("webhook mode needs TELEGRAM_WEBHOOK_URL and TELEGRAM_WEBHOOK_SECRET")
    session = AiohttpSession(api=TelegramAPIServer.from_base(settings.telegram_api_url))
    bot = Bot(settings.telegram_bot_token.get_secret_value(), session=session)
    senders = operators.senders if operators is not None else senders

    def updates(sender: OutboxSender) -> TelegramUpdates:
        dispatcher = Dispatcher(service=conversation, outbox=sender)
        if operators is not None:
            dispatcher["operators"] = OperatorDeps(
                frozenset(operators.groups.all),
                operators.service,
                MemberCheck(bot),
                operators.senders.wake,
                _faq_answer(operators.faq),
            )
            dispatcher.include_router(build_operator_router(frozenset(operators.groups.all)))
        dispatcher.include_router(build_citizen_router())
        return TelegramUpdates(dispatcher, bot)

    try:
        async with running_channel(
            CHANNEL,
            TelegramTransport(bot),
            updates,
            conversation,
            inbox,
            outbox,
            inbox_policy=options.inbox or InboxPolicy.from_settings(settings),
            outbox_policy=options.outbox or OutboxPolicy.from_settings(settings),
            metrics=metrics,
            senders=senders,
        ) as running:
            channel = _Channel(bot, running.worker, stop)
            logger.info("Telegram channel starting in %s mode", settings.telegram_mode)
            desk_stop = asyncio.Event()
            desk = (
                _start_desk(bot, operators, desk_stop, running.sender.pacer)
                if operators is not None
                else []
            )
            try:
                await _set_commands(channel)
                if webhook:
                    await _serve_webhook(channel, settings)
                else:
                    await _poll(channel, options)
            except Stopped:
                pass
            finally:
                desk_stop.set()
                await asyncio.gather(*desk, return_exceptions=True)
    finally:
        await session.close()
        logger.info("Telegram channel stopped")


def _start_desk(
    bot: Bot, setup: OperatorSetup, stop: asyncio.Event, bot_pacer: Pacer
) -> list[asyncio.Task[None]]:
    """The operator groups' loops: the queue's consumer posting into the groups, and
    the SLA watcher."""
    desk = OperatorDesk(
        bot,
        setup.sessions,
        setup.groups,
        suggest=_suggestions(setup.faq),
        timezone=setup.timezone,
        bot_pacer=bot_pacer,
    )
    events = HandoffEventRepository(setup.sessions)
    consumer = HandoffConsumer(setup.streams, events, desk, Worker.current().id, setup.consumer)
    tasks = [asyncio.create_task(_keep_running(consumer.run, stop), name="handoff-consumer")]
    if setup.sla is not None:
        watcher = SlaWatcher(
            setup.sessions,
            setup.sla,
            setup.service.notify,
            clock=setup.clock,
            interval=setup.sla_interval,
        )
        tasks.append(asyncio.create_task(_keep_running(watcher.run, stop), name="sla-watcher"))
    return tasks


async def _keep_running(
    loop: Callable[[asyncio.Event], Awaitable[None]], stop: asyncio.Event
) -> None:
    """Run a background loop until ``stop``; one that ends with an error is logged and
    started again after a growing pause (the operators' desk never stops silently)."""
    delay = 1.0
    while not stop.is_set():
        try:
            await loop(stop)
        except Exception:
            logger.exception("%s stopped with an error; restarting in %.0f s", loop, delay)
            await wait_any(delay, stop)
            delay = min(delay * 2, 60.0)


def _suggestions(faq: FaqSearchService | None) -> Suggest | None:
    if faq is None:
        return None
    search = faq

    async def suggest(question: str) -> list[tuple[int, str]]:
        result = await search.search(question, top_k=SUGGESTIONS)
        return [(hit.entry.id, hit.entry.question) for hit in result.hits]

    return suggest


def _faq_answer(faq: FaqSearchService | None) -> Callable[[int], str | None]:
    def answer(entry_id: int) -> str | None:
        entry = faq.entry(entry_id) if faq is not None else None
        return entry.answer if entry is not None else None

    return answer


async def _poll(channel: _Channel, options: RunOptions) -> None:
    bot = channel.bot
    await _keep_trying(lambda: bot.delete_webhook(drop_pending_updates=False), channel.stop)
    polling = DurablePolling(bot, channel.worker, timeout=options.poll_timeout)
    await polling.run(channel.stop)


async def _serve_webhook(channel: _Channel, settings: Settings) -> None:
    url, secret = settings.telegram_webhook_url, settings.telegram_webhook_secret
    assert url and secret is not None
    path = urlsplit(url).path or "/"
    handler = webhook_handler(secret.get_secret_value(), channel.worker)
    async with listening(
        path,
        handler,
        host=settings.telegram_webhook_host,
        port=settings.telegram_webhook_port,
        what="Telegram webhook",
    ):
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


async def _set_commands(channel: _Channel) -> None:
    with contextlib.suppress(Stopped):
        try:
            await until_stopped(channel.bot.set_my_commands(COMMANDS), channel.stop)
        except TelegramAPIError as error:
            logger.warning("Command menu not set: %s", type(error).__name__)


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
            logger.warning("Telegram unreachable (%s); retrying in %.1f s",
                           type(error).__name__, delay)  # fmt: skip
        await until_stopped(asyncio.sleep(delay), stop)
