"""The channel-agnostic conversation service: store, route, return replies."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Protocol

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.conversations import ConversationRepository, ConversationState, StoredMessage
from core.db import SessionFactory
from core.domain import (
    Button,
    ConversationStatus,
    Direction,
    Feedback,
    IncomingMessage,
    MessageKind,
    Reply,
)
from core.logs import conversation_scope
from core.metrics import Metrics
from core.models import Conversation, DialogueButton, Message, SearchLog, utcnow
from handoff.service import HandoffService
from knowledge_base.index import IndexedEntry
from knowledge_base.search_log import set_feedback
from nlu import texts
from nlu.engine import BotMessage, DialogueEngine, DialogueTurn
from nlu.payloads import Action, Payload, decode
from nlu.retrieval import CLARIFY_OPTIONS, answer_message, choice_rows, operator_button

log = logging.getLogger(__name__)

# A second «Не помогло» in a row hands the conversation to an operator.
FAILURES_BEFORE_OPERATOR = 2
# Commands of the operator groups (bots/telegram/operator_router.py); refused elsewhere.
OPERATOR_COMMANDS = frozenset({"t", "note", "ban", "unban"})
# A text within this long after a rating is taken as the comment on it.
COMMENT_WINDOW = timedelta(minutes=30)


class FaqEntries(Protocol):
    """The published knowledge-base entries, by id (for the answers behind buttons)."""

    def entry(self, entry_id: int) -> IndexedEntry | None: ...


class ConversationHandler(Protocol):
    """What a channel adapter needs from the conversation service."""

    async def handle(self, message: IncomingMessage) -> list[Reply]:
        """Store ``message``, run its turn and return the replies it stored in the
        outbox; empty when the message was answered before (a re-delivery)."""
        ...

    async def give_up(self, message: IncomingMessage, reason: str) -> list[Reply]:
        """The message's turn failed for the last time: apologise to the citizen and
        hand the conversation to the operators, once."""
        ...

    async def edit(self, message: IncomingMessage) -> bool:
        """The citizen edited a message (same ``dedup_key``, new text): the operators
        see the edit when the conversation is theirs. True when it was passed on."""
        ...


@dataclass
class _Turn:
    """One inbound message being handled inside one transaction."""

    session: AsyncSession
    conversation: ConversationState
    message: IncomingMessage
    message_id: int
    messages: list[BotMessage] = field(default_factory=list)

    def say(self, text: str, *rows: tuple[Button, ...]) -> None:
        self.messages.append(BotMessage(text, tuple(r for r in rows if r)))


class ConversationService:
    """Decides what the bot answers; never sends anything itself.

    Args:
        sessions: The session factory.
        conversations: Citizens, conversations and messages.
        dialogue: The dialogue engine for what citizens write while the bot handles
            the conversation (Rasa, or the knowledge base alone).
        faq: Knowledge-base entries (for the answers behind buttons).
        handoff: Moves conversations to the operators' queue.
        org_name: The administration's name for the welcome message.
        metrics: The process's metrics (messages stored, turn latency).
    """

    def __init__(
        self,
        sessions: SessionFactory,
        conversations: ConversationRepository,
        dialogue: DialogueEngine,
        faq: FaqEntries,
        handoff: HandoffService,
        org_name: str,
        metrics: Metrics | None = None,
    ) -> None:
        self._sessions = sessions
        self._metrics = metrics
        self._conversations = conversations
        self._dialogue = dialogue
        self._faq = faq
        self._handoff = handoff
        self._org_name = org_name

    async def handle(self, message: IncomingMessage) -> list[Reply]:
        started = time.monotonic()
        stored = await self._conversations.store_inbound(message)
        if stored is None:
            return []
        if self._metrics is not None and not stored.retry:
            self._metrics.messages_in.labels(channel=message.channel).inc()
        with conversation_scope(stored.conversation.id):
            replies = await self._turn(message, stored)
        if self._metrics is not None and replies:
            elapsed = time.monotonic() - started
            self._metrics.turn_seconds.labels(channel=message.channel).observe(elapsed)
        return replies

    async def _turn(self, message: IncomingMessage, stored: StoredMessage) -> list[Reply]:
        """Run the message's turn; its outcome commits in one transaction, or not at all
        (then the message is still pending and handled again). A banned citizen's
        message is stored and nothing more."""
        if stored.conversation.banned:
            async with self._sessions.begin() as session:
                await ConversationRepository.mark_handled(session, stored.id)
            return []
        dialogue = await self._dialogue_turn(message, stored)
        async with self._sessions.begin() as session:
            if not await ConversationRepository.mark_handled(session, stored.id):
                return []  # another attempt at this message committed its turn first
            turn = _Turn(session, stored.conversation, message, stored.id)
            if dialogue is not None:
                turn.messages.extend(dialogue)
            else:
                await self._route(turn)
            return await self._store_replies(turn)

    async def edit(self, message: IncomingMessage) -> bool:
        async with self._sessions.begin() as session:
            found = (
                await session.execute(
                    select(Message.id, Conversation.id, Conversation.status)
                    .join(Conversation, Conversation.id == Message.conversation_id)
                    .where(
                        Message.channel == message.channel,
                        Message.dedup_key == message.dedup_key,
                        Message.direction == Direction.IN,
                    )
                )
            ).first()
            if found is None:
                return False
            message_id, conversation_id, status = found
            if status not in (ConversationStatus.WAITING, ConversationStatus.WITH_OPERATOR):
                return False  # the bot answered the message as it was
            await self._handoff.relay_citizen_edit(
                session, conversation_id, message_id, message.text
            )
            return True

    async def give_up(self, message: IncomingMessage, reason: str) -> list[Reply]:
        stored = await self._conversations.store_inbound(message)
        if stored is None:
            return []
        with conversation_scope(stored.conversation.id):
            log.warning("the turn failed for the last time (%s): apology and operator", reason)
            return await self._apologise(message, stored, reason)

    async def _apologise(
        self, message: IncomingMessage, stored: StoredMessage, reason: str
    ) -> list[Reply]:
        async with self._sessions.begin() as session:
            if not await ConversationRepository.mark_handled(session, stored.id):
                return []
            turn = _Turn(session, stored.conversation, message, stored.id)
            await self._handoff.request_operator(session, stored.conversation.id, reason)
            turn.say(texts.TURN_FAILED, (self._cancel_button(),))
            return await self._store_replies(turn)

    async def _store_replies(self, turn: _Turn) -> list[Reply]:
        """The turn's replies, stored in the outbox inside the turn's transaction."""
        replies = await self._replies(turn)
        return await ConversationRepository.store_replies(
            turn.session, turn.conversation.id, replies
        )

    async def _dialogue_turn(
        self, message: IncomingMessage, stored: StoredMessage
    ) -> list[BotMessage] | None:
        """The dialogue engine's messages when this message is the dialogue's to answer
        (no transaction is held while it thinks); None when the service answers."""
        conversation = stored.conversation
        if conversation.status != ConversationStatus.BOT:
            return None
        text = message.text
        if message.kind == MessageKind.BUTTON:
            payload = decode(message.payload)
            if payload is None or payload.action != Action.DIALOGUE or payload.ref is None:
                return None
            text = await self._dialogue_payload(conversation.id, payload.ref) or ""
            if not text:
                return None
        elif message.kind == MessageKind.COMMAND:
            return None
        kind = MessageKind.TEXT if message.kind == MessageKind.BUTTON else message.kind
        return await self._dialogue.respond(
            DialogueTurn(
                conversation.id,
                stored.id,
                message.channel,
                kind,
                text,
                message.attachments,
                retry=stored.retry,
            )
        )

    async def _dialogue_payload(self, conversation_id: int, button_id: int) -> str | None:
        async with self._sessions() as session:
            button = await session.get(DialogueButton, button_id)
            if button is None or button.conversation_id != conversation_id:
                return None
            return button.payload

    async def _replies(self, turn: _Turn) -> list[Reply]:
        """Replies for the turn's messages; the dialogue engine's own button payloads
        are stored and replaced by short references."""
        replies = []
        for message in turn.messages:
            rows = []
            for row in message.buttons:
                rows.append(tuple([await self._channel_button(turn, b) for b in row]))
            replies.append(
                Reply(turn.conversation.channel, turn.message.chat_id, message.text, tuple(rows))
            )
        return replies

    async def _channel_button(self, turn: _Turn, button: Button) -> Button:
        if decode(button.payload) is not None:
            return button
        stored = DialogueButton(
            conversation_id=turn.conversation.id, title=button.text[:255], payload=button.payload
        )
        turn.session.add(stored)
        await turn.session.flush()
        return Button(button.text, Payload(Action.DIALOGUE, stored.id).encode())

    async def _route(self, turn: _Turn) -> None:
        message, status = turn.message, turn.conversation.status
        if status == ConversationStatus.CLOSED:
            await self._after_close(turn)
        elif message.kind == MessageKind.COMMAND:
            self._command(turn)
        elif message.kind == MessageKind.BUTTON:
            await self._button(turn, decode(message.payload))
        elif status != ConversationStatus.BOT:
            await self._handoff.relay_citizen_message(
                turn.session, turn.conversation.id, turn.message_id, turn.conversation.priority
            )
            if status == ConversationStatus.WAITING:
                turn.say(texts.WAITING_ACK, (self._cancel_button(),))

    async def _after_close(self, turn: _Turn) -> None:
        """An operator closed the conversation a short while ago: a rating, a comment on
        it, or anything else, which reopens the conversation with its operator."""
        message = turn.message
        payload = decode(message.payload) if message.kind == MessageKind.BUTTON else None
        if payload is not None and payload.action == Action.RATE:
            await self._rate(turn, payload)
            return
        if message.kind == MessageKind.BUTTON and (
            payload is None or payload.action != Action.OPERATOR
        ):
            turn.say(texts.STALE_BUTTON)
            return
        since = utcnow() - COMMENT_WINDOW
        identity = turn.conversation.identity_id
        if message.kind == MessageKind.TEXT and await self._handoff.comment(
            turn.session, identity, message.text, since
        ):
            turn.say(texts.COMMENT_THANKS)
            return
        await self._handoff.reopen(turn.session, turn.conversation.id)
        await self._handoff.relay_citizen_message(
            turn.session, turn.conversation.id, turn.message_id, turn.conversation.priority
        )
        turn.say(texts.REOPENED_ACK)

    async def _rate(self, turn: _Turn, payload: Payload) -> None:
        recorded = None
        if payload.ref is not None and payload.entry_id is not None:
            recorded = await self._handoff.rate(
                turn.session, turn.conversation.identity_id, payload.ref, payload.entry_id
            )
        if recorded is None:
            turn.say(texts.STALE_BUTTON)
        else:
            turn.say(texts.RATED if recorded else texts.RATED_AGAIN)

    def _command(self, turn: _Turn) -> None:
        if turn.message.command == "start":
            turn.say(texts.welcome(self._org_name))
            if turn.conversation.status == ConversationStatus.WAITING:
                turn.say(texts.ALREADY_WAITING, (self._cancel_button(),))
        elif turn.message.command in OPERATOR_COMMANDS:
            turn.say(texts.OPERATOR_ONLY)  # operators' commands work in their group only
        else:
            turn.say(texts.HELP)

    async def _button(self, turn: _Turn, payload: Payload | None) -> None:
        if payload is None or payload.action == Action.DIALOGUE:
            turn.say(texts.STALE_BUTTON)
        elif payload.action == Action.OPERATOR:
            await self._feedback(turn, payload, Feedback.OPERATOR)
            await self._request_operator(turn, "citizen_request", texts.OPERATOR_REQUESTED)
        elif payload.action == Action.CANCEL:
            await self._cancel_operator(turn)
        elif payload.action == Action.RATE:
            await self._rate(turn, payload)
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
            turn.say(texts.NOT_HELPED_BARE, (operator_button(row.id),))
            return
        turn.say(texts.NOT_HELPED, *choice_rows(others, row.id), (operator_button(row.id),))

    async def _chosen(self, turn: _Turn, payload: Payload) -> None:
        entry = self._faq.entry(payload.entry_id) if payload.entry_id else None
        if entry is None:
            turn.say(texts.ENTRY_GONE, (operator_button(payload.ref),))
            return
        if payload.ref is not None:
            row = await turn.session.get(SearchLog, payload.ref)
            if row is not None and row.conversation_id == turn.conversation.id:
                row.chosen_entry_id = entry.id
                row.feedback = None
        turn.messages.append(answer_message(entry, payload.ref))

    async def _feedback(
        self, turn: _Turn, payload: Payload, feedback: Feedback
    ) -> SearchLog | None:
        """Record the first verdict on a search; None when there was one already."""
        if payload.ref is None:
            return None
        row = await turn.session.get(SearchLog, payload.ref)
        if row is None or row.feedback is not None:
            return None
        return await set_feedback(turn.session, payload.ref, turn.conversation.id, feedback)

    async def _request_operator(self, turn: _Turn, reason: str, text: str) -> None:
        if await self._handoff.request_operator(turn.session, turn.conversation.id, reason):
            turn.say(text, (self._cancel_button(),))
            sla = self._handoff.sla
            closed = sla.closed_notice(utcnow()) if sla is not None else None
            if closed is not None:
                turn.say(texts.out_of_hours(closed))
        else:
            turn.say(texts.ALREADY_WAITING, (self._cancel_button(),))

    async def _cancel_operator(self, turn: _Turn) -> None:
        if await self._handoff.cancel_request(turn.session, turn.conversation.id):
            turn.say(texts.OPERATOR_CANCELLED)
        else:
            turn.say(texts.STALE_BUTTON)

    async def _set_failures(self, turn: _Turn, failures: int) -> None:
        await turn.session.execute(
            update(Conversation)
            .where(Conversation.id == turn.conversation.id)
            .values(failed_attempts=failures)
        )

    @staticmethod
    def _cancel_button() -> Button:
        return Button(texts.BUTTON_CANCEL_OPERATOR, Payload(Action.CANCEL).encode())
