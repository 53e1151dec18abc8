"""The channel-agnostic conversation service: store, route, return replies."""

from __future__ import annotations

from typing import Protocol

from core.domain import Channel, DeliveryStatus, IncomingMessage, Reply


class ConversationHandler(Protocol):
    """What a channel adapter needs from the conversation service."""

    async def handle(self, message: IncomingMessage) -> list[Reply]:
        """Store ``message`` and return the replies to send (empty for a re-delivery)."""
        ...

    async def record_delivery(
        self,
        outbox_id: int,
        status: DeliveryStatus,
        *,
        external_id: str | None = None,
        error: str | None = None,
    ) -> None:
        """Record what happened to a reply; BLOCKED also marks the citizen as unreachable."""
        ...

    async def pending_replies(self, channel: Channel) -> list[Reply]:
        """Replies stored but never delivered (resent by the adapter at start-up)."""
        ...
