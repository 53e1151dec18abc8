"""The search log: every question, what was found, what the bot did, and the
citizen's verdict. Editors read it to see what the FAQ does not cover."""

from __future__ import annotations

from typing import Any

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


def log_search(
    session: AsyncSession,
    result: SearchResult,
    *,
    conversation_id: int | None,
    message_id: int | None,
    channel: str | None,
) -> SearchLog:
    """Add a search-log row to the caller's transaction."""
    row = SearchLog(
        conversation_id=conversation_id,
        message_id=message_id,
        channel=channel,
        query=result.query[:4000],
        normalized_query=result.prepared[:4000],
        hits=hits_record(result),
        top_score=result.hits[0].score if result.hits else None,
        decision=result.decision,
        kb_version=result.kb_version,
    )
    session.add(row)
    return row


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
