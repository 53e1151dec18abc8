"""Photos in the widget: what a visitor uploads (JPEG, PNG or WebP up to 10 MB, told
apart by their first bytes, not by what the browser claims) and the operators' photos
taken from Telegram, kept in the data directory and served at ``/widget/files/<name>``.

A name is 128 bits no one can guess; a visitor's photo's name also carries a MAC of the
visitor, so a visitor can send only photos they uploaded themselves.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from bots.web.frames import FILE_NAME

PHOTO_LIMIT = 10 * 1024 * 1024
TYPES = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp"}
FILES_PATH = "/widget/files/"


class PhotoRefused(Exception):
    """An upload the widget does not take; ``message`` is for the visitor."""

    def __init__(self, code: str, message: str, status: int) -> None:
        super().__init__(code)
        self.code = code
        self.message = message
        self.status = status


def wrong_type() -> PhotoRefused:
    return PhotoRefused(
        "photo_type", "Можно отправить только фото в формате JPEG, PNG или WebP.", 415
    )


def too_big() -> PhotoRefused:
    limit = PHOTO_LIMIT // 1024**2
    return PhotoRefused("photo_size", f"Фото слишком большое: не больше {limit} МБ.", 413)


def sniff(data: bytes) -> str | None:
    """The photo's format by its first bytes: jpg, png, webp; None for anything else."""
    if data.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def check(data: bytes, declared: str | None) -> str:
    """The extension of an uploaded photo.

    Raises:
        PhotoRefused: Empty, too big, not a JPEG/PNG/WebP, or not what it is declared as.
    """
    if not data:
        raise PhotoRefused("photo_empty", "Файл пуст: выберите фото ещё раз.", 400)
    if len(data) > PHOTO_LIMIT:
        raise too_big()
    found = sniff(data)
    if found is None:
        raise wrong_type()
    media_type = (declared or "").split(";")[0].strip().lower()
    if media_type and media_type not in ("application/octet-stream", TYPES[found]):
        raise wrong_type()
    return found


class PhotoStore:
    """Photos in ``directory``; ``key`` makes visitors' photos' names theirs."""

    def __init__(self, directory: Path, key: bytes) -> None:
        self.directory = directory
        self._key = hashlib.sha256(b"djinn-widget-photos\x00" + key).digest()

    async def save(self, visitor: str, data: bytes, extension: str) -> str:
        """Keep a visitor's photo; its name."""
        nonce = secrets.token_hex(8)
        name = f"{nonce}{self._mac(visitor, nonce)}.{extension}"
        await asyncio.to_thread(self._write, name, data)
        return name

    def owned(self, name: str, visitor: str) -> bool:
        """Whether ``name`` is a photo ``visitor`` uploaded (and it is still here)."""
        if not FILE_NAME.fullmatch(name):
            return False
        stem = name.split(".", 1)[0]
        mac = self._mac(visitor, stem[:16])
        return hmac.compare_digest(stem[16:], mac) and (self.directory / name).is_file()

    def operator_photo(self, file_id: str) -> str | None:
        """The name an operator's photo (a Telegram file) is kept under, None when it is
        not kept (yet)."""
        stem = self._operator_stem(file_id)
        for extension in TYPES:
            if (self.directory / f"{stem}.{extension}").is_file():
                return f"{stem}.{extension}"
        return None

    async def save_operator(self, file_id: str, data: bytes) -> str | None:
        """Keep an operator's photo; its name, None when it is not a JPEG, PNG or WebP."""
        extension = sniff(data)
        if extension is None:
            return None
        name = f"{self._operator_stem(file_id)}.{extension}"
        if not (self.directory / name).is_file():
            await asyncio.to_thread(self._write, name, data)
        return name

    def _operator_stem(self, file_id: str) -> str:
        digest = hmac.new(self._key, b"operator\x00" + file_id.encode(), hashlib.sha256)
        return digest.hexdigest()[:32]

    def path(self, name: str) -> Path | None:
        """The file of a kept photo, None when there is none by that name."""
        if not FILE_NAME.fullmatch(name):
            return None
        path = self.directory / name
        return path if path.is_file() else None

    def _mac(self, visitor: str, nonce: str) -> str:
        message = f"visitor\x00{visitor}\x00{nonce}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()[:16]

    def _write(self, name: str, data: bytes) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        temporary = self.directory / f".{name}.{secrets.token_hex(4)}"
        with open(temporary, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, self.directory / name)
