"""The citizen router: private messages and button presses go to the conversation service,
which stores its replies in the outbox; the outbox is woken to send them; an edited
message is passed on to the operators. Group chats belong to the operator router."""

from __future__ import annotations

import logging

from aiogram import F, Router
from aiogram.enums import ChatType
from aiogram.exceptions import TelegramAPIError
from aiogram.types import CallbackQuery, Message

from bots.conversation import ConversationHandler
from bots.outbox import OutboxSender
from bots.telegram.mappers import map_callback, map_message
from core.domain import IncomingMessage

logger = logging.getLogger(__name__)


def build_citizen_router() -> Router:
    router = Router(name=__name__)
    router.message.register(answer_message, F.chat.type == ChatType.PRIVATE)
    router.callback_query.register(answer_button, F.message.chat.type == ChatType.PRIVATE)
    router.edited_message.register(pass_on_edit, F.chat.type == ChatType.PRIVATE)
    return router


async def pass_on_edit(message: Message, service: ConversationHandler) -> None:
    """An edit reaches the operators when they have the conversation; the bot does not
    answer an edited message again."""
    incoming = map_message(message)
    if incoming is not None:
        await service.edit(incoming)


async def answer_message(
    message: Message, service: ConversationHandler, outbox: OutboxSender
) -> None:
    await _turn(map_message(message), service, outbox)


async def answer_button(
    callback: CallbackQuery, service: ConversationHandler, outbox: OutboxSender
) -> None:
    try:
        # Answer first so the client's spinner stops even if the service is slow.
        await callback.answer()
    except TelegramAPIError as error:
        logger.info("Callback query %s not answered: %s", callback.id, type(error).__name__)
    await _turn(map_callback(callback), service, outbox)


async def _turn(
    incoming: IncomingMessage | None, service: ConversationHandler, outbox: OutboxSender
) -> None:
    if incoming is None:
        return
    if await service.handle(incoming):
        outbox.wake(incoming.chat_id)
