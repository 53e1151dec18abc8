"""Cleaning of cell texts: whitespace, invisible characters, formula escaping."""

from __future__ import annotations

import re
import unicodedata

# Invisible characters that come with copy-paste from Word and web pages.
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad\u180e"))
# Control characters break XLSX files and terminals; tab and newline are whitespace.
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")
_LINE_BREAKS = re.compile(r"\r\n?|[\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")
_SPACES = re.compile(r"\s+")
_SPACES_IN_LINE = re.compile(r"[^\S\n]+")
_BLANK_LINES = re.compile(r"\n{3,}")
_PHRASING_SEPARATORS = re.compile(r"[;|]")
# Excel runs a cell that starts with one of these as a formula (CSV injection).
_FORMULA_ESCAPED = re.compile(r"'*[=+\-@]")
_FORMULA_UNESCAPE = re.compile(r"'+[=+\-@]")


def _prepare(value: str) -> str:
    value = unicodedata.normalize("NFC", value).translate(_INVISIBLE)
    return _CONTROL.sub("", _LINE_BREAKS.sub("\n", value))


def clean_line(value: str) -> str:
    """Makes a one-line text: questions, categories, keys.

    Every run of whitespace, line breaks included, becomes one space; invisible
    characters are removed; the text is NFC-normalised and stripped.
    """
    return _SPACES.sub(" ", _prepare(value)).strip()


def clean_text(value: str) -> str:
    """Makes a multi-line text (an answer), keeping intended line breaks.

    Line endings become ``\\n``; runs of spaces within a line collapse to one; lines
    are stripped; more than one blank line in a row becomes one blank line.
    """
    lines = _SPACES_IN_LINE.sub(" ", _prepare(value)).split("\n")
    return _BLANK_LINES.sub("\n\n", "\n".join(line.strip() for line in lines)).strip()


def question_key(question: str) -> str:
    """The form in which two cleaned questions are compared: case, spaces, ё/е do not matter."""
    return " ".join(question.split()).casefold().replace("ё", "е")


def split_phrasings(cell: str) -> tuple[str, ...]:
    """Splits a table cell into phrasings.

    If the cell has line breaks, only line breaks separate phrasings (so a phrasing
    may contain ``;``); otherwise ``;`` and ``|`` do. Empty and repeated phrasings
    are dropped.
    """
    prepared = _prepare(cell)
    parts = prepared.split("\n") if "\n" in prepared else _PHRASING_SEPARATORS.split(prepared)
    seen: set[str] = set()
    result: list[str] = []
    for part in parts:
        phrasing = clean_line(part)
        if phrasing and question_key(phrasing) not in seen:
            seen.add(question_key(phrasing))
            result.append(phrasing)
    return tuple(result)


def join_phrasings(phrasings: tuple[str, ...]) -> str:
    """The inverse of `split_phrasings`: one phrasing per line.

    A single phrasing containing ``;`` or ``|`` gets a trailing line break so that
    reading it back splits on line breaks only.
    """
    cell = "\n".join(phrasings)
    if len(phrasings) == 1 and _PHRASING_SEPARATORS.search(cell):
        cell += "\n"
    return cell


def escape_formula(cell: str) -> str:
    """Prefixes ``'`` to a CSV cell that Excel would run as a formula."""
    return "'" + cell if _FORMULA_ESCAPED.match(cell) else cell


def unescape_formula(cell: str) -> str:
    """Undoes `escape_formula`."""
    return cell[1:] if _FORMULA_UNESCAPE.match(cell) else cell
