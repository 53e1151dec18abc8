"""The VK bot process: recover what a previous run left, then receive events by Bots
Long Poll or the Callback API until ``stop`` is set."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from dataclasses import dataclass, field

from bots.conversation import ConversationHandler
from bots.vk.callback_api import VkCallbackEndpoint, serve_callback
from bots.vk.client import build_api
from bots.vk.longpoll import TsFile, VkLongPoll
from bots.vk.processing import CHANNEL, VkEventProcessor
from bots.vk.sender import RetryPolicy, VkSender
from core.domain import Channel, Reply
from core.inbox import InboxRepository
from core.settings import Settings, VkMode

log = logging.getLogger(__name__)

INBOX_BACKLOG = 1000


@dataclass(frozen=True, slots=True)
class VkRunOptions:
    """Knobs tests and benchmarks turn; production uses the defaults."""

    longpoll_wait: int = 25
    send_retry: RetryPolicy = field(default_factory=RetryPolicy)
    poll_backoff: RetryPolicy = field(default_factory=RetryPolicy)
    drain_grace: float = 10.0


async def run_vk(
    settings: Settings,
    handler: ConversationHandler,
    inbox: InboxRepository,
    stop: asyncio.Event,
    *,
    options: VkRunOptions | None = None,
) -> None:
    """Run the VK bot until ``stop`` is set."""
    options = options or VkRunOptions()
    _check(settings)
    assert settings.vk_group_token is not None
    api = build_api(settings.vk_group_token.get_secret_value(), settings.vk_api_url)
    sender = VkSender(api, handler, policy=options.send_retry)
    processor = VkEventProcessor(api=api, handler=handler, sender=sender, inbox=inbox)
    try:
        await _resend_pending(handler, sender)
        await _resume_inbox(inbox, processor)
        if settings.vk_mode is VkMode.CALLBACK:
            await _serve_callback(settings, inbox, processor, stop)
        else:
            name = f"longpoll-{settings.vk_group_id or 'default'}.ts"
            ts_file = TsFile(settings.data_dir / "vk" / name)
            poll = VkLongPoll(
                api=api,
                group_id=settings.vk_group_id,
                inbox=inbox,
                processor=processor,
                ts_file=ts_file,
                wait=options.longpoll_wait,
                backoff=options.poll_backoff,
            )
            await poll.run(stop)
        await processor.drain(options.drain_grace)
    finally:
        await processor.abort()
        await api.http_client.close()


def _check(settings: Settings) -> None:
    if settings.vk_group_token is None:
        raise ValueError("VK_GROUP_TOKEN is not set")
    if settings.vk_mode is not VkMode.CALLBACK:
        return
    if settings.vk_callback_secret is None or not settings.vk_confirmation_code:
        raise ValueError("VK_MODE=callback needs VK_CALLBACK_SECRET and VK_CONFIRMATION_CODE")
    if settings.vk_group_id is None:
        raise ValueError("VK_MODE=callback needs VK_GROUP_ID")


async def _resend_pending(handler: ConversationHandler, sender: VkSender) -> None:
    """Deliver replies a previous run stored but never sent; each citizen's in order."""
    by_peer: dict[str, list[Reply]] = defaultdict(list)
    try:
        pending = await handler.pending_replies(Channel.VK)
    except Exception:
        log.exception("could not list pending VK replies; they wait for the next start")
        return
    for reply in pending:
        by_peer[reply.chat_id].append(reply)
    if by_peer:
        log.info("resending %d pending VK replies", sum(map(len, by_peer.values())))

    async def resend(replies: list[Reply]) -> None:
        for reply in replies:
            await sender.deliver(reply)

    await asyncio.gather(*(resend(replies) for replies in by_peer.values()))


async def _resume_inbox(inbox: InboxRepository, processor: VkEventProcessor) -> None:
    items = await inbox.unprocessed(CHANNEL, limit=INBOX_BACKLOG)
    if len(items) == INBOX_BACKLOG:
        log.warning("more than %d unhandled VK events; the rest wait for a restart", INBOX_BACKLOG)
    for item in items:
        processor.submit(item)


async def _serve_callback(
    settings: Settings,
    inbox: InboxRepository,
    processor: VkEventProcessor,
    stop: asyncio.Event,
) -> None:
    assert settings.vk_callback_secret is not None and settings.vk_group_id is not None
    endpoint = VkCallbackEndpoint(
        group_id=settings.vk_group_id,
        secret=settings.vk_callback_secret.get_secret_value(),
        confirmation_code=settings.vk_confirmation_code or "",
        inbox=inbox,
        processor=processor,
    )
    await serve_callback(
        endpoint, host=settings.vk_callback_host, port=settings.vk_callback_port, stop=stop
    )
