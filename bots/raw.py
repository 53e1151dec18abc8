"""Reading what a platform sends (JSON that a client or a proxy may have mangled)
defensively, the same way for every channel."""

from __future__ import annotations

import re
from typing import Any

INT64 = 2**63
# JSON lets a platform deliver NUL and unpaired UTF-16 surrogates inside strings.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def clean_text(text: str) -> str:
    """Text any database and HTTP client accepts: no NUL, no lone UTF-16 surrogates."""
    return without_lone_surrogates(text.replace("\x00", ""))


def without_lone_surrogates(text: str) -> str:
    """``text`` with each unpaired surrogate (which cannot be encoded for sending)
    replaced by U+FFFD. A Python str holds astral characters whole, so any surrogate in
    it is a lone one."""
    return _LONE_SURROGATE.sub("\ufffd", text)


def int64(data: dict[str, Any], name: str, malformed: type[Exception]) -> int:
    """``data[name]`` as a 64-bit integer (0 when missing).

    Raises:
        malformed: The value is not an integer (a bool is not), or too large for the
            database.
    """
    value = data.get(name, 0)
    if isinstance(value, bool) or not isinstance(value, int) or abs(value) >= INT64:
        raise malformed(f"{name} is not a 64-bit integer")
    return value
