"""Sending a reply's parts with ``POST /messages``, and telling the outbox what MAX
answered.

MAX has no idempotency key for a message: like Telegram, a part whose answer was lost
may be sent twice after a crash (the outbox records each part as soon as it is sent, so
the window is one request). A reply goes to the citizen's dialog by ``user_id``; its
buttons ride on the last part as an inline keyboard.

An operator's photo or file (the operators work in Telegram: the reply carries the
``telegram_message`` it came from) is downloaded from Telegram, uploaded to MAX (a photo
as an image, anything else as a file) and sent with the first part. A location and a
contact are written out; what cannot be passed becomes a note under the text.
"""

from __future__ import annotations

import logging

import aiohttp
from maxapi import Bot
from maxapi.enums.upload_type import UploadType
from maxapi.exceptions.max import InvalidToken, MaxApiError, MaxConnection, MaxUploadFileFailed
from maxapi.types.input_media import InputMediaBuffer

from bots.max.keyboards import build_keyboard
from bots.operator_files import (
    MEDIA_NAMES,
    NOT_PASSED,
    Download,
    OperatorMedia,
    media_note,
    operator_file,
    operator_media,
    with_note,
)
from bots.outbox import RetryAfter, Unavailable, Undeliverable
from bots.raw import clean_text
from bots.text import MAX_TEXT_LIMIT, split_text
from core.domain import Channel, DeliveryStatus, MessageKind, Reply

log = logging.getLogger(__name__)

PARTS_PER_REPLY = 64
# MAX answers 429 past about 30 requests a second; it gives no time to wait.
RATE_LIMIT_PAUSE = 1.0
TRANSIENT_ERRORS = (aiohttp.ClientError, TimeoutError, MaxConnection, InvalidToken)
UPLOADED = {
    MessageKind.PHOTO: UploadType.IMAGE,
    MessageKind.DOCUMENT: UploadType.FILE,
    MessageKind.VOICE: UploadType.FILE,
    MessageKind.VIDEO: UploadType.FILE,
    MessageKind.VIDEO_NOTE: UploadType.FILE,
    MessageKind.AUDIO: UploadType.FILE,
}
NOT_SHOWN = "(Оператор отправил {what}; в MAX это не показать.)"


class MaxTransport:
    """The outbox's way of sending to MAX.

    Args:
        bot: The MAX client.
        download: Gets an operator's file from Telegram (`TelegramFiles.download`);
            without it an operator's photo or file reaches the citizen as a note that
            it could not be passed.
    """

    channel = Channel.MAX

    def __init__(self, bot: Bot, *, download: Download | None = None) -> None:
        self._bot = bot
        self._download = download

    def split(self, reply: Reply) -> list[str]:
        if not reply.chat_id.isdigit():
            return []
        text = clean_text(reply.text)
        media = operator_media(reply)
        if media is not None:
            text = with_note(text, self._note(media))
        parts = split_text(text, MAX_TEXT_LIMIT, length=len)
        if media is not None and self._sends_file(media) and not parts:
            parts = [""]  # a photo without a caption
        return parts[:PARTS_PER_REPLY]

    def _sends_file(self, media: OperatorMedia) -> bool:
        return media.kind in UPLOADED and self._download is not None

    def _note(self, media: OperatorMedia) -> str:
        """What the citizen reads in place of what MAX does not get."""
        if media.kind in UPLOADED and self._download is None:
            log.error("MAX: no way to download operators' files from Telegram; a %s is "
                      "sent as a note", media.kind.value)  # fmt: skip
            return NOT_PASSED.format(what=MEDIA_NAMES[media.kind])
        return media_note(media, passed=media.kind in UPLOADED, not_shown=NOT_SHOWN)

    async def send_part(self, reply: Reply, index: int, text: str, last: bool) -> str | None:
        user_id = int(reply.chat_id)
        attachments: list = []
        media = operator_media(reply) if index == 0 else None
        if media is not None and self._download is not None and media.kind in UPLOADED:
            uploaded = await self._upload(media, self._download)
            if uploaded is None:
                text = with_note(text, NOT_PASSED.format(what=MEDIA_NAMES[media.kind]))
            else:
                attachments.append(uploaded)
        keyboard = build_keyboard(reply.buttons) if last else None
        if keyboard is not None:
            attachments.append(keyboard)
        try:
            sent = await self._bot.send_message(
                user_id=user_id, text=text or None, attachments=attachments or None
            )
        except MaxApiError as error:
            raise _classified(error) from error
        except TRANSIENT_ERRORS as error:
            raise Unavailable(f"MAX unreachable: {type(error).__name__}") from error
        if sent is None:
            return None
        return sent.message.body.mid

    async def _upload(self, media: OperatorMedia, download: Download) -> object | None:
        """The operator's file uploaded to MAX; None when it can never be sent (then
        the citizen is told so)."""
        data = await operator_file(media, download)
        if data is None:
            return None
        name = "photo.jpg" if media.kind is MessageKind.PHOTO else media.title
        try:
            return await self._bot.upload_media(
                InputMediaBuffer(buffer=data, filename=name, type=UPLOADED[media.kind])
            )
        except MaxApiError as error:
            refusal = _classified(error)
            if isinstance(refusal, Undeliverable):
                log.warning("MAX refused an operator's %s: %s", media.kind.value, refusal)
                return None
            raise refusal from error
        except MaxUploadFileFailed as error:
            raise Unavailable(f"MAX upload failed: {error}") from error
        except TRANSIENT_ERRORS as error:
            raise Unavailable(f"MAX upload failed: {type(error).__name__}") from error


def _classified(error: MaxApiError) -> Exception:
    raw = error.raw if isinstance(error.raw, dict) else {}
    code = raw.get("code") if isinstance(raw.get("code"), str) else ""
    reason = f"MAX error {error.code}: {code or 'no code'}"
    if error.code == 429:
        return RetryAfter(RATE_LIMIT_PAUSE, reason)
    if error.code >= 500:
        return Unavailable(reason)
    if error.code == 403 or code in ("chat.denied", "user.blocked"):
        return Undeliverable(DeliveryStatus.BLOCKED, reason)
    if error.code == 401:
        return Unavailable(reason)
    return Undeliverable(DeliveryStatus.FAILED, reason)
