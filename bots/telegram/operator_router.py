"""The operator router: what operators do in the operator groups' topics.

A message in a conversation's topic goes to the citizen on the citizen's own channel,
unless it starts with ``!`` or ``/note`` (an internal note, for colleagues only). The
card's buttons take the conversation, hand it back to the bot, close it or send an FAQ
answer. Commands: ``/t`` lists the reply templates and ``/t name`` sends one; ``/ban``
and ``/unban`` stop and restore a spammer's messages. Only members of the group may do
any of this (``getChatMember``, remembered for a few minutes); operator commands in any
other chat are refused.

Group updates reach this router through the inbox like every other update, in order,
one group at a time, so a burst of operator replies reaches the citizen in order.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from aiogram import Bot, F, Router
from aiogram.enums import ChatMemberStatus
from aiogram.exceptions import TelegramAPIError
from aiogram.types import CallbackQuery, Message, User

from bots.conversation import OPERATOR_COMMANDS
from bots.telegram.mappers import message_content
from bots.telegram.operators import CLOSE, FAQ, RETURN, TAKE
from core.domain import MessageKind, Reply
from handoff.operators import (
    ActionResult,
    Operator,
    OperatorContent,
    OperatorService,
    Outcome,
    render_template,
)
from nlu import texts

log = logging.getLogger(__name__)

MEMBER_STATUSES = frozenset(
    {ChatMemberStatus.CREATOR, ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.MEMBER}
)
_COMMAND = re.compile(r"^/([A-Za-z]+)(?:@\w+)?(?:\s+(.*))?$", re.DOTALL)

Wake = Callable[[Reply], None]


class MemberCheck:
    """Whether a user is a member of an operator group, asked with ``getChatMember``
    and remembered for ``ttl`` seconds."""

    def __init__(self, bot: Bot, ttl: float = 300.0) -> None:
        self._bot = bot
        self._ttl = ttl
        self._known: dict[tuple[int, int], tuple[bool, float]] = {}

    async def allowed(self, group: int, user_id: int) -> bool:
        key = (group, user_id)
        known = self._known.get(key)
        if known is not None and known[1] > time.monotonic():
            return known[0]
        try:
            member = await self._bot.get_chat_member(group, user_id)
        except TelegramAPIError as error:
            log.warning("membership of an operator not checked: %s", type(error).__name__)
            return False
        allowed = member.status in MEMBER_STATUSES or (
            member.status == ChatMemberStatus.RESTRICTED and getattr(member, "is_member", False)
        )
        self._known[key] = (allowed, time.monotonic() + self._ttl)
        return allowed


@dataclass(frozen=True, slots=True)
class OperatorDeps:
    """What the operator router's handlers get from the dispatcher."""

    groups: frozenset[int]
    service: OperatorService
    members: MemberCheck
    wake: Wake
    faq_answer: Callable[[int], str | None]  # an FAQ entry's answer by id


def build_operator_router(groups: frozenset[int]) -> Router:
    router = Router(name=__name__)
    router.message.register(operator_message, F.chat.id.in_(groups))
    router.callback_query.register(operator_button, F.message.chat.id.in_(groups))
    router.edited_message.register(ignore, F.chat.id.in_(groups))
    router.message.register(refuse_elsewhere, F.chat.type != "private")
    return router


async def ignore(message: Message) -> None:
    """Operators' edits are not relayed: the citizen already has the message."""


async def refuse_elsewhere(message: Message) -> None:
    """A group that is not an operator group: only operator commands get an answer."""
    match = _COMMAND.match(message.text or "")
    if match and match.group(1).lower() in OPERATOR_COMMANDS:
        try:
            await message.reply(texts.OPERATOR_ONLY)
        except TelegramAPIError as error:
            log.info("refusal not sent: %s", type(error).__name__)


def _operator(user: User) -> Operator:
    return Operator(str(user.id), user.full_name)


async def operator_message(message: Message, operators: OperatorDeps) -> None:
    user = message.from_user
    if user is None or user.is_bot:
        return
    text = message.text or message.caption or ""
    if text.startswith("!"):
        return  # an internal note
    match = _COMMAND.match(message.text or "")
    command = match.group(1).lower() if match else None
    if command == "note":
        return
    thread = message.message_thread_id if message.is_topic_message else None
    conversation = (
        await operators.service.conversation_of_topic(message.chat.id, thread)
        if thread is not None
        else None
    )
    if conversation is None:
        if command in OPERATOR_COMMANDS:
            await _answer(message, "Команды операторов работают в теме обращения.")
        return
    if not await operators.members.allowed(message.chat.id, user.id):
        log.info("a non-member wrote in an operator group; ignored")
        return
    operator = _operator(user)
    if command == "t":
        await _template(
            message, operators, conversation, operator, (match and match.group(2)) or ""
        )
        return
    if command in ("ban", "unban"):
        result = await operators.service.set_ban(conversation, operator, command == "ban")
        if result.outcome is Outcome.ALREADY:
            state = "уже заблокирован" if command == "ban" else "не заблокирован"
            await operators.service.notice(conversation, f"Гражданин {state}.")
        return
    content = _operator_content(message)
    result = await operators.service.send(conversation, operator, content)
    _after(result, operators)
    if result.outcome is Outcome.NOT_HERE:
        await operators.service.notice(
            conversation,
            "⚠️ Сообщение не отправлено: обращение закрыто или возвращено боту. Гражданин "
            "получит ответ оператора, когда снова попросит оператора.",
        )


