"""Files in the fake Bot API: what ``getFile`` finds, the bytes it serves at
``/file/bot<token>/<file_path>`` (where aiogram's ``Bot.download`` looks), and the files
``sendPhoto``, ``sendDocument`` and ``sendVoice`` take.

Telegram knows a file id once a message carried it; so does the fake, by looking through
the messages it holds (a citizen's photo, an operator's document). The bytes of such a
file are made up (a PNG of the stated size for a photo); a file the bot uploaded or sent
by URL keeps its real bytes. Like Telegram, the fake refuses a file over 20 MB to a bot.

A bot sends a file in one of three ways, as it would to Telegram:

- an upload in a multipart body (up to 50 MB, else 413 «Request Entity Too Large»; a
  photo up to 10 MB, an image within Telegram's dimensions). Its bytes are stored as sent,
  so ``getFile``, the download and `file_bytes` give them back exactly;
- a file id some message carried, of the same kind («type of file mismatch» otherwise);
- an HTTP URL, fetched for real but only from this machine (127.0.0.1, localhost): the
  fake never reaches the internet. As on Telegram, ``sendPhoto`` takes an image of up to
  5 MB, ``sendDocument`` only a GIF, PDF or ZIP and ``sendVoice`` only OGG, MP3 or M4A,
  of up to 20 MB. A URL that cannot be fetched or holds anything else fails as Telegram
  fails it.
"""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from aiohttp import ClientError, ClientSession, ClientTimeout, web

from tools.fake_telegram.errors import ApiError, bad_request, status_error
from tools.fake_telegram.params import Upload
from tools.fake_telegram.state import FakeState
from tools.images import image_size, png

if TYPE_CHECKING:
    from tools.fake_telegram.server import FakeTelegram

DOWNLOAD_LIMIT = 20 * 1024**2  # a bot downloads files up to 20 MB
PHOTO_URL_LIMIT = 5 * 1024**2  # sendPhoto fetches a photo of up to 5 MB by URL
PHOTO_UPLOAD_LIMIT = 10 * 1024**2
URL_LIMIT = 20 * 1024**2  # other files fetched by URL
PHOTO_SIDES_LIMIT = 10_000  # width + height
PHOTO_RATIO_LIMIT = 20
THUMBNAIL_SIDE = 90
FETCH_TIMEOUT = 10.0
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
WRONG_FILE = "wrong file identifier/HTTP URL specified"

# Message fields that carry a file, and where Telegram keeps such files.
MEDIA_FIELDS = {
    "photo": ("photos", "png"),
    "document": ("documents", "pdf"),
    "voice": ("voice", "oga"),
    "video": ("videos", "mp4"),
    "video_note": ("video_notes", "mp4"),
    "audio": ("music", "mp3"),
    "sticker": ("stickers", "webp"),
    "animation": ("animations", "mp4"),
}
_PLACEHOLDERS = {
    "document": b"%PDF-1.4\n%fake document\n",
    "voice": b"OggS\x00\x02fake voice\n",
    "video": b"\x00\x00\x00\x18ftypmp42fake video\n",
    "video_note": b"\x00\x00\x00\x18ftypmp42fake video note\n",
    "audio": b"ID3\x04\x00fake audio\n",
    "sticker": b"RIFF\x00\x00\x00\x00WEBPfake sticker\n",
    "animation": b"\x00\x00\x00\x18ftypmp42fake animation\n",
}
_CONTENT_TYPES = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "gif": "image/gif",
    "pdf": "application/pdf",
    "zip": "application/zip",
    "oga": "audio/ogg",
    "ogg": "audio/ogg",
    "opus": "audio/ogg",
    "mp4": "video/mp4",
    "mp3": "audio/mpeg",
    "m4a": "audio/mp4",
    "webp": "image/webp",
}
# What sendDocument and sendVoice fetch by URL: the content types taken, as stored.
_URL_TYPES = {
    "document": {
        "image/gif": "image/gif",
        "application/pdf": "application/pdf",
        "application/zip": "application/zip",
        "application/x-zip-compressed": "application/zip",
    },
    "voice": {
        "audio/ogg": "audio/ogg",
        "audio/opus": "audio/ogg",
        "audio/mpeg": "audio/mpeg",
        "audio/mp3": "audio/mpeg",
        "audio/mp4": "audio/mp4",
        "audio/m4a": "audio/mp4",
        "audio/x-m4a": "audio/mp4",
    },
}
_UNTYPED = frozenset({"", "application/octet-stream", "binary/octet-stream"})
_EXTENSIONS = {"image/gif": "gif", "application/pdf": "pdf", "application/zip": "zip"}
_VOICE_EXTENSIONS = {"audio/ogg": "oga", "audio/mpeg": "mp3", "audio/mp4": "m4a"}
_FILE_ID_PREFIXES = {"document": "BQACAgIAAxkDAAI", "voice": "AwACAgIAAxkDAAI"}
_STORE = "_file_store"  # FakeState has no field for files; they live in its __dict__


