"""Passwords and tokens of the web admin and its API.

Passwords are hashed with scrypt (the standard library's, OpenSSL) at the cost OWASP
recommends for it (N = 2^17, r = 8, p = 1: 128 MiB and a few tenths of a second a
hash), with a random salt; the stored string names its parameters, so they can be
raised later without breaking existing hashes. Session cookies and API tokens are 256
random bits; only their SHA-256 is stored.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import secrets

SCRYPT_N = 2**17
SCRYPT_R = 8
SCRYPT_P = 1
KEY_BYTES = 32
SALT_BYTES = 16
_PREFIX = "scrypt"
# Enough memory for any cost this module writes (128 * N * r bytes) with room to spare.
_MAX_MEMORY = 256 * 1024 * 1024


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=_MAX_MEMORY, dklen=KEY_BYTES
    )


def hash_password(password: str, *, n: int = SCRYPT_N) -> str:
    """``scrypt$N$r$p$salt$key`` (salt and key in base64) for ``password``."""
    salt = secrets.token_bytes(SALT_BYTES)
    key = _scrypt(password, salt, n, SCRYPT_R, SCRYPT_P)
    return f"{_PREFIX}${n}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(key)}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches ``stored`` (a malformed hash matches nothing)."""
    try:
        prefix, n, r, p, salt, key = stored.split("$")
        if prefix != _PREFIX:
            return False
        expected = base64.b64decode(key, validate=True)
        actual = _scrypt(password, base64.b64decode(salt, validate=True), int(n), int(r), int(p))
    except (ValueError, binascii.Error):
        return False
    return hmac.compare_digest(actual, expected)


@functools.cache
def _dummy() -> str:
    return hash_password(secrets.token_urlsafe(16))


def waste_time(password: str) -> None:
    """Spend what `verify_password` spends, for a login that does not exist: an unknown
    login takes as long as a wrong password, so logins cannot be guessed by timing."""
    verify_password(password, _dummy())


def new_token() -> str:
    """A random token for a session cookie, a CSRF field or an API client."""
    return secrets.token_urlsafe(32)


def digest(token: str) -> str:
    """The SHA-256 of a token, hex: what the database keeps instead of the token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def same(a: str, b: str) -> bool:
    """Constant-time comparison of two tokens."""
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))
