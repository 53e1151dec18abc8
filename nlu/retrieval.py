"""Answers straight from the knowledge base: the engine used when Rasa is off or
unreachable, and the FAQ replies the Rasa action server sends too, so both paths
answer alike."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from core.db import SessionFactory
from core.domain import Button, Decision, MessageKind
from core.write_gate import transaction
from knowledge_base.index import IndexedEntry
from knowledge_base.normalize import small_talk, split_questions
from knowledge_base.search import FaqSearchService, SearchResult
from knowledge_base.search_log import log_searches
from nlu import texts
from nlu.engine import BotMessage, DialogueTurn, Rows
from nlu.payloads import Action, Payload

CLARIFY_OPTIONS = 3
BUTTON_TEXT_LIMIT = 60
MAX_PARTS = 3


def operator_button(log_id: int | None) -> Button:
    return Button(texts.BUTTON_OPERATOR, Payload(Action.OPERATOR, log_id).encode())


def answer_message(entry: IndexedEntry, log_id: int | None, *, headed: bool = False) -> BotMessage:
    """An FAQ answer with the feedback buttons and the operator button; ``headed``
    names the FAQ question it answers (one of several answers to one message)."""
    return BotMessage(
        texts.answer_to(entry.question, entry.answer) if headed else entry.answer,
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


def plan_reply(
    whole: SearchResult, parts: Sequence[SearchResult]
) -> list[tuple[int, SearchResult]]:
    """The searches a reply is made of, with their part numbers (0: the whole message;
    1…: its questions, ``parts``, in order).

    A message with several questions gets an answer for each question answered
    confidently (once per entry), and the closest questions for each other question the
    bot is unsure of, unless they include an entry already answered (the same question
    put twice). When no question is answered confidently, or the only one is what the
    whole message answers too, the reply is the whole message's, as for one question.
    """
    if len(parts) < 2:
        return [(0, whole)]
    answered: dict[int, int] = {}
    for number, part in enumerate(parts, 1):
        if part.decision == Decision.ANSWER:
            answered.setdefault(part.hits[0].entry.id, number)
    if not answered:
        return [(0, whole)]
    plan: list[tuple[int, SearchResult]] = []
    for number, part in enumerate(parts, 1):
        if part.decision == Decision.ANSWER:
            if answered[part.hits[0].entry.id] == number:
                plan.append((number, part))
        elif part.decision == Decision.CLARIFY:
            shown = {h.entry.id for h in part.hits[:CLARIFY_OPTIONS]}
            if not shown & answered.keys():
                plan.append((number, part))
    if (
        len(plan) == 1
        and whole.decision == Decision.ANSWER
        and whole.hits[0].entry.id == plan[0][1].hits[0].entry.id
    ):
        return [(0, whole)]
    return plan


def part_messages(search: SearchResult, log_id: int, part: str) -> list[BotMessage]:
    """What the bot says for one of several questions of a message (``part``)."""
    if search.decision == Decision.ANSWER:
        return [answer_message(search.hits[0].entry, log_id, headed=True)]
    entries = [h.entry for h in search.hits[:CLARIFY_OPTIONS]]
    return [
        BotMessage(
            texts.clarify_part(part, [e.question for e in entries]),
            (*choice_rows(entries, log_id), (operator_button(log_id),)),
        )
    ]


class FaqResponder:
    """Searches the knowledge base for a citizen's question, logs the search and
    phrases the reply. A message asking several questions is also searched question
    by question (`plan_reply`): each answered question gets its own answer, log row
    and feedback buttons.

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
        questions = split_questions(query, MAX_PARTS)
        parts: list[SearchResult] = []
        if len(questions) > 1:
            parts = list(await asyncio.gather(*(self.faq.search(q) for q in questions)))
        plan = plan_reply(search, parts)
        async with transaction(self._sessions) as conn:
            log_ids = await log_searches(
                conn,
                plan,
                conversation_id=conversation_id,
                message_id=message_id,
                channel=channel,
            )
        if plan[0][0] == 0:
            return search_messages(search, log_ids[0])
        messages: list[BotMessage] = []
        for (number, result), log_id in zip(plan, log_ids, strict=True):
            messages += part_messages(result, log_id, questions[number - 1])
        return messages


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