@dataclass(slots=True)
class StoredFile:
    file_id: str
    file_unique_id: str
    kind: str  # the message field that carried it: photo, document, voice...
    path: str
    data: bytes
    media: dict[str, Any] = field(default_factory=dict)  # the object a message carries

    def describe(self) -> dict[str, Any]:
        """The ``File`` object ``getFile`` answers."""
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": len(self.data),
            "file_path": self.path,
        }


@dataclass(slots=True)
class FileStore:
    by_id: dict[str, StoredFile] = field(default_factory=dict)
    by_path: dict[str, StoredFile] = field(default_factory=dict)
    photos: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # id → all sizes

    def add(
        self,
        file_id: str,
        unique_id: str,
        kind: str,
        data: bytes,
        ext: str,
        media: dict[str, Any] | None = None,
    ) -> StoredFile:
        folder = MEDIA_FIELDS.get(kind, ("documents", ext))[0]
        path = f"{folder}/file_{len(self.by_path)}.{ext}"
        stored = StoredFile(file_id, unique_id, kind, path, data, dict(media or {}))
        self.by_id[file_id] = stored
        self.by_path[path] = stored
        return stored


def files_of(state: FakeState) -> FileStore:
    store = vars(state).get(_STORE)
    if store is None:
        store = vars(state)[_STORE] = FileStore()
    return store


def file_bytes(state: FakeState, file_id: str) -> bytes | None:
    """The bytes behind a file id (as a bot would download them, but also of a file
    too big to download), None if unknown."""
    stored = files_of(state).by_id.get(file_id)
    if stored is not None:
        return stored.data
    try:
        return resolve_file(state, file_id).data
    except ApiError:
        return None


def resolve_file(state: FakeState, file_id: Any) -> StoredFile:
    """The file ``getFile`` describes; raises as Telegram does for an unknown id or a
    file too big for a bot."""
    if not isinstance(file_id, str) or not file_id:
        raise bad_request("invalid file_id")
    store = files_of(state)
    stored = store.by_id.get(file_id)
    if stored is not None:
        if len(stored.data) > DOWNLOAD_LIMIT:
            raise bad_request("file is too big")
        return stored
    found = find_media(state, file_id)
    if found is None:
        raise bad_request("invalid file_id")
    kind, media = found
    if _int(media.get("file_size")) > DOWNLOAD_LIMIT:
        raise bad_request("file is too big")
    unique_id = str(media.get("file_unique_id") or file_id)
    if kind == "photo":
        width, height = _int(media.get("width")) or 320, _int(media.get("height")) or 240
        data, ext = png(min(width, 2560), min(height, 2560), label=unique_id), "png"
    else:
        ext = _extension(media.get("file_name")) or MEDIA_FIELDS[kind][1]
        data = _PLACEHOLDERS[kind] + unique_id.encode() + b"\n"
    return store.add(file_id, unique_id, kind, data, ext)


def find_media(state: FakeState, file_id: str) -> tuple[str, dict[str, Any]] | None:
    """The kind and the media object of a file some message in the fake carried."""
    for messages in state.history.values():
        for message in messages:
            for kind in MEDIA_FIELDS:
                value = message.get(kind)
                items = value if isinstance(value, list) else [value]
                for item in items:
                    if isinstance(item, dict) and item.get("file_id") == file_id:
                        return kind, item
    return None


