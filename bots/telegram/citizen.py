"""The citizen router: private messages and button presses go to the conversation service
and its replies are sent back. Group chats belong to the operator router (a later issue)."""

from __future__ import annotations

import logging

from aiogram import F, Router
from aiogram.enums import ChatType
from aiogram.exceptions import TelegramAPIError
from aiogram.types import CallbackQuery, Message

from bots.conversation import ConversationHandler
from bots.telegram.mappers import map_callback, map_message
from bots.telegram.sender import ReplySender

logger = logging.getLogger(__name__)


def build_citizen_router() -> Router:
    router = Router(name=__name__)
    router.message.register(answer_message, F.chat.type == ChatType.PRIVATE)
    router.callback_query.register(answer_button, F.message.chat.type == ChatType.PRIVATE)
    return router


async def answer_message(
    message: Message, service: ConversationHandler, sender: ReplySender
) -> None:
    incoming = map_message(message)
    if incoming is None:
        return
    await sender.send_all(await service.handle(incoming))


async def answer_button(
    callback: CallbackQuery, service: ConversationHandler, sender: ReplySender
) -> None:
    try:
        # Answer first so the client's spinner stops even if the service is slow.
        await callback.answer()
    except TelegramAPIError as error:
        logger.warning("Callback query %s not answered: %s", callback.id, error)
    incoming = map_callback(callback)
    if incoming is None:
        return
    await sender.send_all(await service.handle(incoming))
