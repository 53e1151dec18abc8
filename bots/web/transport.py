"""Delivering a reply to a website visitor: pushed to the sockets and long polls they have
open in this process. The reply is in the database already (the outbox row), which is
the history a visitor reads when they connect: so a visitor with nothing open still gets
it, and the delivery succeeds once it is pushed to whoever listens now.

An operator's photo (the operators work in Telegram) is taken from the Bot API and kept
to be shown in the chat; other media become a note under the text.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select

from bots.operator_files import Download, operator_file, operator_media, with_note
from bots.outbox import Unavailable
from bots.web import frames
from bots.web.hub import VisitorHub
from bots.web.mappers import operator_note, stored_buttons
from bots.web.photos import FILES_PATH, PhotoStore
from core.db import SessionFactory
from core.domain import Channel, MessageKind, Reply
from core.models import Message, as_utc, utcnow

log = logging.getLogger(__name__)


class WebTransport:
    """The outbox's way of sending to the widget.

    Args:
        hub: The visitors' open connections.
        sessions: The database (who wrote a reply, and when).
        photos: Where operators' photos are kept.
        download: Gets an operator's file from Telegram (`TelegramFiles.download`);
            without it an operator's photo reaches the visitor as a note.
    """

    channel = Channel.WEB

    def __init__(
        self,
        hub: VisitorHub,
        sessions: SessionFactory,
        photos: PhotoStore,
        *,
        download: Download | None = None,
    ) -> None:
        self._hub = hub
        self._sessions = sessions
        self._photos = photos
        self._download = download

    def split(self, reply: Reply) -> list[str]:
        media = operator_media(reply)
        shown = (
            self._download is not None and media is not None and media.kind is MessageKind.PHOTO
        )
        text = with_note(frames.clean_text(reply.text), operator_note(media, shown))
        return [text] if text or shown else []

    async def send_part(self, reply: Reply, index: int, text: str, last: bool) -> str | None:
        media = operator_media(reply)
        photo = await self._photo(reply)
        if photo is None and media is not None and media.kind is MessageKind.PHOTO:
            text = with_note(text, operator_note(media, photo_shown=False))  # it could not be had
        author, created_at = await self._origin(reply)
        frame = frames.message(
            id=reply.outbox_id,
            sender="operator" if (author or "").startswith("operator") else "bot",
            text=text,
            at=created_at,
            buttons=stored_buttons(
                [[{"text": b.text, "payload": b.payload} for b in row] for row in reply.buttons]
            ),
            photo=photo,
        )
        self._hub.push(reply.chat_id, frame)
        return f"web-{reply.outbox_id}"

    async def _origin(self, reply: Reply) -> tuple[str | None, datetime]:
        if reply.outbox_id is None:
            return None, utcnow()
        try:
            async with self._sessions() as session:
                found = (
                    await session.execute(
                        select(Message.author, Message.created_at).where(
                            Message.id == reply.outbox_id
                        )
                    )
                ).first()
        except Exception as error:
            raise Unavailable(f"database: {type(error).__name__}") from error
        if found is None:
            return None, utcnow()
        return found[0], as_utc(found[1])

    async def _photo(self, reply: Reply) -> str | None:
        """The address of the operator's photo the reply carries, kept here; None when
        there is none or it cannot be had (then the visitor reads a note)."""
        media = operator_media(reply)
        if media is None or media.kind is not MessageKind.PHOTO or self._download is None:
            return None
        name = self._photos.operator_photo(media.file_id)
        if name is None:
            data = await operator_file(media, self._download)
            if data is None:
                return None
            name = await self._photos.save_operator(media.file_id, data)
            if name is None:
                log.warning("an operator's photo from Telegram is not a JPEG/PNG/WebP")
                return None
        return FILES_PATH + name
