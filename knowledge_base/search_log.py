"""The search log: every question, what was found, what the bot did, and the
citizen's verdict. Editors read it to see what the FAQ does not cover."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.domain import Feedback
from core.models import SearchLog, utcnow
from knowledge_base.search import SearchResult


def hits_record(result: SearchResult) -> list[dict[str, Any]]:
    return [
        {
            "id": h.entry.id,
            "key": h.entry.key,
            "score": round(h.score, 4),
            "dense": round(h.dense, 4),
            "lexical": round(h.lexical, 4),
        }
        for h in result.hits
    ]


async def log_search(
    session: AsyncSession,
    result: SearchResult,
    *,
    conversation_id: int | None,
    message_id: int | None,
    channel: str | None,
    part: int = 0,
) -> SearchLog:
    """Record a search in the caller's transaction. ``part`` is 0 for a whole message and
    1… for each of several questions of one message answered separately. A message
    searched again (its turn is being retried after a failure) keeps one row per part:
    the latest search."""
    row = None
    if message_id is not None:
        row = await session.scalar(
            select(SearchLog)
            .where(SearchLog.message_id == message_id, SearchLog.part == part)
            .limit(1)
        )
    if row is None:
        row = SearchLog(message_id=message_id, part=part)
        session.add(row)
    row.conversation_id = conversation_id
    row.channel = channel
    row.query = result.query[:4000]
    row.normalized_query = result.prepared[:4000]
    row.hits = hits_record(result)
    row.top_entry_id = result.hits[0].entry.id if result.hits else None
    row.top_score = result.hits[0].score if result.hits else None
    row.decision = result.decision
    row.kb_version = result.kb_version
    return row


async def forget_other_parts(session: AsyncSession, message_id: int, parts: Iterable[int]) -> None:
    """Delete a message's rows for parts other than ``parts``: left by an earlier attempt
    at its turn that split the message differently (the knowledge base changed in
    between), whose reply was never sent."""
    await session.execute(
        delete(SearchLog).where(
            SearchLog.message_id == message_id, SearchLog.part.not_in(list(parts))
        )
    )


async def set_feedback(
    session: AsyncSession,
    log_id: int,
    conversation_id: int,
    feedback: Feedback,
    chosen_entry_id: int | None = None,
) -> SearchLog | None:
    """Record the citizen's verdict on one of their own searches.

    Returns:
        The row, or None when it does not exist or belongs to another conversation.
    """
    row = await session.get(SearchLog, log_id)
    if row is None or row.conversation_id != conversation_id:
        return None
    row.feedback = feedback
    row.feedback_at = utcnow()
    if chosen_entry_id is not None:
        row.chosen_entry_id = chosen_entry_id
    return row
