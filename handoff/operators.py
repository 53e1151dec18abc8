"""What operators do to a conversation, channel-agnostic: take it, answer the citizen,
hand it back to the bot, close it, ban a spammer, send a template or an FAQ answer.

Each action is one transaction: the conversation's new state, the citizen's message in
the outbox of the citizen's own channel, the handoff case's figures, the audit entry and
the event that shows the action in the operator group all commit together, or nothing
does. An operator message is keyed by its id in the group, so a repeated update sends
the citizen nothing twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import SessionFactory
from core.domain import (
    Button,
    Channel,
    ConversationStatus,
    DeliveryStatus,
    Direction,
    MessageKind,
    Reply,
)
from core.models import (
    AuditEntry,
    Conversation,
    HandoffCase,
    Identity,
    Message,
    OperatorTopic,
    ReplyTemplate,
    utcnow,
)
from handoff.events import EventKind, add_event, notify_on_commit
from nlu import texts
from nlu.payloads import Action, Payload

log = logging.getLogger(__name__)

CSAT_SCORES = (1, 2, 3, 4, 5)
AUTHOR_PREFIX = "operator:"


@dataclass(frozen=True, slots=True)
class Operator:
    """An operator as the group shows them."""

    user_id: str
    name: str

    @property
    def author(self) -> str:
        return f"{AUTHOR_PREFIX}{self.user_id}"


@dataclass(frozen=True, slots=True)
class OperatorContent:
    """What an operator sent into a topic, to be relayed to the citizen.

    Attributes:
        key: Unique per message in the group (``<group>:<message id>``).
        kind: Text or a kind of media.
        text: The text or the caption.
        attachments: How the citizen's channel gets the media (``copy`` from the group
            for a Telegram citizen, the file id for one on another channel).
    """

    key: str
    kind: MessageKind
    text: str
    attachments: tuple[dict[str, Any], ...] = ()


class Outcome(StrEnum):
    DONE = "done"
    ALREADY = "already"  # nothing to do: it was so already
    TAKEN_BY_OTHER = "taken_by_other"
    NOT_HERE = "not_here"  # the conversation is not with the operators (bot or closed)
    UNKNOWN = "unknown"  # no such conversation or template


@dataclass(frozen=True, slots=True)
class ActionResult:
    """What came of an operator's action; ``replies`` were stored for the citizen's
    channel (wake its sender), ``holder`` names the operator who has the conversation."""

    outcome: Outcome
    replies: tuple[Reply, ...] = ()
    holder: str | None = None
    detail: str | None = None


@dataclass
class _Case:
    conversation: Conversation
    identity: Identity
    case: HandoffCase | None
    notices: list[str] = field(default_factory=list)


class OperatorService:
    """Operators' actions on conversations.

    Args:
        sessions: The session factory.
        notify: Called after a transaction that stored handoff events committed (wakes
            the relay).
    """

    def __init__(self, sessions: SessionFactory, notify: Callable[[], None] | None = None) -> None:
        self._sessions = sessions
        self.notify = notify

    # --- lookups ---

    async def conversation_of_topic(self, group_chat_id: int, thread_id: int) -> int | None:
        async with self._sessions() as session:
            value = await session.scalar(
                select(OperatorTopic.conversation_id).where(
                    OperatorTopic.group_chat_id == str(group_chat_id),
                    OperatorTopic.thread_id == thread_id,
                )
            )
        return int(value) if value is not None else None

    async def citizen_name(self, conversation_id: int) -> str | None:
        async with self._sessions() as session:
            return await session.scalar(
                select(Identity.display_name)
                .join(Conversation, Conversation.identity_id == Identity.id)
                .where(Conversation.id == conversation_id)
            )

    async def templates(self) -> list[ReplyTemplate]:
        async with self._sessions() as session:
            return list(await session.scalars(select(ReplyTemplate).order_by(ReplyTemplate.name)))

    # --- actions ---

    async def take(self, conversation_id: int, operator: Operator) -> ActionResult:
        """Assign the conversation to ``operator``; another operator's conversation
        stays theirs (the result names them)."""
        async with self._sessions.begin() as session:
            found = await _load_active(session, conversation_id)
            if isinstance(found, ActionResult):
                return found
            case = found.case
            if case is not None and case.operator_id and case.operator_id != operator.user_id:
                return ActionResult(Outcome.TAKEN_BY_OTHER, holder=case.operator_name)
            if case is not None and case.operator_id == operator.user_id:
                return ActionResult(Outcome.ALREADY, holder=case.operator_name)
            replies = self._assign(session, found, operator)
            return ActionResult(Outcome.DONE, tuple(replies), holder=operator.name)

    async def send(
        self, conversation_id: int, operator: Operator, content: OperatorContent
    ) -> ActionResult:
        """Relay an operator's message to the citizen (a waiting conversation becomes
        the operator's); once per ``content.key``."""
        try:
            async with self._sessions.begin() as session:
                found = await _load_active(session, conversation_id)
                if isinstance(found, ActionResult):
                    return found
                if await _sent_before(session, found.identity.channel, content.key):
                    return ActionResult(Outcome.ALREADY)
                replies: list[Reply] = []
                if found.conversation.status == ConversationStatus.WAITING or (
                    found.case is not None and not found.case.operator_id
                ):
                    replies += self._assign(session, found, operator, announce=False)
                replies.append(self._to_citizen(session, found, content, operator))
                if found.case is not None and found.case.first_response_at is None:
                    found.case.first_response_at = utcnow()
                await session.flush()
                return ActionResult(Outcome.DONE, tuple(replies))
        except IntegrityError:
            # The same message, stored by a concurrent attempt just now.
            async with self._sessions() as session:
                channel = await _channel_of(session, conversation_id)
                if channel and await _sent_before(session, channel, content.key):
                    return ActionResult(Outcome.ALREADY)
            raise

    async def return_to_bot(self, conversation_id: int, operator: Operator) -> ActionResult:
        async with self._sessions.begin() as session:
            found = await _load_active(session, conversation_id)
            if isinstance(found, ActionResult):
                return found
            found.conversation.status = ConversationStatus.BOT
            found.conversation.status_reason = "returned_by_operator"
            found.conversation.waiting_since = None
            found.conversation.priority = 0
            found.conversation.failed_attempts = 0
            self._end(session, found, "returned")
            self._audit(session, operator, "return_to_bot", conversation_id)
            self._event(session, conversation_id, EventKind.RETURNED, {"by": operator.name})
            reply = self._reply(session, found, texts.RETURNED_TO_BOT)
            return ActionResult(Outcome.DONE, (reply,))

    async def close(self, conversation_id: int, operator: Operator) -> ActionResult:
        """Close the conversation; the citizen is asked to rate the help (1–5)."""
        async with self._sessions.begin() as session:
            found = await _load_active(session, conversation_id)
            if isinstance(found, ActionResult):
                return found
            found.conversation.status = ConversationStatus.CLOSED
            found.conversation.status_reason = "closed_by_operator"
            found.conversation.closed_at = utcnow()
            found.conversation.waiting_since = None
            case = self._end(session, found, "closed")
            if case.operator_id is None:
                case.operator_id, case.operator_name = operator.user_id, operator.name
            self._audit(session, operator, "close", conversation_id)
            self._event(session, conversation_id, EventKind.CLOSED, {"by": operator.name})
            await session.flush()
            rating = tuple(
                Button(str(score), Payload(Action.RATE, case.id, score).encode())
                for score in CSAT_SCORES
            )
            reply = self._reply(session, found, texts.CLOSED_BY_OPERATOR, (rating,))
            return ActionResult(Outcome.DONE, (reply,))

    async def set_ban(
        self, conversation_id: int, operator: Operator, banned: bool
    ) -> ActionResult:
        """Ban (or unban) the conversation's citizen: a banned citizen's messages are
        stored and neither answered nor relayed."""
        async with self._sessions.begin() as session:
            found = await _load(session, conversation_id)
            if found is None:
                return ActionResult(Outcome.UNKNOWN)
            identity = found.identity
            if (identity.banned_at is not None) == banned:
                return ActionResult(Outcome.ALREADY)
            identity.banned_at = utcnow() if banned else None
            identity.banned_by = operator.author if banned else None
            action = "ban" if banned else "unban"
            self._audit(session, operator, action, conversation_id, {"identity": identity.id})
            text = (
                f"🚫 {operator.name} заблокировал(а) гражданина: его сообщения больше не "
                "приходят ни боту, ни операторам. Снять блокировку: /unban"
                if banned
                else f"✅ {operator.name} снял(а) блокировку: сообщения гражданина снова приходят."
            )
            self._event(session, conversation_id, EventKind.NOTICE, {"text": text})
            return ActionResult(Outcome.DONE)

    async def notice(self, conversation_id: int, text: str) -> None:
        """A service message for the conversation's topic, in order with the rest."""
        async with self._sessions.begin() as session:
            self._event(session, conversation_id, EventKind.NOTICE, {"text": text})

    # --- pieces of a transaction ---

    def _assign(
        self, session: AsyncSession, found: _Case, operator: Operator, *, announce: bool = True
    ) -> list[Reply]:
        conversation = found.conversation
        conversation.status = ConversationStatus.WITH_OPERATOR
        case = _case(session, found)
        case.operator_id, case.operator_name = operator.user_id, operator.name
        case.taken_at = case.taken_at or utcnow()
        self._audit(session, operator, "assign", conversation.id)
        self._event(session, conversation.id, EventKind.TAKEN, {"by": operator.name})
        if not announce:
            return []
        return [self._reply(session, found, texts.OPERATOR_JOINED)]

    def _to_citizen(
        self, session: AsyncSession, found: _Case, content: OperatorContent, operator: Operator
    ) -> Reply:
        identity = found.identity
        row = Message(
            conversation_id=found.conversation.id,
            channel=identity.channel,
            direction=Direction.OUT,
            kind=content.kind,
            dedup_key=content.key,
            chat_id=identity.chat_id,
            text=content.text,
            attachments=list(content.attachments) or None,
            delivery_status=DeliveryStatus.PENDING,
            author=operator.author,
        )
        session.add(row)
        return Reply(Channel(identity.channel), identity.chat_id, content.text)

    def _reply(
        self,
        session: AsyncSession,
        found: _Case,
        text: str,
        buttons: Sequence[tuple[Button, ...]] = (),
    ) -> Reply:
        identity = found.identity
        session.add(
            Message(
                conversation_id=found.conversation.id,
                channel=identity.channel,
                direction=Direction.OUT,
                kind=MessageKind.TEXT,
                chat_id=identity.chat_id,
                text=text,
                buttons=[[{"text": b.text, "payload": b.payload} for b in row] for row in buttons]
                or None,
                delivery_status=DeliveryStatus.PENDING,
            )
        )
        return Reply(Channel(identity.channel), identity.chat_id, text, tuple(buttons))

    @staticmethod
    def _end(session: AsyncSession, found: _Case, outcome: str) -> HandoffCase:
        case = _case(session, found)
        case.ended_at = utcnow()
        case.outcome = outcome
        return case

    @staticmethod
    def _audit(
        session: AsyncSession,
        operator: Operator,
        action: str,
        conversation_id: int | None,
        details: dict[str, Any] | None = None,
    ) -> None:
        session.add(
            AuditEntry(
                actor=operator.author,
                actor_name=operator.name,
                action=action,
                conversation_id=conversation_id,
                details=details,
            )
        )

    def _event(
        self,
        session: AsyncSession,
        conversation_id: int,
        kind: EventKind,
        payload: dict[str, Any] | None = None,
    ) -> None:
        add_event(session, conversation_id, kind, 0, payload)
        notify_on_commit(session, self.notify)


