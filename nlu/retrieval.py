"""Answers straight from the knowledge base: the engine used when Rasa is off or
unreachable, and the FAQ replies the Rasa action server sends too, so both paths
answer alike."""

from __future__ import annotations

from core.db import SessionFactory
from core.domain import Button, Decision, MessageKind
from knowledge_base.index import IndexedEntry
from knowledge_base.normalize import small_talk
from knowledge_base.search import FaqSearchService, SearchResult
from knowledge_base.search_log import log_search
from nlu import texts
from nlu.engine import BotMessage, DialogueTurn, Rows
from nlu.payloads import Action, Payload

CLARIFY_OPTIONS = 3
BUTTON_TEXT_LIMIT = 60


def operator_button(log_id: int | None) -> Button:
    return Button(texts.BUTTON_OPERATOR, Payload(Action.OPERATOR, log_id).encode())


def answer_message(entry: IndexedEntry, log_id: int | None) -> BotMessage:
    """An FAQ answer with the feedback buttons and the operator button."""
    return BotMessage(
        entry.answer,
        (
            (
                Button(texts.BUTTON_HELPED, Payload(Action.HELPED, log_id).encode()),
                Button(texts.BUTTON_NOT_HELPED, Payload(Action.NOT_HELPED, log_id).encode()),
            ),
            (operator_button(log_id),),
        ),
    )


def choice_rows(entries: list[IndexedEntry], log_id: int) -> Rows:
    """One button per entry; pressing it shows that entry's answer."""
    return tuple(
        (Button(_shorten(e.question), Payload(Action.CHOOSE, log_id, e.id).encode()),)
        for e in entries
    )


def search_messages(search: SearchResult, log_id: int) -> list[BotMessage]:
    """What the bot says for a logged search: the answer, the closest questions, or
    that nothing was found."""
    if search.decision == Decision.ANSWER:
        return [answer_message(search.hits[0].entry, log_id)]
    if search.decision == Decision.CLARIFY:
        entries = [h.entry for h in search.hits[:CLARIFY_OPTIONS]]
        return [
            BotMessage(
                texts.clarify_text([e.question for e in entries]),
                (*choice_rows(entries, log_id), (operator_button(log_id),)),
            )
        ]
    return [BotMessage(texts.NOT_FOUND, ((operator_button(log_id),),))]


class FaqResponder:
    """Searches the knowledge base for a citizen's question, logs the search and
    phrases the reply.

    Args:
        faq: The search service of the process.
        sessions: Sessions for the search log.
    """

    def __init__(self, faq: FaqSearchService, sessions: SessionFactory) -> None:
        self.faq = faq
        self._sessions = sessions

    async def answer(
        self,
        query: str,
        *,
        conversation_id: int | None,
        message_id: int | None,
        channel: str | None,
    ) -> list[BotMessage]:
        """The reply to ``query``; small talk and empty messages are not searched."""
        kind = small_talk(query)
        if kind is not None:
            return [BotMessage(texts.THANKS if kind == "thanks" else texts.GREETING)]
        search = await self.faq.search(query)
        if not search.prepared:
            return [BotMessage(texts.EMPTY)]
        async with self._sessions.begin() as session:
            log = await log_search(
                session,
                search,
                conversation_id=conversation_id,
                message_id=message_id,
                channel=channel,
            )
            await session.flush()
            log_id = log.id
        return search_messages(search, log_id)


class RetrievalEngine:
    """The dialogue without Rasa: every text is an FAQ question."""

    def __init__(self, responder: FaqResponder) -> None:
        self._responder = responder

    async def respond(self, turn: DialogueTurn) -> list[BotMessage]:
        if turn.kind != MessageKind.TEXT:
            return [BotMessage(texts.non_text(turn.kind), ((operator_button(None),),))]
        return await self._responder.answer(
            turn.text,
            conversation_id=turn.conversation_id,
            message_id=turn.message_id,
            channel=turn.channel,
        )


def _shorten(text: str, limit: int = BUTTON_TEXT_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
