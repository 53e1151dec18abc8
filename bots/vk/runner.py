"""The VK bot: receive events by Bots Long Poll or the Callback API until ``stop`` is
set, while the inbox worker runs turns (and takes over what a previous run left) and
the outbox sender delivers replies."""

from __future__ import annotations

import asyncio
import logging

from bots.conversation import ConversationHandler
from bots.inbox import InboxWorker
from bots.loops import RunOptions, running_channel
from bots.operator_files import operator_downloads
from bots.outbox import Senders
from bots.polling import PositionFile
from bots.vk.callback_api import VkCallbackEndpoint, serve_callback
from bots.vk.client import build_api
from bots.vk.longpoll import VkLongPoll
from bots.vk.processing import CHANNEL, VkEvents
from bots.vk.sender import VkTransport
from core.inbox import InboxRepository
from core.metrics import Metrics
from core.outbox import OutboxRepository
from core.settings import Settings, VkMode

log = logging.getLogger(__name__)

# VK allows a community token about 20 API calls a second; replies take most of them.
SEND_RATE = 15.0
# Seconds a long poll waits for updates.
LONGPOLL_WAIT = 25


async def run_vk(
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
    """Run the VK bot until ``stop`` is set; ``senders`` learns of its outbox sender
    (an operator's answer to a VK citizen wakes it)."""
    options = options or RunOptions()
    _check(settings)
    assert settings.vk_group_token is not None
    api = build_api(settings.vk_group_token.get_secret_value(), settings.vk_api_url)
    try:
        # Operators answer from Telegram: their photos and documents are downloaded there.
        async with (
            operator_downloads(settings) as download,
            running_channel(
                CHANNEL,
                VkTransport(api, download=download),
                lambda sender: VkEvents(api=api, conversation=conversation, wake=sender.wake),
                conversation,
                inbox,
                outbox,
                **options.policies(settings, SEND_RATE),
                metrics=metrics,
                senders=senders,
            ) as channel,
        ):
            if settings.vk_mode is VkMode.CALLBACK:
                await _serve_callback(settings, channel.worker, stop)
            else:
                name = f"longpoll-{settings.vk_group_id or 'default'}.ts"
                poll = VkLongPoll(
                    api=api,
                    group_id=settings.vk_group_id,
                    worker=channel.worker,
                    ts_file=PositionFile(settings.data_dir / "vk" / name),
                    wait=options.poll_wait or LONGPOLL_WAIT,
                    backoff=options.poll_backoff,
                )
                await poll.run(stop)
    finally:
        await api.http_client.close()


def _check(settings: Settings) -> None:
    if settings.vk_group_token is None:
        raise ValueError("VK_GROUP_TOKEN is not set")
    if settings.vk_mode is not VkMode.CALLBACK:
        return
    if not settings.callback_secret_ok():
        raise ValueError("VK_MODE=callback needs VK_CALLBACK_SECRET and VK_CONFIRMATION_CODE")
    if settings.vk_group_id is None:
        raise ValueError("VK_MODE=callback needs VK_GROUP_ID")


async def _serve_callback(settings: Settings, worker: InboxWorker, stop: asyncio.Event) -> None:
    assert settings.vk_callback_secret is not None and settings.vk_group_id is not None
    endpoint = VkCallbackEndpoint(
        group_id=settings.vk_group_id,
        secret=settings.vk_callback_secret.get_secret_value(),
        confirmation_code=settings.vk_confirmation_code or "",
        worker=worker,
    )
    await serve_callback(
        endpoint, host=settings.vk_callback_host, port=settings.vk_callback_port, stop=stop
    )
