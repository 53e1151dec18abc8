"""Sending a reply's parts with ``messages.send``, and telling the outbox what VK
answered. Each part has a fixed ``random_id``, so a part sent again after a crash or a
lost answer is dropped by VK (within VK's deduplication window).

An operator's photo, document, voice message, video or audio (the operators work in
Telegram: the reply carries the ``telegram_message`` it came from) is downloaded from
Telegram, uploaded to VK (a voice message as VK's own, a video or audio as a document)
and sent with its caption in the first part. A resend uploads it again, but the fixed
``random_id`` still lets VK drop the second message. A location goes as VK's map point
(``lat``/``long``) with its coordinates written out; a contact is written out; what VK
cannot show (a sticker) becomes a note under the caption.
"""

from __future__ import annotations

import logging

import aiohttp
from vkbottle import VKAPIError
from vkbottle.api import ABCAPI
from vkbottle.tools import DocMessagesUploader, PhotoMessageUploader, VoiceMessageUploader

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
from bots.text import VK_TEXT_LIMIT, split_text
from bots.vk.client import VkUnavailable
from bots.vk.keyboards import build_keyboard
from core.domain import Channel, DeliveryStatus, MessageKind, Reply

log = logging.getLogger(__name__)

RATE_LIMITED = 6
FLOOD_CONTROL = 9  # too many similar messages: VK asks for a longer pause
SERVER_ERROR = 10
# 7: no permission; 901: the citizen has not allowed messages; 902: privacy settings.
BLOCKED_CODES = frozenset({7, 901, 902})
TRANSIENT_ERRORS = (aiohttp.ClientError, TimeoutError, VkUnavailable)
PARTS_PER_REPLY = 64
RANDOM_ID_SPACE = 2**31

# Kinds of an operator's message sent to VK as a file, and how VK takes them.
UPLOADED = {
    MessageKind.PHOTO: "photo",
    MessageKind.DOCUMENT: "doc",
    MessageKind.VOICE: "audio_message",
    MessageKind.VIDEO: "doc",
    MessageKind.VIDEO_NOTE: "doc",
    MessageKind.AUDIO: "doc",
}
NOT_SHOWN = "(Оператор отправил {what}; во ВКонтакте это не показать.)"


def random_id_for(outbox_id: int, part: int) -> int:
    """The same reply part always gets the same ``random_id``, so VK drops a resend.

    Unique for the first 33 million outbox rows, far beyond VK's deduplication window.
    """
    return (outbox_id * PARTS_PER_REPLY + part) % (RANDOM_ID_SPACE - 1) + 1


class VkTransport:
    """The outbox's way of sending to VK.

    Args:
        api: The VK API.
        download: Gets an operator's file from Telegram (`TelegramFiles.download`);
            without it an operator's photo or document reaches the citizen as a note
            that it could not be passed.
    """

    channel = Channel.VK

    def __init__(self, api: ABCAPI, *, download: Download | None = None) -> None:
        self._api = api
        self._download = download

    def split(self, reply: Reply) -> list[str]:
        if not reply.chat_id.lstrip("-").isdigit():
            return []
        text = clean_text(reply.text)
        media = operator_media(reply)
        if media is not None:
            text = with_note(text, self._note(media))
        parts = split_text(text, VK_TEXT_LIMIT, length=len)
        if media is not None and UPLOADED.get(media.kind) is not None and not parts:
            parts = [""]  # a photo without a caption
        return parts[:PARTS_PER_REPLY]

    def _note(self, media: OperatorMedia) -> str:
        """What the citizen reads in place of what VK does not get."""
        if media.kind in UPLOADED and self._download is None:
            log.error("VK: no way to download operators' files from Telegram; a %s is "
                      "sent as a note", media.kind.value)  # fmt: skip
            return NOT_PASSED.format(what=MEDIA_NAMES[media.kind])
        return media_note(media, passed=media.kind in UPLOADED, not_shown=NOT_SHOWN)

    async def send_part(self, reply: Reply, index: int, text: str, last: bool) -> str | None:
        assert reply.outbox_id is not None, "only stored replies are sent"
        peer_id = int(reply.chat_id)
        attachment = None
        media = operator_media(reply) if index == 0 else None
        uploaded = media is not None and media.kind in UPLOADED
        if media is not None and uploaded and self._download is not None:
            attachment = await self._attachment(peer_id, media, self._download)
            if attachment is None:
                text = with_note(text, NOT_PASSED.format(what=MEDIA_NAMES[media.kind]))
        point = media.point if media is not None else None
        try:
            message_id = await self._api.messages.send(
                peer_id=peer_id,
                random_id=random_id_for(reply.outbox_id, index),
                message=text,
                attachment=attachment,
                keyboard=build_keyboard(reply.buttons) if last else None,
                lat=point[0] if point else None,
                long=point[1] if point else None,
            )
        except VKAPIError as error:
            raise _classified(error) from error
        except TRANSIENT_ERRORS as error:
            raise Unavailable(f"VK unreachable: {type(error).__name__}") from error
        return str(message_id)

    async def _attachment(
        self, peer_id: int, media: OperatorMedia, download: Download
    ) -> str | None:
        """The operator's file uploaded to VK (``photo<owner>_<id>_<key>``); None when it
        can never be sent (then the citizen is told so)."""
        data = await operator_file(media, download)
        if data is None:
            return None
        try:
            if UPLOADED.get(media.kind) == "photo":
                return await PhotoMessageUploader(self._api).upload(data, peer_id=peer_id)
            if UPLOADED.get(media.kind) == "audio_message":
                saved = await VoiceMessageUploader(self._api).raw_upload(
                    data, peer_id=peer_id, title=media.title
                )
                # A voice message is sent as the document it is: doc<owner>_<id>_<key>.
                voice = saved["audio_message"]
                return VoiceMessageUploader.generate_attachment_string(
                    "doc", voice["owner_id"], voice["id"], voice.get("access_key")
                )
            return await DocMessagesUploader(self._api).upload(
                data, peer_id=peer_id, title=media.title
            )
        except VKAPIError as error:
            refusal = _classified(error)
            if isinstance(refusal, Undeliverable) and refusal.status is DeliveryStatus.FAILED:
                log.warning("VK refused an operator's %s: %s", media.kind.value, refusal)
                return None
            raise refusal from error
        except TRANSIENT_ERRORS as error:
            raise Unavailable(f"VK upload failed: {type(error).__name__}") from error
        except (ValueError, LookupError, TypeError) as error:
            # The upload server answered what VK's does not (an error page, not JSON).
            raise Unavailable(f"VK upload answered oddly: {type(error).__name__}") from error


def _classified(error: VKAPIError) -> Exception:
    reason = f"VK error {error.code}: {error.error_msg}"
    if error.code == RATE_LIMITED:
        return RetryAfter(1.0, reason)
    if error.code == FLOOD_CONTROL:
        return RetryAfter(30.0, reason)
    if error.code == SERVER_ERROR:
        return Unavailable(reason)
    if error.code in BLOCKED_CODES:
        return Undeliverable(DeliveryStatus.BLOCKED, reason)
    return Undeliverable(DeliveryStatus.FAILED, reason)
