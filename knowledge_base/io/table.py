"""Rows of a table (CSV or a sheet) turned into records; shared by both readers."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from itertools import chain

from knowledge_base.drafts import EntryDraft
from knowledge_base.io.columns import (
    HEADER_SEARCH_ROWS,
    Layout,
    column_letter,
    find_layout,
    header_name,
)
from knowledge_base.io.problems import Origin, ProblemLog
from knowledge_base.io.records import ANSWER, CATEGORY, KEY, PHRASINGS, QUESTION, STATUS, Record
from knowledge_base.io.text import clean_line, clean_text, join_phrasings, split_phrasings
from knowledge_base.io.validation import STATUS_LABELS

Progress = Callable[[int, int], None]
Row = tuple[int, list[str]]
PROGRESS_STEP = 200
# What Excel writes into a cell whose formula failed (and into CSV it saves).
EXCEL_ERRORS = frozenset(("#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A"))
EXPORT_HEADERS = ("Ключ", "Категория", "Вопрос", "Формулировки", "Ответ", "Статус")


def read_rows(
    rows: Iterable[Row],
    *,
    file: str,
    chosen: Mapping[str, str],
    log: ProblemLog,
    total: int = 0,
    progress: Progress | None = None,
) -> list[Record]:
    """Reads records from table rows.

    Args:
        rows: ``(row number as Excel shows it, cell texts)``; empty rows may be left out.
        file: The file name, for messages.
        chosen: Field → the column the editor named for it.
        log: Receives the problems.
        total: The expected number of rows, for ``progress`` (0 if unknown).
        progress: Called with ``(rows done, total)`` every `PROGRESS_STEP` rows and at the end.
    """
    remaining = iter(rows)
    first_rows = _first_nonempty(remaining)
    if not first_rows:
        log.add(
            Origin(file),
            "в файле нет ни одной заполненной строки: нужна таблица, "
            "первая строка — заголовки столбцов (Вопрос, Ответ, …)",
        )
        return []
    layout, header_row, problems = find_layout(first_rows, chosen)
    if layout is None:
        for message in problems:
            log.add(Origin(file, header_row), message)
        return []
    after_header = [row for row in first_rows if row[0] > layout.header_row]
    records = []
    done = layout.header_row
    for number, cells in chain(after_header, remaining):
        record = _record(number, cells, layout, file, log)
        if record is not None:
            records.append(record)
        if progress is not None and number // PROGRESS_STEP > done // PROGRESS_STEP:
            progress(number, max(total, number))
        done = number
    if progress is not None:
        progress(done, done)
    return records


def _first_nonempty(rows: Iterator[Row]) -> list[Row]:
    found: list[Row] = []
    for number, cells in rows:
        if any(cell.strip() for cell in cells):
            found.append((number, cells))
            if len(found) == HEADER_SEARCH_ROWS:
                break
    return found


def _record(
    number: int, cells: list[str], layout: Layout, file: str, log: ProblemLog
) -> Record | None:
    def cell(field: str) -> str:
        index = layout.columns.get(field)
        return cells[index] if index is not None and index < len(cells) else ""

    question = clean_line(cell(QUESTION))
    answer = clean_text(cell(ANSWER))
    phrasings = split_phrasings(cell(PHRASINGS))
    key = clean_line(cell(KEY)) or None
    # A row with only a category or a number filled in is a section title or a
    # template row, not an entry.
    if not (question or answer or phrasings or key):
        return None
    places = {
        field: Origin(file, number, header_name(layout.header, index), column_letter(index))
        for field, index in layout.columns.items()
    }
    broken = [field for field in places if cell(field).strip() in EXCEL_ERRORS]
    for field in broken:
        error = cell(field).strip()
        log.add(places[field], f"в ячейке ошибка Excel «{error}» — исправьте формулу")
    if broken:
        return None
    return Record(
        origin=Origin(file, number),
        question=question,
        answer=answer,
        category=clean_line(cell(CATEGORY)) or None,
        phrasings=phrasings,
        key=key,
        status=clean_line(cell(STATUS)) or None,
        places=places,
    )


def export_row(entry: EntryDraft) -> list[str]:
    """The cells of one entry under `EXPORT_HEADERS`, before any escaping."""
    return [
        entry.key or "",
        entry.category or "",
        entry.question,
        join_phrasings(entry.phrasings),
        entry.answer,
        STATUS_LABELS[entry.status],
    ]
