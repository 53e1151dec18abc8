"""What the end-to-end Rasa tests share: the citizen's conversation and appeals as the
database holds them, and waiting for every reply of one turn."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import yaml
from sqlalchemy import func, select

from bots.app import Services
from core.domain import Channel, Direction
from core.models import Appeal, Conversation, Identity, Message
from nlu.project import PROJECT_DIR

T = TypeVar("T")
# Only stops a hung test: Rasa on a busy two-core machine may take a while per turn.
REPLY_GUARD = 120.0
APPEAL_NUMBER = re.compile(r"\b20\d\d-\d{6}\b")


def response_texts(name: str) -> list[str]:
    """The variants of a response of nlu/domain.yml."""
    domain = yaml.safe_load((PROJECT_DIR / "domain.yml").read_text(encoding="utf-8"))
    return [variant["text"] for variant in domain["responses"][name]]


def _citizen(channel: Channel, user_id: int) -> Any:
    return (Identity.channel == str(channel)) & (Identity.external_id == str(user_id))


async def conversation_of(services: Services, channel: Channel, user_id: int) -> Conversation:
    """The citizen's latest conversation."""
    async with services.sessions() as session:
        query = (
            select(Conversation)
            .join(Identity, Conversation.identity_id == Identity.id)
            .where(_citizen(channel, user_id))
            .order_by(Conversation.id.desc())
            .limit(1)
        )
        conversation = await session.scalar(query)
    assert conversation is not None, f"no conversation of {channel} user {user_id}"
    return conversation


async def appeals_of(services: Services, channel: Channel, user_id: int) -> list[Appeal]:
    """The appeals registered from the citizen's conversations."""
    async with services.sessions() as session:
        query = (
            select(Appeal)
            .join(Conversation, Appeal.conversation_id == Conversation.id)
            .join(Identity, Conversation.identity_id == Identity.id)
            .where(_citizen(channel, user_id))
            .order_by(Appeal.id)
        )
        return list((await session.scalars(query)).all())


async def _stored_replies(services: Services, channel: Channel, user_id: int) -> int:
    async with services.sessions() as session:
        query = (
            select(func.count())
            .select_from(Message)
            .join(Conversation, Message.conversation_id == Conversation.id)
            .join(Identity, Conversation.identity_id == Identity.id)
            .where(_citizen(channel, user_id), Message.direction == Direction.OUT)
        )
        return int(await session.scalar(query) or 0)


async def next_replies(
    services: Services,
    channel: Channel,
    user_id: int,
    sent: Callable[[], Sequence[T]],
    seen: int,
) -> list[T]:
    """The replies of the citizen's latest turn, once the channel delivered all of them.

    The conversation service stores every reply of a turn in one transaction before the
    bot sends any, so the turn is complete when the fake API got as many messages as
    the database holds for the citizen (and at least one more than ``seen``).
    """
    async with asyncio.timeout(REPLY_GUARD):
        while True:
            delivered = list(sent())
            if len(delivered) > seen:
                stored = await _stored_replies(services, channel, user_id)
                if len(delivered) >= stored:
                    return delivered[seen:]
            await asyncio.sleep(0.05)


async def back_on_rasa(services: Services) -> None:
    """Until the engine's own health checks took the dialogue back to Rasa."""
    async with asyncio.timeout(REPLY_GUARD):
        while services.dialogue.degraded:  # type: ignore[attr-defined]
            await asyncio.sleep(0.2)
