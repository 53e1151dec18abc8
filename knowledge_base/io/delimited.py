"""CSV, TSV and text tables: reading with encoding and delimiter detection, writing.

Reading: UTF-8 (with or without BOM) or UTF-16 with BOM (Excel's «Текст Юникод»),
else cp1251 (Excel on Russian Windows). The delimiter is chosen among ``,``, ``;``
and tab: the one under which the header row shows the most known columns.
Rows are numbered as Excel shows them when it opens the file: the header is row 1
and a line break inside a quoted cell does not start a new row.

Writing: UTF-8 with BOM (Excel then reads Cyrillic correctly), ``;`` between
columns in ``.csv`` (Excel in a Russian locale splits columns on ``;``; with ``,``
it would put everything into column A), tab in ``.tsv``. A cell that Excel would
run as a formula (starting with ``=``, ``+``, ``-`` or ``@``) is prefixed with
``'``; reading removes that prefix again.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from pathlib import Path

from knowledge_base.drafts import EntryDraft
from knowledge_base.io.columns import HEADER_SEARCH_ROWS, resolve
from knowledge_base.io.problems import Origin, ProblemLog
from knowledge_base.io.records import Record
from knowledge_base.io.table import EXPORT_HEADERS, Progress, Row, export_row, read_rows
from knowledge_base.io.text import escape_formula, unescape_formula

_DELIMITERS = ("\t", ";", ",")
_SNIFF_CHARS = 64 * 1024
_NOT_TABLES = (
    (b"PK\x03\x04", "архив или книга Excel (.xlsx) — сохраните его с расширением .xlsx"),
    (b"\xd0\xcf\x11\xe0", "документ Word или Excel старого формата (.doc, .xls)"),
    (b"%PDF", "документ PDF"),
    (b"\x89PNG", "картинка PNG"),
    (b"\xff\xd8\xff", "картинка JPEG"),
    (b"GIF8", "картинка GIF"),
)


def read_delimited(
    path: Path, *, chosen: Mapping[str, str], log: ProblemLog, progress: Progress | None
) -> list[Record]:
    """Reads records from a CSV, TSV or text table; problems go to ``log``."""
    file = path.name
    text = _decode(path.read_bytes(), file, log)
    if text is None:
        return []
    delimiter = _sniff(text, chosen)
    rows = _parse(text, delimiter, file, log)
    return read_rows(rows, file=file, chosen=chosen, log=log, total=len(rows), progress=progress)


def write_delimited(path: Path, entries: Sequence[EntryDraft], *, delimiter: str) -> None:
    """Writes entries as a table, one entry a row, under Russian headers."""
    with path.open("w", encoding="utf-8-sig", newline="") as stream:
        writer = csv.writer(stream, delimiter=delimiter)
        writer.writerow(EXPORT_HEADERS)
        for entry in entries:
            writer.writerow([escape_formula(cell) for cell in export_row(entry)])


def _decode(data: bytes, file: str, log: ProblemLog) -> str | None:
    origin = Origin(file)
    if not data.strip(b" \t\r\n\xef\xbb\xbf"):
        log.add(origin, "файл пуст: нужна таблица, первая строка — заголовки столбцов")
        return None
    for magic, kind in _NOT_TABLES:
        if data.startswith(magic):
            log.add(origin, f"это не таблица CSV, а {kind}")
            return None
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")
    if b"\x00" in data:
        log.add(origin, "это не текстовая таблица, а двоичный файл: сохраните таблицу как CSV")
        return None
    for encoding in ("utf-8-sig", "cp1251"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    log.add(origin, "не удалось определить кодировку: сохраните таблицу как CSV в UTF-8")
    return None


def _sniff(text: str, chosen: Mapping[str, str]) -> str:
    sample = text[:_SNIFF_CHARS]

    def score(delimiter: str) -> tuple[int, int]:
        rows = []
        reader = csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter)
        try:
            for cells in reader:
                if any(cell.strip() for cell in cells):
                    rows.append(cells)
                if len(rows) == HEADER_SEARCH_ROWS:
                    break
        except csv.Error:
            return (-1, 0)
        known = max((len(resolve(cells, chosen)[0]) for cells in rows), default=0)
        return (known, len(rows[0]) if rows else 0)

    return max(_DELIMITERS, key=score)


def _parse(text: str, delimiter: str, file: str, log: ProblemLog) -> list[Row]:
    rows: list[Row] = []
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        for number, cells in enumerate(reader, start=1):
            rows.append((number, [unescape_formula(cell.lstrip()) for cell in cells]))
    except csv.Error:
        log.add(
            Origin(file, len(rows) + 1),
            "строка не разбирается как CSV: слишком длинная ячейка или непарная кавычка",
        )
    return rows
