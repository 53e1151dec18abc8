"""Splitting long replies into channel-sized messages."""

from __future__ import annotations

import re
from collections.abc import Callable

from bots.raw import without_lone_surrogates

TELEGRAM_TEXT_LIMIT = 4096
VK_TEXT_LIMIT = 4096
MAX_TEXT_LIMIT = 3999  # MAX takes 4000; maxapi refuses 4000 itself

_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")


def utf16_len(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units (an emoji may count twice)."""
    return len(text.encode("utf-16-le", errors="surrogatepass")) // 2


def split_text(
    text: str, limit: int = TELEGRAM_TEXT_LIMIT, length: Callable[[str], int] = utf16_len
) -> list[str]:
    """Split ``text`` into parts no longer than ``limit``.

    Splits on paragraph boundaries first, then lines, sentences and words; a URL is
    never cut. Only a single word longer than the limit is cut inside.
    """
    text = without_lone_surrogates(text).strip()
    if not text:
        return []
    if length(text) <= limit:
        return [text]
    parts: list[str] = []
    current = ""
    for piece in _pieces(text, limit, length):
        joined = piece if not current else current + piece
        if length(joined.rstrip()) <= limit:
            current = joined
            continue
        if current.strip():
            parts.append(current.strip())
        current = piece.lstrip()
    if current.strip():
        parts.append(current.strip())
    return parts


def _pieces(text: str, limit: int, length: Callable[[str], int]) -> list[str]:
    """Break text into the largest units that fit, keeping their separators."""
    for separator in ("\n\n", "\n"):
        chunks = text.split(separator)
        if len(chunks) > 1:
            out: list[str] = []
            for i, chunk in enumerate(chunks):
                suffix = separator if i < len(chunks) - 1 else ""
                if length(chunk + suffix) <= limit:
                    out.append(chunk + suffix)
                else:
                    out.extend(_pieces(chunk, limit, length))
                    if suffix:
                        out.append(suffix)
            return out
    sentences = _SENTENCE_END.split(text)
    if len(sentences) > 1:
        out = []
        for sentence in sentences:
            if length(sentence) + 1 <= limit:
                out.append(sentence + " ")
            else:
                out.extend(_words(sentence, limit, length))
        return out
    return _words(text, limit, length)


def _words(text: str, limit: int, length: Callable[[str], int]) -> list[str]:
    out: list[str] = []
    for word in text.split(" "):
        if length(word) + 1 <= limit:
            out.append(word + " ")
        else:
            # Only a "word" (or URL) longer than a whole message is cut inside.
            out.extend(_hard_cut(word, limit, length))
    return out


def _hard_cut(word: str, limit: int, length: Callable[[str], int]) -> list[str]:
    out: list[str] = []
    current = ""
    for char in word:
        if length(current + char) > limit:
            out.append(current)
            current = ""
        current += char
    if current:
        out.append(current)
    return out
