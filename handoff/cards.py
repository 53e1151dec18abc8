"""What an operator sees of a conversation: the topic's name and the card that opens it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.domain import Direction, MessageKind
from core.models import Appeal, Conversation, FaqEntry, Identity, Message, SearchLog

TOPIC_NAME_LIMIT = 128
TRANSCRIPT_MESSAGES = 10
CARD_LIMIT = 4000  # under Telegram's 4096 characters

CHANNEL_MARKS = {"telegram": "TG", "vk": "VK", "max": "MAX", "web": "Сайт"}
REASONS = {
    "citizen_request": "гражданин попросил оператора",
    "not_helped": "ответы бота не помогли дважды",
    "emergency": "экстренная ситуация",
    "bot_failure": "бот не смог обработать сообщение",
    "no_answer": "в базе знаний нет ответа",
}
KIND_LABELS = {
    MessageKind.PHOTO: "фото",
    MessageKind.VIDEO: "видео",
    MessageKind.VIDEO_NOTE: "видеосообщение",
    MessageKind.VOICE: "голосовое сообщение",
    MessageKind.AUDIO: "аудио",
    MessageKind.STICKER: "стикер",
    MessageKind.DOCUMENT: "документ",
    MessageKind.LOCATION: "геопозиция",
    MessageKind.CONTACT: "контакт",
    MessageKind.OTHER: "вложение",
}


class Mark:
    """The status mark at the end of a topic's name."""

    WAITING = "🆕"
    URGENT = "🔥"
    TAKEN = "👤"
    CLOSED = "✅"
    WITHDRAWN = "↩️"
    BOT = "🤖"
    UNREACHABLE = "🚫"


@dataclass(frozen=True, slots=True)
class Line:
    direction: Direction
    kind: MessageKind
    text: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Digest:
    """A conversation as the card shows it."""

    conversation_id: int
    channel: str
    citizen: str
    phone: str | None
    category: str | None
    reason: str | None
    priority: int
    question: str | None
    bot_answer: str | None
    transcript: tuple[Line, ...]


async def load_digest(session: AsyncSession, conversation_id: int) -> Digest:
    conversation = await session.get(Conversation, conversation_id)
    if conversation is None:
        raise LookupError(f"no conversation {conversation_id}")
    identity = await session.get(Identity, conversation.identity_id)
    rows = (
        await session.scalars(
            select(Message)
            .where(Message.conversation_id == conversation_id)
            .order_by(Message.id.desc())
            .limit(TRANSCRIPT_MESSAGES)
        )
    ).all()
    transcript = tuple(
        Line(Direction(m.direction), MessageKind(m.kind), m.text or "", m.created_at)
        for m in reversed(rows)
    )
    search = await session.scalar(
        select(SearchLog)
        .where(SearchLog.conversation_id == conversation_id)
        .order_by(SearchLog.id.desc())
        .limit(1)
    )
    category = None
    if search is not None and search.hits:
        entry_id = search.chosen_entry_id or search.hits[0].get("id")
        entry = await session.get(FaqEntry, entry_id) if entry_id else None
        category = entry.category if entry is not None else None
    # A phone only when the citizen gave it, with consent, in an appeal.
    appeal = await session.scalar(
        select(Appeal)
        .where(Appeal.conversation_id == conversation_id)
        .order_by(Appeal.id.desc())
        .limit(1)
    )
    question = next(
        (
            line.text
            for line in reversed(transcript)
            if line.direction == Direction.IN and line.kind == MessageKind.TEXT and line.text
        ),
        None,
    )
    answer = next(
        (line.text for line in reversed(transcript) if line.direction == Direction.OUT), None
    )
    if appeal is not None and category is None:
        category = appeal.category
    return Digest(
        conversation_id=conversation_id,
        channel=conversation.channel,
        citizen=(identity.display_name if identity else None) or "Гражданин",
        phone=appeal.phone if appeal is not None and appeal.consent_at else None,
        category=category,
        reason=conversation.status_reason,
        priority=conversation.priority or 0,
        question=search.query if search is not None else question,
        bot_answer=answer,
        transcript=transcript,
    )


def topic_name(digest: Digest, mark: str) -> str:
    """«№12 · TG · ЖКХ 🆕»: the number, the channel, the category and the status."""
    channel = CHANNEL_MARKS.get(digest.channel, digest.channel.upper())
    parts = [f"№{digest.conversation_id}", channel]
    if digest.category:
        parts.append(digest.category)
    name = " · ".join(parts)
    room = TOPIC_NAME_LIMIT - len(mark) - 1
    if len(name) > room:
        name = name[: room - 1] + "…"
    return f"{name} {mark}"


def initial_mark(digest: Digest) -> str:
    return Mark.URGENT if digest.priority > 0 else Mark.WAITING


def card_text(digest: Digest) -> str:
    channel = {"telegram": "Telegram", "vk": "ВКонтакте", "max": "MAX", "web": "Сайт"}.get(
        digest.channel, digest.channel
    )
    lines = [f"Обращение №{digest.conversation_id}"]
    if digest.priority > 0:
        lines.append("🔥 Срочно")
    lines.append(f"Гражданин: {digest.citizen}")
    if digest.phone:
        lines.append(f"Телефон (дан с согласием): {digest.phone}")
    lines.append(f"Канал: {channel}")
    lines.append(f"Категория: {digest.category or 'не определена'}")
    reason = REASONS.get(digest.reason or "", digest.reason or "не указана")
    lines.append(f"Почему оператор: {reason}")
    if digest.question:
        lines.append(f"\nВопрос: {_short(digest.question, 600)}")
    if digest.bot_answer:
        lines.append(f"Бот ответил: {_short(digest.bot_answer, 600)}")
    if digest.transcript:
        lines.append("\nПоследние сообщения:")
        for line in digest.transcript:
            who = "Гражданин" if line.direction == Direction.IN else "Бот"
            lines.append(f"{line.at:%H:%M} {who}: {_short(describe(line.kind, line.text), 200)}")
    text = "\n".join(lines)
    return text if len(text) <= CARD_LIMIT else text[: CARD_LIMIT - 1] + "…"


def describe(kind: MessageKind, text: str) -> str:
    """A message in a line of text: its text, or what it holds."""
    if kind in KIND_LABELS:
        label = f"[{KIND_LABELS[kind]}]"
        return f"{label} {text}".strip() if text else label
    return text or "—"


def _short(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
