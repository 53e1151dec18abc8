"""The operator groups' side of the handoff queue: each escalated conversation gets one
forum topic that opens with a card, and everything the operators must know about it
(the citizen's messages and edits, who took it, closing, SLA reminders) follows there.

`OperatorDesk` applies handoff events (`handoff.queue.EventHandler`). The consumer holds
the conversation's lock while it does, so ten messages arriving at once never create two
topics. Everything posted into a group is paced under Telegram's limit for one group
(about 20 messages a minute) and waits out a 429; a topic deleted by hand is created
again, with a new card, when the conversation next needs it. A conversation goes to its
category's department group, or to the default group.

Telegram gives no idempotency key and a bot cannot read a group's history, so a topic
or a card posted just before a crash, in the instant before it was recorded, is posted
again after the restart; the window is one API call wide (a few milliseconds; the
crash tests in tests/e2e/faults/test_handoff_kills.py measure how often a kill lands
in it). Everything else in a topic follows the same rule: each event is recorded as
applied right after its post.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import aiohttp
from aiogram import Bot
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.types import (
    BufferedInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    ReplyParameters,
)
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bots.outbox import Pacer
from bots.text import split_text, utf16_len
from core.db import SessionFactory
from core.domain import Channel, ConversationStatus, MessageKind
from core.models import Conversation, HandoffCase, Message, OperatorTopic, as_utc, utcnow
from handoff.cards import (
    Digest,
    Mark,
    card_text,
    describe,
    initial_mark,
    load_digest,
    topic_name,
)
from handoff.events import EventKind, StoredEvent
from handoff.queue import TemporaryFailure

log = logging.getLogger(__name__)

T = TypeVar("T")

# Telegram allows about 20 messages a minute into one group; one fewer leaves a margin.
GROUP_RATE = 19
GROUP_WINDOW = 60.0
RETRY_AFTER_LIMIT = 3600.0  # a 429 asking longer than this is not waited out in place
SUGGESTIONS = 3  # FAQ entries offered on a card
SUGGESTION_LABEL = 48
CAPTION_LIMIT = 1024  # Telegram's limit for a photo's caption
UPLOAD_LIMIT = 50 * 1024**2  # the largest file a bot may upload
DOWNLOAD_TIMEOUT = 60
# A VK citizen's attachments posted as files, the first with the message's line as caption.
_CAPTIONED = frozenset({"photo", "sticker", "doc", "audio_message"})
_ATTACHMENT_NAMES = {
    "photo": "фото",
    "sticker": "стикер",
    "doc": "документ",
    "audio_message": "голосовое сообщение",
    "video": "видео",
    "audio": "аудиозапись",
}

# Callback data of the card's buttons: «<action>:<conversation>[:<entry>]».
TAKE, RETURN, CLOSE, FAQ = "ot", "ob", "oc", "of"

Suggest = Callable[[str], Awaitable[list[tuple[int, str]]]]


class DownloadFailed(Exception):
    """A citizen's file could not be fetched from the channel."""


@dataclass(frozen=True, slots=True)
class OperatorGroups:
    """Where conversations go: a department's group by category, else the default one;
    SLA misses go to the supervisors' chat."""

    default: int
    by_category: Mapping[str, int] = field(default_factory=dict)
    supervisors: int | None = None

    def for_category(self, category: str | None) -> int:
        if category:
            return self.by_category.get(category.casefold(), self.default)
        return self.default

    @property
    def all(self) -> set[int]:
        return {self.default, *self.by_category.values()}


@dataclass(frozen=True, slots=True)
class TopicRef:
    group: int
    thread_id: int
    name: str
    card_event_id: int | None
    card_message_id: int | None
    closed: bool


class ThreadGone(Exception):
    """The conversation's topic no longer exists in the group."""


