"""Photos and documents in the fake VK: the ones citizens send (with ``sizes`` whose URLs
the fake serves itself) and the ones the community uploads to send in messages.

Uploading goes as at VK: ``photos.getMessagesUploadServer`` gives an ``upload_url``; the
file is POSTed there as the multipart field ``photo``; the answer's ``server``, ``photo``
and ``hash`` go unchanged to ``photos.saveMessagesPhoto``, which answers the saved photo,
sent as ``attachment=photo<owner_id>_<id>``. Documents the same way, with
``docs.getMessagesUploadServer``, the field ``file`` and ``docs.save``. What VK refuses
is refused: a file that is not a JPEG, PNG or GIF (or has dimensions VK does not take)
comes back from the upload server as ``"photo": "[]"``, which ``saveMessagesPhoto``
refuses; a changed ``hash`` is error 121.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tools.fake_vk.validation import VkError, param_error
from tools.images import image_size, png

PHOTO_LIMIT = 50 * 1024**2
PHOTO_SIDES_LIMIT = 14_000  # width + height
PHOTO_RATIO_LIMIT = 20
DOC_LIMIT = 200 * 1024**2
MESSAGES_ALBUM = -64  # where photos uploaded for messages go
CITIZEN_ALBUM = -3
# VK's size types, each the largest box it fits a photo into (width, height).
SIZE_BOXES = (
    ("s", 75, 75),
    ("m", 130, 130),
    ("x", 604, 604),
    ("y", 807, 807),
    ("z", 1080, 1024),
    ("w", 2560, 2048),
)
DOC_TYPES = {"txt": 1, "pdf": 1, "doc": 1, "docx": 1, "zip": 2, "rar": 2, "gif": 3, "jpg": 4,
             "jpeg": 4, "png": 4, "mp3": 5, "ogg": 5, "mp4": 6, "avi": 6}  # fmt: skip
CONTENT_TYPES = {"png": "image/png", "jpg": "image/jpeg", "gif": "image/gif",
                 "pdf": "application/pdf"}  # fmt: skip
UPLOAD_KINDS = ("photo", "doc")
_REF = re.compile(r"^([a-z_]+?)(-?\d+)_(\d+)(?:_([A-Za-z0-9]+))?$")


@dataclass(slots=True)
class MediaFile:
    """Bytes the fake serves under ``/photos/`` or ``/docs/``: stored, or a PNG made
    when first asked for."""

    content_type: str
    data: bytes | None = None
    width: int = 0
    height: int = 0
    label: str = ""

    def body(self) -> bytes:
        if self.data is None:
            self.data = png(self.width, self.height, label=self.label)
        return self.data


@dataclass(frozen=True, slots=True)
class Photo:
    owner_id: int
    id: int
    access_key: str
    album_id: int
    sizes: tuple[dict[str, Any], ...]
    data: bytes  # the largest size, as uploaded or as the citizen's phone sent it
    date: int

    @property
    def ref(self) -> str:
        return f"photo{self.owner_id}_{self.id}"

    def as_object(self) -> dict[str, Any]:
        return {
            "album_id": self.album_id,
            "date": self.date,
            "id": self.id,
            "owner_id": self.owner_id,
            "access_key": self.access_key,
            "sizes": [dict(size) for size in self.sizes],
            "text": "",
            "has_tags": False,
        }

    def describe(self) -> dict[str, Any]:
        """What a message carrying this photo is recorded with (no bytes: it is JSON)."""
        return {
            "type": "photo",
            "ref": self.ref,
            "url": self.sizes[-1]["url"],
            "width": self.sizes[-1]["width"],
            "height": self.sizes[-1]["height"],
            "size": len(self.data),
            "sha256": hashlib.sha256(self.data).hexdigest(),
        }


@dataclass(frozen=True, slots=True)
class Doc:
    owner_id: int
    id: int
    access_key: str
    title: str
    ext: str
    url: str
    data: bytes
    date: int
    kind: str = "doc"  # or "audio_message": a voice message, uploaded as a document

    @property
    def ref(self) -> str:
        return f"doc{self.owner_id}_{self.id}"

    def as_object(self) -> dict[str, Any]:
        if self.kind == "audio_message":
            return {
                "id": self.id,
                "owner_id": self.owner_id,
                "access_key": self.access_key,
                "duration": 1,
                "waveform": [0, 4, 9, 3],
                "link_ogg": self.url,
                "link_mp3": self.url,
            }
        return {
            "id": self.id,
            "owner_id": self.owner_id,
            "title": self.title,
            "size": len(self.data),
            "ext": self.ext,
            "date": self.date,
            "type": DOC_TYPES.get(self.ext, 8),
            "url": self.url,
            "access_key": self.access_key,
        }

    def describe(self) -> dict[str, Any]:
        return {
            "type": self.kind,
            "ref": self.ref,
            "title": self.title,
            "url": self.url,
            "size": len(self.data),
            "sha256": hashlib.sha256(self.data).hexdigest(),
        }


@dataclass(frozen=True, slots=True)
class UploadServer:
    kind: str  # "photo" or "doc"
    peer_id: int
    doc_type: str = "doc"  # what a document becomes: "doc", "audio_message", "graffiti"


@dataclass(slots=True)
class _PendingPhoto:
    server: int
    hash: str
    data: bytes
    width: int
    height: int
    saved: Photo | None = None


@dataclass(slots=True)
class _PendingDoc:
    data: bytes
    filename: str
    doc_type: str = "doc"
    saved: Doc | None = None


@dataclass
class Media:
    """The community's photos and documents, and uploads in progress.

    ``base_url`` is where the fake serves files (``FakeVk`` sets it when it starts);
    ``take_id`` hands out item ids shared with messages.
    """

    group_id: int
    take_id: Callable[[], int]
    base_url: str = "https://fake-vk.invalid"
    files: dict[str, MediaFile] = field(default_factory=dict)
    photos: dict[tuple[int, int], Photo] = field(default_factory=dict)
    docs: dict[tuple[int, int], Doc] = field(default_factory=dict)
    upload_servers: dict[str, UploadServer] = field(default_factory=dict)
    _pending_photos: dict[str, _PendingPhoto] = field(default_factory=dict)
    _pending_docs: dict[str, _PendingDoc] = field(default_factory=dict)

    # --- citizens' photos -------------------------------------------------------------

    def citizen_photo(
        self, owner_id: int, width: int = 1280, height: int = 960, data: bytes | None = None
    ) -> Photo:
        """A photo a citizen attaches; without ``data`` a PNG of the size is made."""
        item_id = self.take_id()
        if data is None:
            data = png(width, height, label=f"citizen photo {owner_id}_{item_id}")
        return self._photo(owner_id, item_id, CITIZEN_ALBUM, data, width, height)

    def _photo(
        self, owner_id: int, item_id: int, album_id: int, data: bytes, width: int, height: int
    ) -> Photo:
        ext = "png" if data.startswith(b"\x89PNG") else "gif" if data.startswith(b"GIF") else "jpg"
        boxes = photo_sizes(width, height)
        sizes = []
        for index, (kind, w, h) in enumerate(boxes):
            name = f"{owner_id}_{item_id}_{kind}.{ext}"
            if index == len(boxes) - 1:
                self.files[f"photos/{name}"] = MediaFile(CONTENT_TYPES[ext], data, w, h)
            else:
                label = f"photo {owner_id}_{item_id} {kind}"
                self.files[f"photos/{name}"] = MediaFile("image/png", None, w, h, label)
            url = f"{self.base_url}/photos/{name}?size={w}x{h}&type=album"
            sizes.append({"type": kind, "width": w, "height": h, "url": url})
        photo = Photo(
            owner_id, item_id, secrets.token_hex(9), album_id, tuple(sizes), data, int(time.time())
        )
        self.photos[owner_id, item_id] = photo
        return photo

    # --- citizens' documents, voice messages and stickers --------------------------------

    def citizen_attachment(
        self, kind: str, owner_id: int, data: bytes | None = None
    ) -> dict[str, Any]:
        """A ``doc``, ``audio_message`` or ``sticker`` a citizen attaches, as VK nests it in
        a message, with URLs the fake serves: the document's bytes (``data``, or a small
        PDF), the voice message's OGG and MP3, the sticker's PNG images."""
        item_id = self.take_id()
        access_key = secrets.token_hex(8)
        if kind == "doc":
            data = data if data is not None else _pdf(f"citizen document {owner_id}_{item_id}")
            name = f"{owner_id}_{item_id}.pdf"
            self.files[f"docs/{name}"] = MediaFile("application/pdf", data)
            url = f"{self.base_url}/docs/{name}?hash={secrets.token_hex(8)}&dl=1"
            body = {"id": item_id, "owner_id": owner_id, "access_key": access_key,
                    "title": "заявление.pdf", "size": len(data), "ext": "pdf", "type": 1,
                    "date": int(time.time()), "url": url}  # fmt: skip
        elif kind == "audio_message":
            data = data if data is not None else _ogg(f"voice {owner_id}_{item_id}")
            self.files[f"audio/{owner_id}_{item_id}.ogg"] = MediaFile("audio/ogg", data)
            self.files[f"audio/{owner_id}_{item_id}.mp3"] = MediaFile("audio/mpeg", data)
            link = f"{self.base_url}/audio/{owner_id}_{item_id}"
            body = {"id": item_id, "owner_id": owner_id, "access_key": access_key,
                    "duration": 4, "waveform": [0, 3, 7, 2],
                    "link_ogg": f"{link}.ogg", "link_mp3": f"{link}.mp3"}  # fmt: skip
        elif kind == "sticker":
            images = []
            for side in (64, 128, 256):
                name = f"{item_id}_{side}.png"
                label = f"sticker {item_id}"
                self.files[f"stickers/{name}"] = MediaFile("image/png", None, side, side, label)
                url = f"{self.base_url}/stickers/{name}"
                images.append({"url": url, "width": side, "height": side})
            body = {"product_id": 1, "sticker_id": item_id, "images": images,
                    "images_with_background": images}  # fmt: skip
        else:
            raise ValueError(f"a citizen's {kind!r} is not served by the fake")
        return {"type": kind, kind: body}

    # --- uploading --------------------------------------------------------------------

    def upload_server(self, kind: str, peer_id: int, doc_type: str = "doc") -> str:
        """A new upload URL for a ``photo`` or a ``doc`` (of ``doc_type``) to send in
        messages."""
        token = secrets.token_urlsafe(12)
        self.upload_servers[token] = UploadServer(kind, peer_id, doc_type)
        return f"{self.base_url}/upload/{kind}/{token}"

    def receive_upload(
        self, kind: str, token: str, files: dict[str, tuple[str, bytes]]
    ) -> dict[str, Any]:
        """The upload server's JSON answer to a POST of ``files`` (field → name, bytes)."""
        server = self.upload_servers.get(token)
        if server is None or server.kind != kind:
            return {"error": "ERR_UPLOAD_BAD_URL: invalid upload url"}
        if kind == "photo":
            return self._receive_photo(files.get("photo"))
        upload = files.get("file")
        if upload is None or not upload[1]:
            return {"error": "ERR_UPLOAD_FILE_NOT_UPLOADED: file not uploaded"}
        if len(upload[1]) > DOC_LIMIT:
            return {"error": "ERR_UPLOAD_FILE_TOO_BIG: file is too big"}
        key = secrets.token_hex(16)
        self._pending_docs[key] = _PendingDoc(upload[1], upload[0] or "file", server.doc_type)
        return {"file": key}

    def _receive_photo(self, upload: tuple[str, bytes] | None) -> dict[str, Any]:
        server, digest = 800_000 + secrets.randbelow(100_000), secrets.token_hex(16)
        size = image_size(upload[1]) if upload is not None else None
        if upload is None or size is None or not _photo_fits(len(upload[1]), *size):
            return {"server": server, "photo": "[]", "hash": digest}
        key = secrets.token_hex(5)
        listed = [{"markers_restarted": True, "photo": f"{key}:w", "sizes": [],
                   "latitude": 0, "longitude": 0, "kid": secrets.token_hex(16)}]  # fmt: skip
        photo = json.dumps(listed, separators=(",", ":"))
        self._pending_photos[photo] = _PendingPhoto(server, digest, upload[1], *size)
        return {"server": server, "photo": photo, "hash": digest}

    def save_messages_photo(self, params: dict[str, str]) -> list[dict[str, Any]]:
        photo = params.get("photo", "")
        if not photo:
            raise param_error("photo is undefined")
        pending = self._pending_photos.get(photo)
        if pending is None:
            raise param_error("photos_list is invalid")
        if params.get("hash") != pending.hash or params.get("server") != str(pending.server):
            raise VkError(121, "Invalid hash")
        if pending.saved is None:
            pending.saved = self._photo(
                -self.group_id,
                self.take_id(),
                MESSAGES_ALBUM,
                pending.data,
                pending.width,
                pending.height,
            )
        return [pending.saved.as_object()]

    def save_doc(self, params: dict[str, str]) -> dict[str, Any]:
        key = params.get("file", "")
        if not key:
            raise param_error("file is undefined")
        pending = self._pending_docs.get(key)
        if pending is None:
            raise param_error("file is invalid")
        if pending.saved is None:
            title = params.get("title") or pending.filename
            ext = title.rsplit(".", 1)[-1].lower() if "." in title else ""
            item_id = self.take_id()
            name = f"{-self.group_id}_{item_id}" + (f".{ext}" if ext else "")
            url = f"{self.base_url}/docs/{name}"
            content_type = CONTENT_TYPES.get(ext, "application/octet-stream")
            self.files[f"docs/{name}"] = MediaFile(content_type, pending.data)
            pending.saved = Doc(
                -self.group_id,
                item_id,
                secrets.token_hex(9),
                title,
                ext,
                url,
                pending.data,
                int(time.time()),
                pending.doc_type if pending.doc_type == "audio_message" else "doc",
            )
            self.docs[-self.group_id, item_id] = pending.saved
        kind = pending.saved.kind
        return {"type": kind, kind: pending.saved.as_object()}

    # --- attachments of messages the community sends ------------------------------------

    def resolve(self, attachment: str | None) -> tuple[dict[str, Any], ...]:
        """What ``messages.send``'s ``attachment`` holds; raises as VK does for a photo or
        document of the community that does not exist or with a wrong access key."""
        if not attachment:
            return ()
        found = []
        for raw in attachment.split(","):
            ref = raw.strip()
            kind, owner_id, item_id, key = _parse_ref(ref)
            item: Photo | Doc | None = None
            if kind == "photo":
                item = self.photos.get((owner_id, item_id))
            elif kind == "doc":
                item = self.docs.get((owner_id, item_id))
            ours = owner_id == -self.group_id and kind in ("photo", "doc")
            if (item is None and ours) or (item is not None and key and key != item.access_key):
                raise param_error(f"attachment {ref} is invalid")
            found.append(item.describe() if item is not None else {"type": kind, "ref": ref})
        if len(found) > 10:
            raise param_error("too many attachments")
        return tuple(found)


