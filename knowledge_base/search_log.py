"""The search log: every question, what was found, what the bot did, and the
citizen's verdict. Editors read it to see what the FAQ does not cover."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

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


async def log_searches(
    conn: AsyncConnection,
    plan: Sequence[tuple[int, SearchResult]],
    *,
    conversation_id: int | None,
    message_id: int | None,
    channel: str | None,
) -> list[int]:
    """Record a message's searches in the caller's transaction, as statements on its
    connection (the FAQ turn's hot path); the rows' ids, in ``plan``'s order.

    ``plan`` pairs each search with its part: 0 for a whole message, 1… for each of
    several questions of one message answered separately. A message searched again (its
    turn is being retried after a failure) keeps one row per part, the latest search;
    rows an earlier attempt left for parts not in ``plan`` (the knowledge base changed
    in between and split the message differently; that reply was never sent) go.
    """
    earlier: dict[int, int] = {}
    stale: list[int] = []
    if message_id is not None:
        rows = await conn.execute(
            select(SearchLog.id, SearchLog.part)
            .where(SearchLog.message_id == message_id)
            .order_by(SearchLog.id)
        )
        for row_id, part in rows:
            if part in earlier:
                stale.append(row_id)
            else:
                earlier[part] = row_id
    ids: list[int] = []
    for part, result in plan:
        values = _values(result, conversation_id, channel)
        if part in earlier:
            row_id = earlier.pop(part)
            await conn.execute(update(SearchLog).where(SearchLog.id == row_id).values(values))
        else:
            inserted = await conn.execute(
                insert(SearchLog)
                .values(message_id=message_id, part=part, **values)
                .returning(SearchLog.id)
            )
            row_id = inserted.scalar_one()
        ids.append(row_id)
    stale += earlier.values()
    if stale:
        await conn.execute(delete(SearchLog).where(SearchLog.id.in_(stale)))
    return ids


def _values(
    result: SearchResult, conversation_id: int | None, channel: str | None
) -> dict[str, Any]:
    top = result.hits[0] if result.hits else None
    return {
        "conversation_id": conversation_id,
        "channel": channel,
        "query": result.query[:4000],
        "normalized_query": result.prepared[:4000],
        "hits": hits_record(result),
        "top_entry_id": top.entry.id if top else None,
        "top_score": top.score if top else None,
        "decision": result.decision,
        "kb_version": result.kb_version,
    }


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
