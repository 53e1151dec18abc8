"""Visitors' tokens: a random visitor id and the time it was issued, signed with HMAC.

A token lives in the visitor's browser (localStorage) and travels in the first frame of
a socket or in the ``Authorization`` header, never in a URL. It is short-lived and
sliding: every connection gets a fresh one, so a visitor who comes back within the
lifetime keeps the conversation, and one who does not starts a new one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import secrets
import struct
import time
from collections.abc import Callable
from pathlib import Path

from core.settings import Environment, Settings

log = logging.getLogger(__name__)

VERSION = "w1"
ID_BYTES = 16
SIGNATURE_BYTES = 16
TOKEN_LIMIT = 200  # longer than any token we issue: not worth decoding
CLOCK_SKEW = 300.0  # an issue time this far ahead of our clock is still taken
_CONTEXT = b"djinn-widget-visitor\x00"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class VisitorTokens:
    """Issues and checks visitors' tokens.

    Args:
        secret: The signing key (at least 16 bytes).
        lifetime: Seconds a token is good for after it was issued.
        clock: The time in seconds since the epoch.
    """

    def __init__(
        self, secret: bytes, lifetime: float, clock: Callable[[], float] = time.time
    ) -> None:
        if len(secret) < 16:
            raise ValueError("the widget's signing key must be at least 16 bytes")
        self._key = hashlib.sha256(_CONTEXT + secret).digest()
        self._lifetime = lifetime
        self._clock = clock

    @staticmethod
    def new_visitor() -> str:
        """A new visitor id: 128 random bits, URL-safe (22 characters)."""
        return _b64(secrets.token_bytes(ID_BYTES))

    def issue(self, visitor: str) -> str:
        """A token for ``visitor`` issued now."""
        body = _unb64(visitor) + struct.pack(">Q", int(self._clock()))
        return f"{VERSION}.{_b64(body)}.{_b64(self._sign(body))}"

    def visitor(self, token: object) -> str | None:
        """The visitor a token names, if it is ours, intact and not expired; else None."""
        if not isinstance(token, str) or len(token) > TOKEN_LIMIT:
            return None
        version, _, rest = token.partition(".")
        encoded, _, signature = rest.partition(".")
        if version != VERSION or not encoded or not signature:
            return None
        try:
            body, sent = _unb64(encoded), _unb64(signature)
        except ValueError:
            return None
        if len(body) != ID_BYTES + 8 or not hmac.compare_digest(sent, self._sign(body)):
            return None
        (issued,) = struct.unpack(">Q", body[ID_BYTES:])
        age = self._clock() - issued
        if age > self._lifetime or age < -CLOCK_SKEW:
            return None
        return _b64(body[:ID_BYTES])

    def _sign(self, body: bytes) -> bytes:
        return hmac.new(self._key, body, hashlib.sha256).digest()[:SIGNATURE_BYTES]


def signing_key(settings: Settings) -> bytes | None:
    """``DJINN_WIDGET_SECRET``; in development, when it is unset, a key generated once and
    kept in the data directory. None in production without one (the widget stays off)."""
    if settings.widget_secret is not None:
        value = settings.widget_secret.get_secret_value().strip()
        if value:
            return value.encode("utf-8")
    if settings.env is not Environment.DEV:
        return None
    return _kept_key(settings.data_dir / "widget" / "secret")


def _kept_key(path: Path) -> bytes:
    try:
        return bytes.fromhex(path.read_text(encoding="ascii").strip())
    except (OSError, ValueError):
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as file:
        file.write(key.hex())
    log.info("widget: a signing key was generated in %s (set DJINN_WIDGET_SECRET in production)",
             path)  # fmt: skip
    return key