def _pdf(label: str) -> bytes:
    """A small, well-formed one-page PDF."""
    return (
        b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
        b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
        b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\n"
        + f"% {label}\n".encode()
        + b"trailer<</Root 1 0 R>>\n%%EOF\n"
    )


def _ogg(label: str) -> bytes:
    """Bytes that start as an Ogg Opus stream does (a voice message's container)."""
    return b"OggS\x00\x02" + bytes(20) + b"OpusHead\x01\x01" + label.encode()


def _parse_ref(ref: str) -> tuple[str, int, int, str | None]:
    match = _REF.match(ref)
    if match is None:
        raise param_error(f"attachment {ref} is invalid")
    return match.group(1), int(match.group(2)), int(match.group(3)), match.group(4)


def _photo_fits(size: int, width: int, height: int) -> bool:
    ratio_ok = max(width, height) <= PHOTO_RATIO_LIMIT * min(width, height)
    return size <= PHOTO_LIMIT and width + height <= PHOTO_SIDES_LIMIT and ratio_ok


def photo_sizes(width: int, height: int) -> list[tuple[str, int, int]]:
    """The sizes VK makes of a ``width`` × ``height`` photo, smallest first; the last is
    the photo itself (or its largest box)."""
    sizes: list[tuple[str, int, int]] = []
    for kind, box_w, box_h in SIZE_BOXES:
        scale = min(1.0, box_w / width, box_h / height)
        size = (kind, max(1, round(width * scale)), max(1, round(height * scale)))
        sizes.append(size)
        if scale == 1.0:
            break
    return sizes