async def _load(session: AsyncSession, conversation_id: int) -> _Case | None:
    conversation = await session.get(Conversation, conversation_id, with_for_update=True)
    if conversation is None:
        return None
    identity = await session.get(Identity, conversation.identity_id)
    if identity is None:
        return None
    return _Case(conversation, identity, await open_case(session, conversation_id))


async def _load_active(session: AsyncSession, conversation_id: int) -> _Case | ActionResult:
    """The conversation when it is with the operators (waiting or taken); else what to
    answer the operator."""
    found = await _load(session, conversation_id)
    if found is None:
        return ActionResult(Outcome.UNKNOWN)
    if found.conversation.status not in (
        ConversationStatus.WAITING,
        ConversationStatus.WITH_OPERATOR,
    ):
        return ActionResult(Outcome.NOT_HERE)
    return found


def _case(session: AsyncSession, found: _Case) -> HandoffCase:
    """The conversation's case; one is opened for a conversation that waited before
    cases were kept."""
    if found.case is None:
        conversation = found.conversation
        found.case = HandoffCase(
            conversation_id=conversation.id,
            reason=conversation.status_reason,
            priority=conversation.priority or 0,
            requested_at=conversation.waiting_since or utcnow(),
            reopenings=0,
        )
        session.add(found.case)
    return found.case


async def open_case(session: AsyncSession, conversation_id: int) -> HandoffCase | None:
    """The conversation's latest case (the current one when not ended)."""
    return await session.scalar(
        select(HandoffCase)
        .where(HandoffCase.conversation_id == conversation_id)
        .order_by(HandoffCase.id.desc())
        .limit(1)
    )


async def _sent_before(session: AsyncSession, channel: str, key: str) -> bool:
    found = await session.scalar(
        select(Message.id).where(Message.channel == channel, Message.dedup_key == key)
    )
    return found is not None


async def _channel_of(session: AsyncSession, conversation_id: int) -> str | None:
    return await session.scalar(
        select(Conversation.channel).where(Conversation.id == conversation_id)
    )


def render_template(text: str, *, name: str | None, number: int) -> str:
    """A template's text with ``{name}`` and ``{number}`` filled in; other braces are
    left as they are."""
    return text.replace("{name}", name or "гражданин").replace("{number}", str(number))