async def photo_sizes(state: FakeState, photo: Any) -> list[dict[str, Any]]:
    """The ``photo`` sizes of a message ``sendPhoto`` makes from its ``photo`` argument:
    an upload, a file id of a photo the fake knows, or an HTTP URL it fetches."""
    if isinstance(photo, Upload):
        if len(photo.data) > PHOTO_UPLOAD_LIMIT:
            raise bad_request("PHOTO_SAVE_FILE_INVALID")
        width, height = _photo_size(photo.data)
        return add_photo(state, photo.data, width, height)
    if not isinstance(photo, str) or not photo.strip():
        raise bad_request("there is no photo in the request")
    if photo.startswith(("http://", "https://")):
        data, width, height = await fetch_photo(photo)
        return add_photo(state, data, width, height)
    store = files_of(state)
    if photo in store.photos:
        return [dict(size) for size in store.photos[photo]]
    stored = store.by_id.get(photo)
    found = (stored.kind, {}) if stored is not None else find_media(state, photo)
    if found is None:
        raise bad_request(WRONG_FILE)
    if found[0] != "photo":
        raise bad_request("type of file mismatch")
    for messages in state.history.values():
        for message in messages:
            sizes = message.get("photo")
            if isinstance(sizes, list) and any(
                isinstance(s, dict) and s.get("file_id") == photo for s in sizes
            ):
                return [dict(size) for size in sizes]
    raise bad_request(WRONG_FILE)


async def fetch_photo(url: str) -> tuple[bytes, int, int]:
    """The photo at ``url`` with its width and height, fetched as Telegram would (only
    from this machine); raises Telegram's errors for what Telegram refuses."""
    content_type, data = await fetch_url(url, PHOTO_URL_LIMIT)
    if not content_type.startswith("image/"):
        raise bad_request("wrong type of the web page content")
    if len(data) > PHOTO_URL_LIMIT:
        raise bad_request("failed to get HTTP URL content")
    width, height = _photo_size(data)
    return data, width, height


async def fetch_url(url: str, limit: int) -> tuple[str, bytes]:
    """The content type and up to ``limit`` + 1 bytes at ``url``, fetched as Telegram
    would but only from this machine; raises Telegram's errors for a URL it cannot get."""
    try:
        host = urlsplit(url).hostname
    except ValueError:
        host = None
    if host not in LOCAL_HOSTS:
        raise bad_request(WRONG_FILE)
    try:
        async with (
            ClientSession(timeout=ClientTimeout(total=FETCH_TIMEOUT)) as session,
            session.get(url, allow_redirects=True) as response,
        ):
            if response.status != 200:
                raise bad_request("failed to get HTTP URL content")
            return response.content_type, await response.content.read(limit + 1)
    except (ClientError, TimeoutError, ValueError):
        raise bad_request(WRONG_FILE) from None


def _photo_size(data: bytes) -> tuple[int, int]:
    size = image_size(data)
    if size is None:
        raise bad_request("IMAGE_PROCESS_FAILED")
    width, height = size
    if width + height > PHOTO_SIDES_LIMIT or max(width, height) > PHOTO_RATIO_LIMIT * min(
        width, height
    ):
        raise bad_request("PHOTO_INVALID_DIMENSIONS")
    return width, height


async def media_file(
    state: FakeState, kind: str, value: Any, *, duration: int = 0
) -> dict[str, Any]:
    """The ``document`` or ``voice`` of a message ``sendDocument`` or ``sendVoice`` makes
    from its argument: an upload, a file id the fake knows, or an HTTP URL it fetches."""
    if isinstance(value, Upload):
        data, name = value.data, value.filename
        mime_type = _uploaded_type(kind, value)
    elif not isinstance(value, str) or not value.strip():
        raise bad_request(f"there is no {kind} in the request")
    elif value.startswith(("http://", "https://")):
        mime_type, data = await _fetch_media(kind, value)
        name = PurePosixPath(unquote(urlsplit(value).path)).name or "file"
    else:
        return _known_media(state, kind, value)
    serial = state.serial()
    file_id, unique_id = f"{_FILE_ID_PREFIXES[kind]}{serial:0>6}", f"AgADd{serial:0>6}"
    media: dict[str, Any] = {"file_id": file_id, "file_unique_id": unique_id}
    if kind == "voice":
        media["duration"] = max(duration, 0)
        ext = _VOICE_EXTENSIONS.get(mime_type, "oga")
    else:
        media["file_name"] = name
        ext = _extension(name) or _EXTENSIONS.get(mime_type, "bin")
    media |= {"mime_type": mime_type, "file_size": len(data)}
    files_of(state).add(file_id, unique_id, kind, data, ext, media)
    return dict(media)


