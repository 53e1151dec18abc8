"""Operators' media for channels other than Telegram: the operators work in a Telegram
group, so a photo or document they send to a VK, MAX or website citizen is taken from
the Bot API (`TelegramFiles`, `operator_downloads`, `operator_file`) and passed on in the
citizen's channel; `operator_media` reads what a reply carries of it, and `media_note`
is what the citizen reads in place of what the channel cannot pass on."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramBadRequest, TelegramEntityTooLarge, TelegramRetryAfter

from bots.outbox import DeliveryError, RetryAfter, Unavailable
from core.domain import MessageKind, Reply
from core.settings import Settings

log = logging.getLogger(__name__)

DOWNLOAD_TIMEOUT = 60
# Kinds of an operator's message that carry a file to pass on.
FILE_KINDS = frozenset(
    {
        MessageKind.PHOTO,
        MessageKind.DOCUMENT,
        MessageKind.VOICE,
        MessageKind.VIDEO,
        MessageKind.VIDEO_NOTE,
        MessageKind.AUDIO,
    }
)
# What an operator's attachment is called where a channel cannot show or pass it on.
MEDIA_NAMES = {
    MessageKind.PHOTO: "фото",
    MessageKind.DOCUMENT: "файл",
    MessageKind.VIDEO: "видео",
    MessageKind.VIDEO_NOTE: "видеосообщение",
    MessageKind.VOICE: "голосовое сообщение",
    MessageKind.AUDIO: "аудиозапись",
    MessageKind.STICKER: "стикер",
}
# Under the text when a file the channel takes could not be had or uploaded.
NOT_PASSED = "(Оператор отправил {what}, но передать его сюда не удалось.)"
# The name a file without one gets (its extension tells the channel what it is).
DEFAULT_TITLES = {
    MessageKind.DOCUMENT: "документ",
    MessageKind.VOICE: "voice.ogg",
    MessageKind.VIDEO: "видео.mp4",
    MessageKind.VIDEO_NOTE: "видеосообщение.mp4",
    MessageKind.AUDIO: "аудио.mp3",
}

# A Telegram file id → the file's bytes. Raises `FileUnavailable` when the file can
# never be had, `bots.outbox.RetryAfter` to be asked again later; any other error is
# taken for a passing failure.
Download = Callable[[str], Awaitable[bytes]]


class FileUnavailable(Exception):
    """The file can never be had (Telegram refused its id, or it is too big for a bot)."""


class TelegramFiles:
    """Operators' files from the Bot API, for replies in other channels: `download` is
    their transports' ``download``. Close it with `close`."""

    def __init__(self, bot: Bot) -> None:
        self._bot = bot

    @classmethod
    def from_settings(cls, settings: Settings) -> TelegramFiles | None:
        """A downloader with its own HTTP session; None without TELEGRAM_BOT_TOKEN."""
        if settings.telegram_bot_token is None:
            return None
        session = AiohttpSession(api=TelegramAPIServer.from_base(settings.telegram_api_url))
        return cls(Bot(settings.telegram_bot_token.get_secret_value(), session=session))

    async def download(self, file_id: str) -> bytes:
        try:
            found = await self._bot.get_file(file_id)
            if not found.file_path:
                raise FileUnavailable("Telegram gives no path to the file (over 20 MB)")
            content = await self._bot.download_file(found.file_path, timeout=DOWNLOAD_TIMEOUT)
        except TelegramRetryAfter as error:
            raise RetryAfter(error.retry_after, "Telegram: rate limited") from error
        except (TelegramBadRequest, TelegramEntityTooLarge) as error:
            raise FileUnavailable(error.message) from error
        assert content is not None
        return content.read()

    async def close(self) -> None:
        await self._bot.session.close()


@contextlib.asynccontextmanager
async def operator_downloads(settings: Settings) -> AsyncIterator[Download | None]:
    """How a channel other than Telegram gets operators' files (`TelegramFiles.download`),
    its HTTP session closed on exit; None without TELEGRAM_BOT_TOKEN (then an operator's
    file reaches the citizen as a note that it could not be passed)."""
    files = TelegramFiles.from_settings(settings)
    if files is None:
        yield None
        return
    try:
        yield files.download
    finally:
        await files.close()


@dataclass(frozen=True, slots=True)
class OperatorMedia:
    """An operator's media message a reply carries (``telegram_message``)."""

    kind: MessageKind
    source: dict[str, Any]

    @property
    def file_id(self) -> str:
        return str(self.source.get("file_id") or "")

    @property
    def title(self) -> str:
        name = self.source.get("file_name")
        if isinstance(name, str) and name.strip():
            return name
        return DEFAULT_TITLES.get(self.kind, "файл")

    @property
    def point(self) -> tuple[float, float] | None:
        """A location's latitude and longitude, when it is a valid one."""
        if self.kind is not MessageKind.LOCATION:
            return None
        latitude, longitude = self.source.get("latitude"), self.source.get("longitude")
        if not isinstance(latitude, int | float) or not isinstance(longitude, int | float):
            return None
        if abs(latitude) > 90 or abs(longitude) > 180:
            return None
        return float(latitude), float(longitude)

    @property
    def location(self) -> str:
        latitude, longitude = self.source.get("latitude"), self.source.get("longitude")
        if isinstance(latitude, int | float) and isinstance(longitude, int | float):
            return f"{latitude:.6f}, {longitude:.6f}"
        return "координаты не указаны"

    @property
    def contact(self) -> str:
        name = self.source.get("first_name")
        phone = self.source.get("phone_number")
        return ", ".join(str(part) for part in (name, phone) if part) or "без данных"


def operator_media(reply: Reply) -> OperatorMedia | None:
    for item in reply.attachments:
        if item.get("type") != "telegram_message":
            continue
        try:
            kind = MessageKind(str(item.get("kind")))
        except ValueError:
            kind = MessageKind.OTHER
        if kind in FILE_KINDS and not item.get("file_id"):
            kind = MessageKind.OTHER
        return OperatorMedia(kind, item)
    return None


def media_note(media: OperatorMedia, *, passed: bool, not_shown: str) -> str:
    """What the citizen reads under the text in place of an operator's media: a location
    or a contact written out; nothing when the channel passes the media on (``passed``);
    else ``not_shown`` with the media's name for ``{what}``."""
    if media.kind is MessageKind.LOCATION:
        return f"📍 Оператор отправил точку на карте: {media.location}"
    if media.kind is MessageKind.CONTACT:
        return f"📇 Оператор отправил контакт: {media.contact}"
    if passed:
        return ""
    return not_shown.format(what=MEDIA_NAMES.get(media.kind, "вложение"))


def with_note(text: str, note: str) -> str:
    """``note`` under ``text``, either of them possibly empty."""
    return "\n\n".join(part for part in (text.strip(), note) if part)


async def operator_file(media: OperatorMedia, download: Download) -> bytes | None:
    """The operator's file taken from Telegram; None when it can never be had (then the
    citizen is told so).

    Raises:
        DeliveryError: Telegram asks to wait (`bots.outbox.RetryAfter`), or the download
            failed for a passing reason (`bots.outbox.Unavailable`): the reply is tried
            again later.
    """
    try:
        return await download(media.file_id)
    except FileUnavailable as error:
        log.warning("an operator's %s not taken from Telegram: %s", media.kind.value, error)
        return None
    except DeliveryError:
        raise
    except Exception as error:
        raise Unavailable(f"Telegram file not downloaded: {type(error).__name__}") from error
