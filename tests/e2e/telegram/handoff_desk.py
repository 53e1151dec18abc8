"""The bot as `djinn run` composes it (`bots.cli.run._serve_channels`: real database,
the machine's Redis under a namespace of the test's own, the real aiogram client) with
the operator group in the fake Bot API, for the handoff load tests. The knowledge base
is empty: every question gets «не нашёл ответа» with the operator button."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from redis.asyncio import Redis
from sqlalchemy import select

from bots.app import Services, open_services
from bots.cli.run import _serve_channels
from core.models import Conversation, Identity
from core.settings import Settings
from nlu.payloads import Action, decode
from tools.fake_telegram import DEFAULT_TOKEN, FakeTelegram
from tools.fake_telegram.limits import RateLimits

GROUP = -1001888000002
MACHINE_REDIS = "redis://127.0.0.1:6379/0"


@dataclass
class Desk:
    tg: FakeTelegram
    services: Services

    async def conversation_of(self, user_id: int) -> int:
        async with self.services.sessions() as session:
            found = await session.scalar(
                select(Conversation.id)
                .join(Identity, Identity.id == Conversation.identity_id)
                .where(Identity.channel == "telegram", Identity.chat_id == str(user_id))
                .order_by(Conversation.id.desc())
                .limit(1)
            )
        assert found is not None, f"no conversation of {user_id}"
        return int(found)

    async def statuses(self, conversations: list[int]) -> dict[int, str]:
        async with self.services.sessions() as session:
            rows = await session.execute(
                select(Conversation.id, Conversation.status).where(
                    Conversation.id.in_(conversations)
                )
            )
            return {int(c): str(s) for c, s in rows}


@contextlib.asynccontextmanager
async def running_desk(
    data_dir: Path, embedder: Any, limits: RateLimits | None
) -> AsyncIterator[Desk]:
    namespace = f"test-handoff-{uuid.uuid4().hex[:12]}"
    data_dir.mkdir(parents=True, exist_ok=True)
    async with contextlib.AsyncExitStack() as stack:
        tg = await stack.enter_async_context(FakeTelegram(rate_limits=limits))
        tg.operator_group(GROUP)
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            data_dir=data_dir,
            demo_faq=False,
            telegram_bot_token=DEFAULT_TOKEN,
            telegram_api_url=tg.api_url,
            operator_chat_id=GROUP,
            redis_url=MACHINE_REDIS,
            redis_namespace=namespace,
            metrics_port=0,
        )
        services = await stack.enter_async_context(
            open_services(settings, embedder=embedder, with_rasa=False)
        )
        stop = asyncio.Event()
        task = asyncio.create_task(_serve_channels(settings, services, ["telegram"], stop))
        try:
            yield Desk(tg, services)
        finally:
            stop.set()
            await asyncio.wait_for(task, 30)
            redis = Redis.from_url(MACHINE_REDIS)
            keys = [key async for key in redis.scan_iter(f"{namespace}:*")]
            if keys:
                await redis.delete(*keys)
            await redis.aclose()


def operator_button(message: dict[str, Any]) -> str | None:
    for row in message.get("reply_markup", {}).get("inline_keyboard", []):
        for button in row:
            data = button.get("callback_data")
            payload = decode(data) if data else None
            if payload is not None and payload.action == Action.OPERATOR:
                return str(data)
    return None


def texts_in_topic(tg: FakeTelegram, thread_id: int) -> list[str]:
    return [m.get("text") or "" for m in tg.topic_messages(GROUP, thread_id)]
