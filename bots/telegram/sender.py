"""Sending a reply's parts with the Bot API, and telling the outbox what Telegram
answered: wait (429), try later (network, 5xx), or never (blocked, refused)."""

from __future__ import annotations

import logging
from typing import Any

from aiogram import Bot
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramAPIError,
    TelegramBadRequest,
    TelegramEntityTooLarge,
    TelegramForbiddenError,
    TelegramNotFound,
    TelegramRetryAfter,
)
from aiogram.types import InlineKeyboardMarkup

from bots.outbox import RetryAfter, Unavailable, Undeliverable
from bots.telegram.keyboards import CallbackDataError, build_keyboard
from bots.text import split_text
from core.domain import Channel, DeliveryStatus, Reply

logger = logging.getLogger(__name__)


class TelegramTransport:
    """The outbox's way of sending to Telegram: plain text (no markup to break), the
    buttons under the last part."""

    channel = Channel.TELEGRAM

    def __init__(self, bot: Bot) -> None:
        self._bot = bot

    def split(self, reply: Reply) -> list[str]:
        if _copied(reply) is not None:
            return [reply.text]  # media with its caption: one message
        return split_text(reply.text)

    async def send_part(self, reply: Reply, index: int, text: str, last: bool) -> str | None:
        chat_id = int(reply.chat_id) if reply.chat_id.lstrip("-").isdigit() else reply.chat_id
        markup = self._keyboard(reply) if last else None
        source = _copied(reply)
        try:
            if source is not None:
                # An operator's photo, document, voice…: copied from the operator group,
                # without the operator's name.
                copied = await self._bot.copy_message(
                    chat_id, source["chat_id"], source["message_id"], reply_markup=markup
                )
                return str(copied.message_id)
            sent = await self._bot.send_message(
                chat_id, text, parse_mode=None, reply_markup=markup
            )
        except TelegramRetryAfter as error:
            wait = error.retry_after
            raise RetryAfter(wait, f"rate limited: retry after {wait}") from error
        except TelegramForbiddenError as error:
            raise Undeliverable(DeliveryStatus.BLOCKED, error.message) from error
        except (TelegramEntityTooLarge, TelegramBadRequest, TelegramNotFound) as error:
            raise Undeliverable(DeliveryStatus.FAILED, error.message) from error
        except TelegramAPIError as error:
            # 5xx, a network failure, a revoked token: the reply waits for Telegram
            # (and for whoever runs the service).
            raise Unavailable(f"{type(error).__name__}: {error.message}") from error
        except ClientDecodeError as error:  # an answer that is not the Bot API's JSON
            raise Unavailable(type(error).__name__) from error
        return str(sent.message_id)

    def _keyboard(self, reply: Reply) -> InlineKeyboardMarkup | None:
        try:
            return build_keyboard(reply.buttons)
        except CallbackDataError:
            # The citizen still gets the text; the broken button is a bug to fix upstream.
            logger.exception("Buttons of reply %s dropped", reply.outbox_id)
            return None


def _copied(reply: Reply) -> dict[str, Any] | None:
    """The operator group's message a reply copies, if it is one."""
    for item in reply.attachments:
        if (
            item.get("type") == "telegram_message"
            and item.get("chat_id")
            and item.get("message_id")
        ):
            return item
    return None
