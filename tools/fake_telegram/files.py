"""Files in the fake Bot API: what ``getFile`` finds, the bytes it serves at
``/file/bot<token>/<file_path>`` (where aiogram's ``Bot.download`` looks), and the photos
``sendPhoto`` fetches by URL.

Telegram knows a file id once a message carried it; so does the fake, by looking through
the messages it holds (a citizen's photo, an operator's document). The bytes of such a
file are made up (a PNG of the stated size for a photo); a photo the bot sent by URL
keeps the bytes fetched. Like Telegram, the fake refuses a file over 20 MB to a bot.

Photos by URL are fetched for real, but only from this machine (127.0.0.1, localhost):
the fake never reaches the internet. A URL that cannot be fetched, is not an image or
has dimensions Telegram refuses fails as Telegram fails it. Uploading a photo in the
request body (multipart) is not supported: the fake reads only the name of an uploaded
file, so it is refused as an unknown file identifier.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from aiohttp import ClientError, ClientSession, ClientTimeout, web

from tools.fake_telegram.errors import ApiError, bad_request, status_error
from tools.fake_telegram.state import FakeState
from tools.images import image_size, png

if TYPE_CHECKING:
    from tools.fake_telegram.server import FakeTelegram

DOWNLOAD_LIMIT = 20 * 1024**2  # a bot downloads files up to 20 MB
PHOTO_URL_LIMIT = 5 * 1024**2  # sendPhoto fetches a photo of up to 5 MB by URL
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
    "oga": "audio/ogg",
    "mp4": "video/mp4",
    "mp3": "audio/mpeg",
    "webp": "image/webp",
}
_STORE = "_file_store"  # FakeState has no field for files; they live in its __dict__


@dataclass(slots=True)
class StoredFile:
    file_id: str
    file_unique_id: str
    kind: str  # the message field that carried it: photo, document, voice...
    path: str
    data: bytes

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

    def add(self, file_id: str, unique_id: str, kind: str, data: bytes, ext: str) -> StoredFile:
        folder = MEDIA_FIELDS.get(kind, ("documents", ext))[0]
        path = f"{folder}/file_{len(self.by_path)}.{ext}"
        stored = StoredFile(file_id, unique_id, kind, path, data)
        self.by_id[file_id] = stored
        self.by_path[path] = stored
        return stored


def files_of(state: FakeState) -> FileStore:
    store = vars(state).get(_STORE)
    if store is None:
        store = vars(state)[_STORE] = FileStore()
    return store


def file_bytes(state: FakeState, file_id: str) -> bytes | None:
    """The bytes behind a file id (as a bot would download them), None if unknown."""
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
    a file id of a photo the fake knows, or an HTTP URL it fetches."""
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
            content_type = response.content_type
            data = await response.content.read(PHOTO_URL_LIMIT + 1)
    except (ClientError, TimeoutError, ValueError):
        raise bad_request(WRONG_FILE) from None
    if not content_type.startswith("image/"):
        raise bad_request("wrong type of the web page content")
    if len(data) > PHOTO_URL_LIMIT:
        raise bad_request("failed to get HTTP URL content")
    size = image_size(data)
    if size is None:
        raise bad_request("IMAGE_PROCESS_FAILED")
    width, height = size
    if width + height > PHOTO_SIDES_LIMIT or max(width, height) > PHOTO_RATIO_LIMIT * min(
        width, height
    ):
        raise bad_request("PHOTO_INVALID_DIMENSIONS")
    return data, width, height


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
        content_type = _CONTENT_TYPES.get(extension, "application/octet-stream")
        return web.Response(body=stored.data, content_type=content_type)

    app.router.add_get("/file/bot{token}/{path:.+}", download)


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _extension(file_name: Any) -> str | None:
    if not isinstance(file_name, str) or "." not in file_name:
        return None
    extension = file_name.rsplit(".", 1)[1].lower()
    return extension if extension.isalnum() and len(extension) <= 8 else None
