"""The channel-agnostic conversation service: store, route, return replies."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Protocol

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from bots import texts
from bots.payloads import Action, Payload, decode
from core.conversations import ConversationRepository, ConversationState
from core.db import SessionFactory
from core.domain import (
    Button,
    Channel,
    ConversationStatus,
    Decision,
    DeliveryStatus,
    Feedback,
    IncomingMessage,
    MessageKind,
    Reply,
)
from core.models import Conversation, SearchLog, utcnow
from knowledge_base.index import IndexedEntry
from knowledge_base.normalize import small_talk
from knowledge_base.search import FaqSearchService, SearchResult
from knowledge_base.search_log import log_search, set_feedback

CLARIFY_OPTIONS = 3
# A second «Не помогло» in a row hands the conversation to an operator.
FAILURES_BEFORE_OPERATOR = 2
BUTTON_TEXT_LIMIT = 60


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


@dataclass
class _Turn:
    """One inbound message being handled inside one transaction."""

    session: AsyncSession
    conversation: ConversationState
    message: IncomingMessage
    message_id: int
    replies: list[tuple[str, tuple[tuple[Button, ...], ...]]] = field(default_factory=list)

    def say(self, text: str, *rows: tuple[Button, ...]) -> None:
        self.replies.append((text, tuple(r for r in rows if r)))


class ConversationService:
    """Decides what the bot answers; never sends anything itself.

    Args:
        sessions: The session factory.
        conversations: Citizens, conversations and messages.
        faq: Knowledge-base search.
        org_name: The administration's name for the welcome message.
        resend_window: How old an undelivered reply may be and still be resent.
    """

    def __init__(
        self,
        sessions: SessionFactory,
        conversations: ConversationRepository,
        faq: FaqSearchService,
        org_name: str,
        resend_window: timedelta = timedelta(hours=6),
    ) -> None:
        self._sessions = sessions
        self._conversations = conversations
        self._faq = faq
        self._org_name = org_name
        self._resend_window = resend_window

    async def handle(self, message: IncomingMessage) -> list[Reply]:
        stored = await self._conversations.store_inbound(message)
        if stored is None:
            return []
        conversation = stored.conversation
        search = None
        if conversation.status == ConversationStatus.BOT and message.kind == MessageKind.TEXT:
            if small_talk(message.text) is None:
                search = await self._faq.search(message.text)
        async with self._sessions.begin() as session:
            turn = _Turn(session, conversation, message, stored.id)
            await self._route(turn, search)
            replies = [
                Reply(conversation.channel, message.chat_id, text, buttons)
                for text, buttons in turn.replies
            ]
            rows = ConversationRepository.outbound_rows(conversation.id, replies)
            session.add_all(rows)
            await session.flush()
        return [replace(r, outbox_id=row.id) for r, row in zip(replies, rows, strict=True)]

    async def record_delivery(
        self,
        outbox_id: int,
        status: DeliveryStatus,
        *,
        external_id: str | None = None,
        error: str | None = None,
    ) -> None:
        await self._conversations.record_delivery(outbox_id, status, external_id, error)

    async def pending_replies(self, channel: Channel) -> list[Reply]:
        return await self._conversations.pending(channel, self._resend_window)

    async def _route(self, turn: _Turn, search: SearchResult | None) -> None:
        message, status = turn.message, turn.conversation.status
        if message.kind == MessageKind.COMMAND:
            self._command(turn)
        elif message.kind == MessageKind.BUTTON:
            await self._button(turn, decode(message.payload))
        elif status != ConversationStatus.BOT:
            turn.say(texts.WAITING_ACK, (self._cancel_button(),))
        elif message.kind != MessageKind.TEXT:
            turn.say(texts.non_text(message.kind), (self._operator_button(None),))
        elif search is None:
            kind = small_talk(message.text)
            turn.say(
                texts.THANKS
                if kind == "thanks"
                else texts.GREETING
                if kind == "greeting"
                else texts.EMPTY
            )
        else:
            await self._answer(turn, search)

    def _command(self, turn: _Turn) -> None:
        if turn.message.command == "start":
            turn.say(texts.welcome(self._org_name))
            if turn.conversation.status == ConversationStatus.WAITING:
                turn.say(texts.ALREADY_WAITING, (self._cancel_button(),))
        else:
            turn.say(texts.HELP)

    async def _answer(self, turn: _Turn, search: SearchResult) -> None:
        if not search.prepared:
            turn.say(texts.EMPTY)
            return
        log = log_search(
            turn.session,
            search,
            conversation_id=turn.conversation.id,
            message_id=turn.message_id,
            channel=turn.message.channel,
        )
        await turn.session.flush()
        if search.decision == Decision.ANSWER:
            self._say_answer(turn, search.hits[0].entry, log.id)
        elif search.decision == Decision.CLARIFY:
            self._say_options(turn, [h.entry for h in search.hits[:CLARIFY_OPTIONS]], log.id)
        else:
            turn.say(texts.NOT_FOUND, (self._operator_button(log.id),))

    def _say_answer(self, turn: _Turn, entry: IndexedEntry, log_id: int) -> None:
        turn.say(
            entry.answer,
            (
                Button(texts.BUTTON_HELPED, Payload(Action.HELPED, log_id).encode()),
                Button(texts.BUTTON_NOT_HELPED, Payload(Action.NOT_HELPED, log_id).encode()),
            ),
            (self._operator_button(log_id),),
        )

    def _say_options(self, turn: _Turn, entries: list[IndexedEntry], log_id: int) -> None:
        turn.say(
            texts.clarify_text([e.question for e in entries]),
            *_choice_rows(entries, log_id),
            (self._operator_button(log_id),),
        )

    async def _button(self, turn: _Turn, payload: Payload | None) -> None:
        if payload is None:
            turn.say(texts.STALE_BUTTON)
            return
        if payload.action == Action.OPERATOR:
            await self._feedback(turn, payload, Feedback.OPERATOR)
            await self._request_operator(turn, "citizen_request", texts.OPERATOR_REQUESTED)
        elif payload.action == Action.CANCEL:
            await self._cancel_operator(turn)
        elif turn.conversation.status != ConversationStatus.BOT:
            turn.say(texts.ALREADY_WAITING, (self._cancel_button(),))
        elif payload.action == Action.HELPED:
            await self._helped(turn, payload)
        elif payload.action == Action.NOT_HELPED:
            await self._not_helped(turn, payload)
        else:
            await self._chosen(turn, payload)

    async def _helped(self, turn: _Turn, payload: Payload) -> None:
        row = await self._feedback(turn, payload, Feedback.HELPED)
        if row is None:
            turn.say(texts.FEEDBACK_AGAIN)
            return
        await self._set_failures(turn, 0)
        turn.say(texts.HELPED)

    async def _not_helped(self, turn: _Turn, payload: Payload) -> None:
        row = await self._feedback(turn, payload, Feedback.NOT_HELPED)
        if row is None:
            turn.say(texts.FEEDBACK_AGAIN)
            return
        failures = turn.conversation.failed_attempts + 1
        if failures >= FAILURES_BEFORE_OPERATOR:
            await self._request_operator(turn, "not_helped", texts.OPERATOR_AFTER_FAILURES)
            return
        await self._set_failures(turn, failures)
        shown = row.chosen_entry_id or (row.hits[0]["id"] if row.hits else None)
        others = [
            e
            for e in (self._faq.entry(h["id"]) for h in row.hits if h["id"] != shown)
            if e is not None
        ][: CLARIFY_OPTIONS - 1]
        if not others:
            turn.say(texts.NOT_HELPED_BARE, (self._operator_button(row.id),))
            return
        turn.say(texts.NOT_HELPED, *_choice_rows(others, row.id), (self._operator_button(row.id),))

    async def _chosen(self, turn: _Turn, payload: Payload) -> None:
        entry = self._faq.entry(payload.entry_id) if payload.entry_id else None
        if entry is None:
            turn.say(texts.ENTRY_GONE, (self._operator_button(payload.log_id),))
            return
        if payload.log_id is not None:
            row = await turn.session.get(SearchLog, payload.log_id)
            if row is not None and row.conversation_id == turn.conversation.id:
                row.chosen_entry_id = entry.id
                row.feedback = None
        self._say_answer(turn, entry, payload.log_id or 0)

    async def _feedback(
        self, turn: _Turn, payload: Payload, feedback: Feedback
    ) -> SearchLog | None:
        """Record the first verdict on a search; None when there was one already."""
        if payload.log_id is None:
            return None
        row = await turn.session.get(SearchLog, payload.log_id)
        if row is None or row.feedback is not None:
            return None
        return await set_feedback(turn.session, payload.log_id, turn.conversation.id, feedback)

    async def _request_operator(self, turn: _Turn, reason: str, text: str) -> None:
        if turn.conversation.status != ConversationStatus.BOT:
            turn.say(texts.ALREADY_WAITING, (self._cancel_button(),))
            return
        await turn.session.execute(
            update(Conversation)
            .where(Conversation.id == turn.conversation.id)
            .values(
                status=ConversationStatus.WAITING,
                status_reason=reason,
                waiting_since=utcnow(),
                failed_attempts=0,
                updated_at=utcnow(),
            )
        )
        turn.say(text, (self._cancel_button(),))

    async def _cancel_operator(self, turn: _Turn) -> None:
        if turn.conversation.status != ConversationStatus.WAITING:
            turn.say(texts.STALE_BUTTON)
            return
        await turn.session.execute(
            update(Conversation)
            .where(Conversation.id == turn.conversation.id)
            .values(
                status=ConversationStatus.BOT,
                status_reason="cancelled_by_citizen",
                waiting_since=None,
                updated_at=utcnow(),
            )
        )
        turn.say(texts.OPERATOR_CANCELLED)

    async def _set_failures(self, turn: _Turn, failures: int) -> None:
        await turn.session.execute(
            update(Conversation)
            .where(Conversation.id == turn.conversation.id)
            .values(failed_attempts=failures)
        )

    @staticmethod
    def _operator_button(log_id: int | None) -> Button:
        return Button(texts.BUTTON_OPERATOR, Payload(Action.OPERATOR, log_id).encode())

    @staticmethod
    def _cancel_button() -> Button:
        return Button(texts.BUTTON_CANCEL_OPERATOR, Payload(Action.CANCEL).encode())


def _choice_rows(entries: list[IndexedEntry], log_id: int) -> tuple[tuple[Button, ...], ...]:
    return tuple(
        (Button(_shorten(e.question), Payload(Action.CHOOSE, log_id, e.id).encode()),)
        for e in entries
    )


def _shorten(text: str, limit: int = BUTTON_TEXT_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
