"""Excel workbooks (.xlsx): reading one sheet, writing a formatted one.

Reading takes the first sheet, or the one named (its name, case-insensitively, or
its 1-based number). Formulas count by the value Excel saved with them. Numbers
and dates become text as a Russian editor sees them (``3,5``, ``01.09.2024``).
A vertically merged cell (a category or an answer spanning several rows) applies
to every row it spans; a horizontally merged one counts once, in its first column.
Workbooks from `READ_ONLY_FROM` bytes up are streamed (openpyxl's read-only mode,
which does not see merged cells) to keep memory flat.

Writing: one sheet, bold frozen header, wrapped texts, readable widths. Texts are
stored as text cells, so ``=`` at the start of an answer never becomes a formula.
"""

from __future__ import annotations

import datetime as dt
import warnings
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import openpyxl
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.utils.exceptions import InvalidFileException
from openpyxl.worksheet.worksheet import Worksheet

from knowledge_base.drafts import EntryDraft
from knowledge_base.io.columns import header_key
from knowledge_base.io.problems import Origin, ProblemLog
from knowledge_base.io.records import Record
from knowledge_base.io.table import EXPORT_HEADERS, Progress, Row, export_row, read_rows

READ_ONLY_FROM = 1024 * 1024
SHEET_TITLE = "База знаний"
_WIDTHS = (22, 20, 50, 50, 80, 14)
_WRAPPED = frozenset((2, 3, 4))
_FORMULA_START = ("=", "+", "-", "@")


def read_workbook(
    path: Path,
    *,
    sheet: str | None,
    chosen: Mapping[str, str],
    log: ProblemLog,
    progress: Progress | None,
) -> list[Record]:
    """Reads records from one sheet of a workbook; problems go to ``log``."""
    file = path.name
    with path.open("rb") as stream:
        magic = stream.read(4)
    if magic == b"\xd0\xcf\x11\xe0":
        log.add(
            Origin(file),
            "это файл старого формата Excel (.xls) или книга под паролем: откройте его в Excel "
            "и сохраните как «Книга Excel (.xlsx)» без пароля",
        )
        return []
    read_only = path.stat().st_size >= READ_ONLY_FROM
    try:
        with warnings.catch_warnings():
            # openpyxl warns about features it drops (data validation, styles); the
            # texts are still read.
            warnings.simplefilter("ignore", UserWarning)
            book = openpyxl.load_workbook(path, read_only=read_only, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError, OSError):
        log.add(
            Origin(file),
            "файл не открывается как книга Excel (.xlsx): он повреждён "
            "или это файл другого формата",
        )
        return []
    try:
        worksheet = _pick_sheet(book, sheet, file, log)
        if worksheet is None:
            return []
        file = f"{file}, лист «{worksheet.title}»"
        rows = _rows(worksheet, merged=not read_only)
        total = worksheet.max_row or 0
        return read_rows(rows, file=file, chosen=chosen, log=log, total=total, progress=progress)
    finally:
        book.close()


def write_workbook(path: Path, entries: Sequence[EntryDraft]) -> None:
    """Writes entries to a one-sheet workbook under Russian headers."""
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet(SHEET_TITLE)
    for index, width in enumerate(_WIDTHS, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(EXPORT_HEADERS))}{len(entries) + 1}"
    bold = Font(bold=True)
    sheet.append([_text_cell(sheet, header, font=bold) for header in EXPORT_HEADERS])
    wrapped = Alignment(wrap_text=True, vertical="top")
    top = Alignment(vertical="top")
    for entry in entries:
        sheet.append(
            [
                _text_cell(sheet, text, alignment=wrapped if index in _WRAPPED else top)
                for index, text in enumerate(export_row(entry))
            ]
        )
    book.save(path)


def _text_cell(sheet: Any, text: str, **style: Any) -> WriteOnlyCell:
    cell = WriteOnlyCell(sheet, value=text)
    # Plain text, never a formula or an error code, whatever it starts with.
    cell.data_type = "s"
    cell.quotePrefix = text.startswith(_FORMULA_START)
    for name, value in style.items():
        setattr(cell, name, value)
    return cell


def _pick_sheet(book: Any, wanted: str | None, file: str, log: ProblemLog) -> Any:
    sheets = book.worksheets
    if not sheets:
        log.add(Origin(file), "в книге нет ни одного листа с таблицей")
        return None
    if wanted is None:
        return sheets[0]
    for sheet in sheets:
        if header_key(sheet.title) == header_key(wanted):
            return sheet
    if wanted.strip().isdigit() and 1 <= int(wanted) <= len(sheets):
        return sheets[int(wanted) - 1]
    names = ", ".join(f"«{sheet.title}»" for sheet in sheets)
    log.add(Origin(file), f"лист «{wanted}» не найден; в книге есть листы: {names}")
    return None


def _rows(sheet: Worksheet, *, merged: bool) -> Iterator[Row]:
    fills = _merged_fills(sheet) if merged else {}
    for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
        cells = [cell_text(value) for value in values]
        for column, value in fills.get(number, ()):
            if column < len(cells):
                cells[column] = value
        yield number, cells


def _merged_fills(sheet: Worksheet) -> dict[int, list[tuple[int, str]]]:
    fills: dict[int, list[tuple[int, str]]] = {}
    for cells in sheet.merged_cells.ranges:
        value = cell_text(sheet.cell(cells.min_row, cells.min_col).value)
        for row in range(cells.min_row + 1, cells.max_row + 1):
            fills.setdefault(row, []).append((cells.min_col - 1, value))
    return fills


def cell_text(value: object) -> str:
    """Turns a cell value into the text a Russian editor sees in Excel."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "да" if value else "нет"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value).replace(".", ",")
    if isinstance(value, dt.datetime):
        if value.time() == dt.time():
            return value.strftime("%d.%m.%Y")
        return value.strftime("%d.%m.%Y %H:%M" if value.second == 0 else "%d.%m.%Y %H:%M:%S")
    if isinstance(value, dt.date):
        return value.strftime("%d.%m.%Y")
    if isinstance(value, dt.time):
        return value.strftime("%H:%M" if value.second == 0 else "%H:%M:%S")
    return str(value)
