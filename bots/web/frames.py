"""The widget's protocol: JSON objects, one per WebSocket text frame (or per HTTP body in
long polling), each with a ``type``.

From the browser:
    ``hello`` ``{token: str|null}`` — the first frame of a socket; null asks for a new
        visitor.
    ``message`` ``{id, text, consent?}`` — the visitor's text.
    ``button`` ``{id, payload, text}`` — a press of a reply button (``text`` is its label).
    ``photo`` ``{id, file, text?}`` — a photo uploaded to ``/widget/api/photos`` before.
    ``ping`` — answered with ``pong``.
``id`` is the browser's own id of the message (8–64 of ``A-Za-z0-9_-``): sent again, the
same message is stored once. ``consent: true`` says the visitor saw the personal-data
notice; the first message of a visitor must carry it.

To the browser:
    ``ready`` ``{token, consent, messages}`` — the socket is the visitor's; ``token`` is a
        fresh one to keep, ``messages`` the latest history.
    ``message`` ``{id, client_id, from, text, buttons, photo, at}`` — one message of the
        conversation (``from``: visitor, bot or operator); ``id`` is its number in the
        history (null for the visitor's own message echoed to other tabs before it is
        stored).
    ``ack`` ``{client_id}`` — the visitor's message is stored.
    ``error`` ``{code, message, client_id?, retry_after?}`` — ``message`` is for the visitor.
    ``pong``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

FRAME_LIMIT = 16 * 1024  # characters of one frame from the browser
TEXT_LIMIT = 4000
PAYLOAD_LIMIT = 255  # as stored with the message
BUTTON_TEXT_LIMIT = 255
CLIENT_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")
FILE_NAME = re.compile(r"[a-f0-9]{32}\.(?:jpg|png|webp)")
# Characters a message may not keep: NUL (PostgreSQL refuses it), other C0 controls but
# tab and newline, and lone surrogates (they cannot be encoded).
_UNWANTED = re.compile("[\x00-\x08\x0b-\x1f\x7f\ud800-\udfff]")


class FrameError(Exception):
    """A frame the widget's protocol does not allow; ``message`` is for the visitor."""

    def __init__(self, code: str, message: str, client_id: str | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.message = message
        self.client_id = client_id


UNREADABLE = "Сообщение не удалось прочитать. Обновите страницу и попробуйте снова."
UNKNOWN = "Такое сообщение чат не принимает. Обновите страницу."
TOO_LONG = f"Сообщение слишком длинное: не больше {TEXT_LIMIT} символов."
EMPTY = "Пустое сообщение не отправлено."


@dataclass(frozen=True, slots=True)
class Hello:
    token: str | None


@dataclass(frozen=True, slots=True)
class Ping:
    pass


@dataclass(frozen=True, slots=True)
class Outgoing:
    """Something the visitor sends into the conversation."""

    kind: str  # "text", "button" or "photo"
    client_id: str
    text: str = ""
    payload: str | None = None
    file: str | None = None
    consent: bool = False


ClientFrame = Hello | Ping | Outgoing


def parse(raw: str | bytes | None) -> ClientFrame:
    """A frame from the browser.

    Raises:
        FrameError: It is not one the protocol allows (never anything else).
    """
    if not isinstance(raw, str):  # a binary frame, or none
        raise FrameError("bad_frame", UNREADABLE)
    if len(raw) > FRAME_LIMIT:
        raise FrameError("too_large", TOO_LONG)
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        raise FrameError("bad_json", UNREADABLE) from None
    if not isinstance(data, dict):
        raise FrameError("bad_frame", UNREADABLE)
    return frame_of(data)


def frame_of(data: dict[str, Any]) -> ClientFrame:
    """A frame from its decoded JSON object (long polling's body).

    Raises:
        FrameError: As `parse`.
    """
    kind = data.get("type")
    if kind == "hello":
        token = data.get("token")
        return Hello(token if isinstance(token, str) and token else None)
    if kind == "ping":
        return Ping()
    if kind not in ("message", "button", "photo"):
        raise FrameError("bad_frame", UNKNOWN)
    client_id = data.get("id")
    if not isinstance(client_id, str) or not CLIENT_ID.fullmatch(client_id):
        raise FrameError("bad_frame", UNKNOWN)
    text = _text(data.get("text", ""), client_id)
    consent = data.get("consent") is True
    if kind == "message":
        if not text:
            raise FrameError("empty", EMPTY, client_id)
        return Outgoing("text", client_id, text, consent=consent)
    if kind == "button":
        payload = data.get("payload")
        if not isinstance(payload, str) or not 0 < len(payload) <= PAYLOAD_LIMIT:
            raise FrameError("bad_frame", UNKNOWN, client_id)
        return Outgoing("button", client_id, text[:BUTTON_TEXT_LIMIT], payload, consent=consent)
    file = data.get("file")
    if not isinstance(file, str) or not FILE_NAME.fullmatch(file):
        raise FrameError("bad_frame", UNKNOWN, client_id)
    return Outgoing("photo", client_id, text, file=file, consent=consent)


def _text(value: object, client_id: str) -> str:
    if not isinstance(value, str):
        raise FrameError("bad_frame", UNKNOWN, client_id)
    if len(value) > TEXT_LIMIT:
        raise FrameError("too_large", TOO_LONG, client_id)
    return clean_text(value).strip()


def clean_text(text: str) -> str:
    """``text`` without what cannot be stored or shown (NUL, control characters, lone
    surrogates)."""
    return _UNWANTED.sub("", text)


def encode(frame: dict[str, Any]) -> str:
    return json.dumps(frame, ensure_ascii=False, separators=(",", ":"))


def error(code: str, message: str, client_id: str | None = None,
          retry_after: float | None = None) -> dict[str, Any]:  # fmt: skip
    frame: dict[str, Any] = {"type": "error", "code": code, "message": message}
    if client_id is not None:
        frame["client_id"] = client_id
    if retry_after is not None:
        frame["retry_after"] = round(retry_after, 1)
    return frame


def message(
    *,
    id: int | None,
    sender: str,
    text: str,
    at: datetime,
    client_id: str | None = None,
    buttons: list[list[dict[str, str]]] | None = None,
    photo: str | None = None,
) -> dict[str, Any]:
    return {
        "type": "message",
        "id": id,
        "client_id": client_id,
        "from": sender,
        "text": text,
        "buttons": buttons or [],
        "photo": photo,
        "at": at.isoformat(),
    }