def card_keyboard(
    conversation_id: int, *, taken: bool, suggestions: Sequence[tuple[int, str]] = ()
) -> InlineKeyboardMarkup:
    """The card's buttons: take (until someone has), hand back, close, and the FAQ
    answers closest to the question, each sent to the citizen with one tap."""
    actions = [
        InlineKeyboardButton(text="Вернуть боту", callback_data=f"{RETURN}:{conversation_id}"),
        InlineKeyboardButton(text="Закрыть", callback_data=f"{CLOSE}:{conversation_id}"),
    ]
    if not taken:
        actions.insert(
            0, InlineKeyboardButton(text="Взять", callback_data=f"{TAKE}:{conversation_id}")
        )
    rows = [actions]
    for entry_id, question in suggestions:
        label = question if len(question) <= SUGGESTION_LABEL else question[:47] + "…"
        rows.append(
            [
                InlineKeyboardButton(
                    text=f"📖 {label}", callback_data=f"{FAQ}:{conversation_id}:{entry_id}"
                )
            ]
        )
    return InlineKeyboardMarkup(inline_keyboard=rows)


class OperatorDesk:
    """Applies handoff events in the operator groups.

    Args:
        bot: The Telegram bot (the same one citizens talk to).
        sessions: The session factory.
        groups: The operator groups (a chat id stands for one group for everything).
        pacer: One pacer for every group (tests); by default each group has its own.
        suggest: FAQ entries ``(id, question)`` closest to a question, for the card.
        timezone: The time zone times are shown in.
        bot_pacer: The bot's pace over every chat (Telegram's 30 a second), shared with
            the citizens' outbox sender.
    """

    def __init__(
        self,
        bot: Bot,
        sessions: SessionFactory,
        groups: OperatorGroups | int,
        pacer: Pacer | None = None,
        *,
        suggest: Suggest | None = None,
        timezone: tzinfo | None = None,
        bot_pacer: Pacer | None = None,
    ) -> None:
        self._bot = bot
        self._sessions = sessions
        self.groups = groups if isinstance(groups, OperatorGroups) else OperatorGroups(groups)
        self._shared_pacer = pacer
        self._pacers: dict[int, Pacer] = {}
        self._suggest = suggest
        self._tz = timezone or ZoneInfo("Europe/Moscow")
        self._bot_pacer = bot_pacer

    async def apply(self, event: StoredEvent) -> None:
        try:
            await self._apply(event)
        except (TelegramNetworkError, TelegramServerError) as error:
            raise TemporaryFailure(f"Telegram: {type(error).__name__}") from error

    async def _apply(self, event: StoredEvent) -> None:
        kind, by = event.kind, event.payload.get("by", "Оператор")
        if kind == EventKind.REQUESTED:
            await self._in_topic(event, None)
        elif kind == EventKind.CITIZEN_MESSAGE:
            await self._in_topic(event, self._relay_message)
        elif kind == EventKind.REOPENED:
            await self._in_topic(event, None)
            await self._note(
                event,
                "↩️ Гражданин написал после закрытия — обращение открыто снова.",
                await self._current_mark(event.conversation_id),
            )
        elif kind == EventKind.CITIZEN_EDIT:
            await self._relay_edit(event)
        elif kind == EventKind.CANCELLED:
            await self._note(
                event, "↩️ Гражданин отозвал запрос оператора.", Mark.WITHDRAWN, close=True
            )
        elif kind == EventKind.PRIORITY:
            await self._note(event, "🔥 Обращение стало срочным.", Mark.URGENT)
        elif kind == EventKind.TAKEN:
            await self._note(event, f"👤 Обращение взял(а) {by}.", Mark.TAKEN, taken=True)
        elif kind == EventKind.RETURNED:
            await self._note(
                event, f"🤖 {by} вернул(а) обращение боту.", Mark.BOT, close=True, taken=True
            )
        elif kind == EventKind.CLOSED:
            text = f"✅ {by} закрыл(а) обращение; гражданину предложено оценить помощь."
            await self._note(event, text, Mark.CLOSED, close=True, taken=True)
        elif kind == EventKind.NOTICE:
            await self._note(event, str(event.payload.get("text", "")), None)
        elif kind == EventKind.UNDELIVERABLE:
            text = (
                "🚫 Сообщение не доставлено: гражданин заблокировал бота или запретил "
                "сообщения. Ответ дойдёт, только если он напишет снова."
            )
            await self._note(event, text, Mark.UNREACHABLE)
        elif kind == EventKind.SLA_REMINDER:
            due = self._time(event.payload.get("due_at"))
            await self._note(event, f"⏰ Срок первого ответа — {due}. Ответьте гражданину.", None)
        elif kind == EventKind.SLA_MISSED:
            await self._sla_missed(event)

    # --- topics ---

    async def _in_topic(
        self,
        event: StoredEvent,
        then: Callable[[StoredEvent, TopicRef], Awaitable[None]] | None,
    ) -> None:
        """Make sure the conversation has its open topic with a card, then do ``then`` in
        it; a topic deleted by hand is created again (once per event)."""
        for _ in range(2):
            found = await self._topic(event)
            if found is None:
                return
            topic, digest = found
            try:
                if topic.closed:
                    await self._set_closed(event.conversation_id, topic, closed=False)
                if topic.card_event_id is None or (
                    event.kind == EventKind.REQUESTED and topic.card_event_id < event.id
                ):
                    await self._post_card(event, topic, digest)
                if then is not None:
                    await then(event, topic)
                return
            except ThreadGone:
                log.info(
                    "conversation %s: its topic was deleted; a new one", event.conversation_id
                )
                await self._forget_topic(event.conversation_id)
        raise TemporaryFailure("the topic disappeared twice in a row")

    async def _topic(self, event: StoredEvent) -> tuple[TopicRef, Digest | None] | None:
        """The conversation's topic, created when it has none (then with the digest its
        name was made from, for the card). None when the conversation has no topic and
        is no longer the operators' (a backlog of a request withdrawn or handed back
        before the operators could see it): there is nothing to show them."""
        async with self._sessions() as session:
            row = await _topic_row(session, event.conversation_id)
            if row is not None:
                return _ref(row), None
            status = await session.scalar(
                select(Conversation.status).where(Conversation.id == event.conversation_id)
            )
            if status not in (ConversationStatus.WAITING, ConversationStatus.WITH_OPERATOR):
                log.info(
                    "conversation %s: no longer with the operators; no topic",
                    event.conversation_id,
                )
                return None
            digest = await load_digest(session, event.conversation_id)
        group = self.groups.for_category(digest.category)
        name = topic_name(digest, initial_mark(digest))
        created = await self._call(group, lambda: self._bot.create_forum_topic(group, name))
        async with self._sessions.begin() as session:
            session.add(
                OperatorTopic(
                    conversation_id=event.conversation_id,
                    group_chat_id=str(group),
                    thread_id=created.message_thread_id,
                    name=name,
                )
            )
            await session.execute(
                update(HandoffCase)
                .where(
                    HandoffCase.conversation_id == event.conversation_id,
                    HandoffCase.ended_at.is_(None),
                )
                .values(group_chat_id=str(group))
            )
        log.info(
            "conversation %s: topic %s created", event.conversation_id, created.message_thread_id
        )
        return TopicRef(group, created.message_thread_id, name, None, None, False), digest

    async def _forget_topic(self, conversation_id: int) -> None:
        async with self._sessions.begin() as session:
            await session.execute(
                delete(OperatorTopic).where(OperatorTopic.conversation_id == conversation_id)
            )

    async def _update_topic(self, conversation_id: int, **values: object) -> None:
        async with self._sessions.begin() as session:
            await session.execute(
                update(OperatorTopic)
                .where(OperatorTopic.conversation_id == conversation_id)
                .values(updated_at=utcnow(), **values)
            )

    async def _post_card(self, event: StoredEvent, topic: TopicRef, digest: Digest | None) -> None:
        if digest is None:
            async with self._sessions() as session:
                digest = await load_digest(session, event.conversation_id)
        suggestions: list[tuple[int, str]] = []
        if self._suggest is not None and digest.question:
            try:
                suggestions = (await self._suggest(digest.question))[:SUGGESTIONS]
            except Exception as error:  # the card goes out without them
                log.warning("no FAQ suggestions for the card: %s", type(error).__name__)
        keyboard = card_keyboard(
            event.conversation_id, taken=await self._taken(event.conversation_id),
            suggestions=suggestions,
        )  # fmt: skip
        card = await self._send(topic, card_text(digest), keyboard)
        await self._update_topic(
            event.conversation_id, card_message_id=card, card_event_id=event.id
        )

    async def _rename(self, conversation_id: int, topic: TopicRef, mark: str) -> None:
        async with self._sessions() as session:
            digest = await load_digest(session, conversation_id)
        name = topic_name(digest, mark)
        if name == topic.name:
            return
        try:
            await self._call(
                topic.group,
                lambda: self._bot.edit_forum_topic(topic.group, topic.thread_id, name=name),
            )
        except TelegramBadRequest as error:
            if "TOPIC_NOT_MODIFIED" not in error.message:
                raise
        await self._update_topic(conversation_id, name=name)

    async def _set_closed(self, conversation_id: int, topic: TopicRef, *, closed: bool) -> None:
        call = self._bot.close_forum_topic if closed else self._bot.reopen_forum_topic
        try:
            await self._call(topic.group, lambda: call(topic.group, topic.thread_id), thread=True)
        except TelegramBadRequest as error:
            if "TOPIC_NOT_MODIFIED" not in error.message:
                raise
        await self._update_topic(conversation_id, closed_at=utcnow() if closed else None)

    async def _note(
        self,
        event: StoredEvent,
        text: str,
        mark: str | None,
        *,
        close: bool = False,
        taken: bool = False,
    ) -> None:
        """A service note in an existing topic (no topic: the operators never saw the
        conversation, and there is nothing to tell)."""
        async with self._sessions() as session:
            row = await _topic_row(session, event.conversation_id)
            if row is None:
                return
            topic = _ref(row)
        try:
            if text:
                await self._send(topic, text)
            if taken and topic.card_message_id is not None:
                await self._card_taken(event.conversation_id, topic)
            if mark is not None:
                await self._rename(event.conversation_id, topic, mark)
            if close and not topic.closed:
                await self._set_closed(event.conversation_id, topic, closed=True)
        except ThreadGone:
            await self._forget_topic(event.conversation_id)

    async def _card_taken(self, conversation_id: int, topic: TopicRef) -> None:
        """The card loses its «Взять» button once the conversation is someone's."""
        assert topic.card_message_id is not None
        message_id = topic.card_message_id
        try:
            await self._call(
                topic.group,
                lambda: self._bot.edit_message_reply_markup(
                    chat_id=topic.group,
                    message_id=message_id,
                    reply_markup=card_keyboard(conversation_id, taken=True),
                ),
            )
        except TelegramBadRequest as error:
            # Already edited (a repeated event), or the card was deleted by hand.
            log.info("card of conversation %s not edited: %s", conversation_id, error.message)

    async def _current_mark(self, conversation_id: int) -> str:
        return Mark.TAKEN if await self._taken(conversation_id) else Mark.WAITING

    async def _taken(self, conversation_id: int) -> bool:
        async with self._sessions() as session:
            status = await session.scalar(
                select(Conversation.status).where(Conversation.id == conversation_id)
            )
        return status == ConversationStatus.WITH_OPERATOR

    # --- relaying ---

    async def _relay_message(self, event: StoredEvent, topic: TopicRef) -> None:
        message_id = event.payload.get("message_id")
        async with self._sessions() as session:
            message = await session.get(Message, message_id) if message_id else None
        if message is None:
            return  # the message was deleted (the citizen asked to erase their data)
        kind = MessageKind(message.kind)
        posted: int | None = None
        if message.channel == Channel.TELEGRAM and kind not in (
            MessageKind.TEXT,
            MessageKind.COMMAND,
            MessageKind.BUTTON,
        ):
            source = _telegram_message_id(message.dedup_key)
            if source is not None:
                posted = await self._post(
                    topic, self._bot.copy_message, int(message.chat_id), source
                )
        if posted is None:
            posted = await self._relay_attachments(topic, kind, message)
        async with self._sessions.begin() as session:
            await session.execute(
                update(Message).where(Message.id == message.id).values(external_id=str(posted))
            )

    async def _relay_attachments(
        self, topic: TopicRef, kind: MessageKind, message: Message
    ) -> int:
        """A message from a channel whose files Telegram cannot copy (VK): the line of
        text, then each file posted as what it is. The first photo, document or voice
        message carries the line as its caption, so a retry after a failed post repeats
        no separate line; a file that cannot be fetched is shown by its link."""
        items = [a for a in message.attachments or () if isinstance(a, dict)]
        links = [
            f"{_ATTACHMENT_NAMES.get(str(a.get('type')), 'вложение')}: {a['url']}"
            for a in items
            if a.get("type") in ("video", "audio") and a.get("url")
        ]
        line = "\n".join([f"Гражданин: {describe(kind, message.text)}", *links])
        caption: str | None = line
        first: int | None = None
        captioned = any(a.get("type") in _CAPTIONED and a.get("url") for a in items)
        if not captioned or utf16_len(line) > CAPTION_LIMIT:
            first, caption = await self._send_long(topic, line), None
        for item in items:
            posted = await self._attachment(topic, item, caption)
            if posted is not None and caption is not None:
                first, caption = posted, None
        if first is None:  # nothing could carry the caption
            first = await self._send_long(topic, line)
        return first

    async def _send_long(self, topic: TopicRef, text: str) -> int:
        """Text of any length, in as many messages as it takes; the first one's id."""
        ids = [await self._send(topic, part) for part in split_text(text)]
        return ids[0]

    async def _attachment(
        self, topic: TopicRef, item: dict[str, Any], caption: str | None
    ) -> int | None:
        """One of a VK citizen's files in the topic; None when it is not posted (no file,
        or one that cannot be fetched: then its link is posted instead, with ``caption``)."""
        kind, url = item.get("type"), item.get("url")
        if kind == "geo":
            latitude, longitude = item.get("latitude"), item.get("longitude")
            if not isinstance(latitude, int | float) or not isinstance(longitude, int | float):
                return None
            return await self._post(
                topic, self._bot.send_location, float(latitude), float(longitude)
            )
        if kind not in _CAPTIONED or not isinstance(url, str):
            return None
        try:
            if kind in ("photo", "sticker"):  # Telegram fetches the image itself
                return await self._post(topic, self._bot.send_photo, url, caption=caption)
            data = await self._download(url)
            if kind == "doc":
                file = BufferedInputFile(data, filename=str(item.get("title") or "document"))
                return await self._post(topic, self._bot.send_document, file, caption=caption)
            file = BufferedInputFile(data, filename="voice.ogg")
            return await self._post(topic, self._bot.send_voice, file, caption=caption)
        except (DownloadFailed, TelegramBadRequest) as error:
            reason = error.message if isinstance(error, TelegramBadRequest) else str(error)
            log.info("a citizen's %s could not be posted: %s", kind, reason)
            note = f"{caption}\n" if caption else ""
            text = f"{note}({_ATTACHMENT_NAMES[kind]} не удалось переслать: {url})"
            return await self._send(topic, text)

    async def _download(self, url: str) -> bytes:
        """A citizen's file from VK's content servers, up to what a bot may upload."""
        chunks: list[bytes] = []
        size = 0
        try:
            async for chunk in self._bot.session.stream_content(
                url, timeout=DOWNLOAD_TIMEOUT, raise_for_status=True
            ):
                size += len(chunk)
                if size > UPLOAD_LIMIT:
                    raise DownloadFailed(f"larger than {UPLOAD_LIMIT // 1024**2} MB")
                chunks.append(chunk)
        except (OSError, TimeoutError, aiohttp.ClientError) as error:
            raise DownloadFailed(type(error).__name__) from error
        return b"".join(chunks)

    async def _relay_edit(self, event: StoredEvent) -> None:
        """The citizen's edit, as a reply to the message as the operators first saw it."""
        async with self._sessions() as session:
            row = await _topic_row(session, event.conversation_id)
            message = await session.get(Message, event.payload.get("message_id") or 0)
        if row is None:
            return
        topic = _ref(row)
        original = int(message.external_id) if message and message.external_id else None
        text = f"✏️ Гражданин исправил сообщение: {event.payload.get('text', '')}"
        try:
            for index, part in enumerate(split_text(text)):
                await self._send(topic, part, reply_to=original if index == 0 else None)
        except ThreadGone:
            await self._forget_topic(event.conversation_id)

    async def _sla_missed(self, event: StoredEvent) -> None:
        due = self._time(event.payload.get("due_at"))
        await self._note(event, f"⛔ Срок первого ответа ({due}) пропущен.", None)
        supervisors = self.groups.supervisors
        if supervisors is None:
            return
        async with self._sessions() as session:
            row = await _topic_row(session, event.conversation_id)
            digest = await load_digest(session, event.conversation_id)
        lines = [
            f"⛔ Пропущен срок первого ответа: обращение №{event.conversation_id}",
            f"Категория: {digest.category or 'не определена'}; срок был {due}.",
        ]
        if row is not None:
            lines.append(f"Тема: {topic_link(int(row.group_chat_id), row.thread_id)}")
        text = "\n".join(lines)
        await self._call(supervisors, lambda: self._bot.send_message(supervisors, text))

    def _time(self, value: Any) -> str:
        if not isinstance(value, str):
            return "—"
        moment = as_utc(datetime.fromisoformat(value)).astimezone(self._tz)
        today = utcnow().astimezone(self._tz).date()
        return f"{moment:%H:%M}" if moment.date() == today else f"{moment:%d.%m %H:%M}"

    # --- calls into a group ---

    async def _send(
        self,
        topic: TopicRef,
        text: str,
        markup: InlineKeyboardMarkup | None = None,
        *,
        reply_to: int | None = None,
    ) -> int:
        reply = (
            ReplyParameters(message_id=reply_to, allow_sending_without_reply=True)
            if reply_to
            else None
        )
        return await self._post(
            topic, self._bot.send_message, text, reply_markup=markup, reply_parameters=reply
        )

    async def _post(
        self, topic: TopicRef, method: Callable[..., Awaitable[Any]], *args: Any, **kwargs: Any
    ) -> int:
        """``method(group, *args, **kwargs)`` into ``topic``, paced; the message's id."""
        sent = await self._call(
            topic.group,
            lambda: method(topic.group, *args, message_thread_id=topic.thread_id, **kwargs),
            thread=True,
        )
        return int(sent.message_id)

    def _pacer(self, group: int) -> Pacer:
        if self._shared_pacer is not None:
            return self._shared_pacer
        pacer = self._pacers.get(group)
        if pacer is None:
            pacer = self._pacers[group] = Pacer(GROUP_RATE, window=GROUP_WINDOW)
        return pacer

    async def _call(
        self, group: int, call: Callable[[], Awaitable[T]], *, thread: bool = False
    ) -> T:
        """One call into a group, paced; a 429 is waited out and the call repeated."""
        while True:
            await self._pacer(group).wait()
            if self._bot_pacer is not None:
                await self._bot_pacer.wait()
            try:
                return await call()
            except TelegramRetryAfter as error:
                if error.retry_after > RETRY_AFTER_LIMIT:
                    raise TemporaryFailure(
                        f"Telegram asks to wait {error.retry_after} s"
                    ) from error
                log.info("operator group: 429, waiting %s s", error.retry_after)
                await asyncio.sleep(error.retry_after)
            except TelegramBadRequest as error:
                if thread and "thread not found" in error.message:
                    raise ThreadGone from error
                raise


def topic_link(group_chat_id: int, thread_id: int) -> str:
    """A link to a topic of a supergroup (members of the group can open it)."""
    internal = str(group_chat_id).removeprefix("-100")
    return f"https://t.me/c/{internal}/{thread_id}"


def _ref(row: OperatorTopic) -> TopicRef:
    return TopicRef(
        int(row.group_chat_id),
        row.thread_id,
        row.name,
        row.card_event_id,
        row.card_message_id,
        row.closed_at is not None,
    )


async def _topic_row(session: AsyncSession, conversation_id: int) -> OperatorTopic | None:
    return await session.scalar(
        select(OperatorTopic).where(OperatorTopic.conversation_id == conversation_id)
    )


def _telegram_message_id(dedup_key: str | None) -> int | None:
    """The citizen's message id in their chat, from the key ``<chat>:<message id>``."""
    if not dedup_key or ":" not in dedup_key:
        return None
    tail = dedup_key.rsplit(":", 1)[1]
    return int(tail) if tail.isdigit() else None