async def _template(
    message: Message,
    operators: OperatorDeps,
    conversation: int,
    operator: Operator,
    name: str,
) -> None:
    templates = await operators.service.templates()
    name = name.strip()
    if not name:
        if templates:
            lines = ["Шаблоны ответов (отправить: /t имя):"]
            lines += [f"• {t.name} — {_preview(t.text)}" for t in templates]
        else:
            lines = [
                "Шаблонов пока нет. Их добавляет администратор: djinn operators template-add."
            ]
        await operators.service.notice(conversation, "\n".join(lines))
        return
    template = next((t for t in templates if t.name.casefold() == name.casefold()), None)
    if template is None:
        known = ", ".join(t.name for t in templates) or "нет ни одного"
        await operators.service.notice(
            conversation, f"Шаблона «{name}» нет. Есть: {known}. Список: /t"
        )
        return
    citizen = await operators.service.citizen_name(conversation)
    text = render_template(template.text, name=citizen, number=conversation)
    content = OperatorContent(f"{message.chat.id}:{message.message_id}", MessageKind.TEXT, text)
    result = await operators.service.send(conversation, operator, content)
    _after(result, operators)


async def operator_button(callback: CallbackQuery, operators: OperatorDeps) -> None:
    message = callback.message
    if message is None or callback.data is None:
        return
    action, _, rest = callback.data.partition(":")
    conversation_text, _, entry_text = rest.partition(":")
    if action not in (TAKE, RETURN, CLOSE, FAQ) or not conversation_text.isdigit():
        await _alert(callback, "Эта кнопка больше не действует.")
        return
    if not await operators.members.allowed(message.chat.id, callback.from_user.id):
        await _alert(callback, "Работать с обращениями могут только участники группы операторов.")
        return
    conversation = int(conversation_text)
    operator = _operator(callback.from_user)
    service = operators.service
    if action == TAKE:
        result = await service.take(conversation, operator)
        answers = {
            Outcome.DONE: "Обращение ваше.",
            Outcome.ALREADY: "Обращение уже ваше.",
            Outcome.TAKEN_BY_OTHER: f"Обращение уже взял(а) {result.holder}.",
        }
    elif action == RETURN:
        result = await service.return_to_bot(conversation, operator)
        answers = {Outcome.DONE: "Обращение возвращено боту."}
    elif action == CLOSE:
        result = await service.close(conversation, operator)
        answers = {Outcome.DONE: "Обращение закрыто."}
    else:
        answer = operators.faq_answer(int(entry_text)) if entry_text.isdigit() else None
        if answer is None:
            await _alert(callback, "Этой записи FAQ больше нет.")
            return
        content = OperatorContent(f"cb:{callback.id}", MessageKind.TEXT, answer)
        result = await service.send(conversation, operator, content)
        answers = {
            Outcome.DONE: "Ответ из FAQ отправлен гражданину.",
            Outcome.ALREADY: "Этот ответ уже отправлен.",
        }
    _after(result, operators)
    default = {
        Outcome.NOT_HERE: "Обращение уже не у операторов (закрыто или у бота).",
        Outcome.UNKNOWN: "Обращение не найдено.",
    }
    text = answers.get(result.outcome) or default.get(result.outcome, "Готово.")
    await _alert(callback, text, show=result.outcome is not Outcome.DONE)


def _after(result: ActionResult, operators: OperatorDeps) -> None:
    for reply in result.replies:
        operators.wake(reply)


def _operator_content(message: Message) -> OperatorContent:
    kind, text, attachments = message_content(message)
    key = f"{message.chat.id}:{message.message_id}"
    if kind in (MessageKind.TEXT, MessageKind.OTHER) and not attachments:
        return OperatorContent(key, MessageKind.TEXT, text)
    source = {
        "type": "telegram_message",
        "chat_id": message.chat.id,
        "message_id": message.message_id,
        "kind": kind.value,
    }
    if attachments:
        source |= {k: v for k, v in attachments[0].items() if k != "type"}
    return OperatorContent(key, kind, text, (source,))


def _preview(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= 60 else text[:59] + "…"


async def _answer(message: Message, text: str) -> None:
    try:
        await message.reply(text)
    except TelegramAPIError as error:
        log.info("answer not sent: %s", type(error).__name__)


async def _alert(callback: CallbackQuery, text: str, *, show: bool = False) -> None:
    try:
        await callback.answer(text, show_alert=show)
    except TelegramAPIError as error:
        log.info("callback %s not answered: %s", callback.id, type(error).__name__)
