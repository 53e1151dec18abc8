"""Finding the columns of a table by their headers.

A column is recognised by its header, compared ignoring case, extra spaces, ё/е and
a trailing colon or asterisk. The default headers are in `DEFAULT_HEADERS`. The
question, answer and category columns may be named explicitly instead: by header
text, else by a 1-based number (``"2"``), else by an Excel letter (``"B"``).
Columns with other headers (``№``, ``Примечание``) are ignored.

The header is the first non-empty row, unless one of the next rows (up to
`HEADER_SEARCH_ROWS` non-empty rows) has the question and answer columns and it
does not: a title above the table is skipped that way.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from knowledge_base.io.records import ANSWER, CATEGORY, KEY, PHRASINGS, QUESTION, STATUS
from knowledge_base.io.text import clean_line, question_key

HEADER_SEARCH_ROWS = 10
REQUIRED = (QUESTION, ANSWER)
DEFAULT_HEADERS: dict[str, tuple[str, ...]] = {
    KEY: ("ключ", "key"),
    CATEGORY: ("категория", "раздел", "рубрика", "category"),
    QUESTION: ("вопрос", "вопросы", "question"),
    PHRASINGS: (
        "формулировки",
        "синонимы",
        "варианты",
        "варианты вопроса",
        "другие формулировки",
        "phrasings",
    ),
    ANSWER: ("ответ", "ответы", "answer"),
    STATUS: ("статус", "status"),
}
_LABELS = {
    KEY: "с ключами",
    CATEGORY: "с категориями",
    QUESTION: "с вопросами",
    PHRASINGS: "с формулировками",
    ANSWER: "с ответами",
    STATUS: "со статусами",
}
OPTIONS = {QUESTION: "--question-col", ANSWER: "--answer-col", CATEGORY: "--category-col"}
_LETTERS = re.compile(r"[A-Za-z]{1,3}")
_UNNAMED = "(без заголовка)"


def header_key(name: str) -> str:
    """The form in which headers are compared."""
    return question_key(clean_line(name)).strip(" :*")


def column_letter(index: int) -> str:
    """Turns a 0-based column index into an Excel letter: 0 → A, 27 → AB."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def header_name(header: Sequence[str], index: int) -> str:
    """The header of a column as the editor wrote it, for messages."""
    name = header[index].strip() if index < len(header) else ""
    return name or _UNNAMED


@dataclass(frozen=True, slots=True)
class Layout:
    """The header row and where each known field is."""

    header_row: int
    header: list[str]
    columns: dict[str, int]


def find_layout(
    rows: Sequence[tuple[int, list[str]]], chosen: Mapping[str, str]
) -> tuple[Layout | None, int, list[str]]:
    """Finds the header among the first non-empty rows.

    Args:
        rows: ``(row number, cells)`` of the first non-empty rows.
        chosen: Field → the column the editor named for it.

    Returns:
        The layout, or ``None`` with the row number and the problems to report.
    """
    attempts = [(number, cells, *resolve(cells, chosen)) for number, cells in rows]
    for number, cells, columns, problems in attempts:
        if not problems:
            return Layout(number, cells, columns), number, []
    reported = next((a for a in attempts if a[2]), attempts[0])
    return None, reported[0], reported[3]


def resolve(header: Sequence[str], chosen: Mapping[str, str]) -> tuple[dict[str, int], list[str]]:
    """Maps fields to columns of one header row; returns the problems if it fails."""
    keys = [header_key(cell) for cell in header]
    columns: dict[str, int] = {}
    problems: list[str] = []
    for field, names in DEFAULT_HEADERS.items():
        if field in chosen:
            index = _pick(chosen[field], keys)
            if index is None:
                problems.append(_not_found_chosen(field, chosen[field], header))
            else:
                columns[field] = index
            continue
        found = [i for i, key in enumerate(keys) if key in names]
        if len(found) > 1:
            problems.append(_ambiguous(field, found, header))
        elif found:
            columns[field] = found[0]
        elif field in REQUIRED:
            problems.append(_missing(field, header))
    problems += _shared_columns(columns, header)
    return columns, problems


def _pick(choice: str, keys: list[str]) -> int | None:
    wanted = header_key(choice)
    if wanted in keys:
        return keys.index(wanted)
    text = choice.strip()
    if text.isdigit():
        index = int(text) - 1
    elif _LETTERS.fullmatch(text):
        index = 0
        for char in text.upper():
            index = index * 26 + ord(char) - ord("A") + 1
        index -= 1
    else:
        return None
    return index if 0 <= index < len(keys) else None


def _listing(header: Sequence[str]) -> str:
    names = [f"{column_letter(i)} «{name.strip()}»" for i, name in enumerate(header) if name]
    shown = ", ".join(names[:15]) + (" …" if len(names) > 15 else "")
    return f"В строке заголовков: {shown}." if names else "Строка заголовков пуста."


def _missing(field: str, header: Sequence[str]) -> str:
    looked_for = ", ".join(f"«{name}»" for name in DEFAULT_HEADERS[field])
    return (
        f"не найден столбец {_LABELS[field]}: ищем заголовок {looked_for} (регистр не важен) "
        f"или укажите столбец параметром {OPTIONS[field]}. {_listing(header)}"
    )


def _not_found_chosen(field: str, choice: str, header: Sequence[str]) -> str:
    return (
        f"столбец «{choice}», указанный {_LABELS[field]}, не найден: укажите заголовок, "
        f"номер (1, 2, …) или букву (A, B, …) столбца. {_listing(header)}"
    )


def _ambiguous(field: str, found: list[int], header: Sequence[str]) -> str:
    columns = " и ".join(f"{column_letter(i)} «{header_name(header, i)}»" for i in found)
    option = OPTIONS.get(field)
    fix = f"укажите нужный параметром {option}" if option else "переименуйте лишний"
    return f"столбцов {_LABELS[field]} несколько: {columns} — {fix}"


def _shared_columns(columns: dict[str, int], header: Sequence[str]) -> list[str]:
    problems = []
    owner: dict[int, str] = {}
    for field, index in columns.items():
        other = owner.setdefault(index, field)
        if other != field:
            problems.append(
                f"столбец {column_letter(index)} «{header_name(header, index)}» выбран и "
                f"{_LABELS[other]}, и {_LABELS[field]} — у них должны быть разные столбцы"
            )
    return problems