def _uploaded_type(kind: str, upload: Upload) -> str:
    if kind == "voice":
        data = upload.data
        if data.startswith(b"ID3") or data[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"):
            return "audio/mpeg"
        return "audio/mp4" if data[4:8] == b"ftyp" else "audio/ogg"
    guessed = mimetypes.guess_type(upload.filename)[0]
    if guessed is not None:
        return guessed
    untyped = upload.content_type in _UNTYPED
    return "application/octet-stream" if untyped else upload.content_type


async def _fetch_media(kind: str, url: str) -> tuple[str, bytes]:
    """What ``sendDocument`` (a GIF, PDF or ZIP) or ``sendVoice`` (OGG, MP3 or M4A) takes
    by URL: its content type as stored, and its bytes."""
    content_type, data = await fetch_url(url, URL_LIMIT)
    if content_type in _UNTYPED:  # a server naming no type: Telegram goes by the name
        content_type = _CONTENT_TYPES.get(_extension(urlsplit(url).path) or "", "")
    mime_type = _URL_TYPES[kind].get(content_type)
    if mime_type is None:
        html = content_type == "text/html"
        raise bad_request("wrong type of the web page content" if html else WRONG_FILE)
    if len(data) > URL_LIMIT:
        raise bad_request("failed to get HTTP URL content")
    return mime_type, data


def _known_media(state: FakeState, kind: str, file_id: str) -> dict[str, Any]:
    """The media object of a file sent again by its id."""
    stored = files_of(state).by_id.get(file_id)
    if stored is not None and stored.media:
        found: tuple[str, dict[str, Any]] | None = (stored.kind, stored.media)
    else:
        found = find_media(state, file_id)
    if found is None and stored is not None:  # its message is gone, the file is not
        found = (stored.kind, {"file_id": file_id, "file_unique_id": stored.file_unique_id})
    if found is None:
        raise bad_request(WRONG_FILE)
    if found[0] != kind:
        raise bad_request("type of file mismatch")
    return dict(found[1])


def add_photo(
    state: FakeState, data: bytes | None = None, width: int = 800, height: int = 600
) -> list[dict[str, Any]]:
    """A photo the fake knows from now on, as the sizes a message carries (a thumbnail,
    then the photo itself); without ``data`` a PNG of ``width`` × ``height`` is made."""
    store = files_of(state)
    serial = state.serial()
    if data is None:
        data = png(width, height, label=f"photo {serial}")
    sizes: list[dict[str, Any]] = []
    if max(width, height) > THUMBNAIL_SIDE:
        scale = THUMBNAIL_SIDE / max(width, height)
        thumb = (max(1, round(width * scale)), max(1, round(height * scale)))
        sizes.append(_size(store, f"{serial}t", png(*thumb, label=f"thumb {serial}"), *thumb))
    sizes.append(_size(store, f"{serial}", data, width, height))
    for size in sizes:
        store.photos[size["file_id"]] = sizes
    return [dict(size) for size in sizes]


def _size(store: FileStore, serial: str, data: bytes, width: int, height: int) -> dict[str, Any]:
    file_id, unique_id = f"AgACAgIAAxkDAAI{serial:0>6}", f"AQADs{serial:0>6}"
    ext = "png" if data.startswith(b"\x89PNG") else "jpg"
    store.add(file_id, unique_id, "photo", data, ext)
    return {
        "file_id": file_id,
        "file_unique_id": unique_id,
        "file_size": len(data),
        "width": width,
        "height": height,
    }


def add_file_routes(app: web.Application, fake: FakeTelegram) -> None:
    """Serve files at ``/file/bot<token>/<file_path>``, as ``api.telegram.org`` does."""

    async def download(request: web.Request) -> web.Response:
        if fake.state.outage is not None:
            error = status_error(fake.state.outage)
            return web.json_response(error.body(), status=error.code)
        stored = files_of(fake.state).by_path.get(request.match_info["path"])
        wrong_token = fake.token is not None and request.match_info["token"] != fake.token
        if stored is None or wrong_token:
            body = {"ok": False, "error_code": 404, "description": "Not Found"}
            return web.json_response(body, status=404)
        extension = stored.path.rsplit(".", 1)[-1]
        content_type = stored.media.get("mime_type") or _CONTENT_TYPES.get(
            extension, "application/octet-stream"
        )
        return web.Response(body=stored.data, content_type=content_type)

    app.router.add_get("/file/bot{token}/{path:.+}", download)


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _extension(file_name: Any) -> str | None:
    if not isinstance(file_name, str) or "." not in file_name:
        return None
    extension = file_name.rsplit(".", 1)[1].lower()
    return extension if extension.isalnum() and len(extension) <= 8 else None
