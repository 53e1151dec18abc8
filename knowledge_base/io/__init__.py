"""Reading and writing FAQ files: our YAML format, CSV/TSV and Excel workbooks.

`read_entries` reads a whole file (or a folder of YAML files) and either returns
every entry or raises `ImportFileError` listing every problem found, so that an
import is applied whole or not at all. `write_entries` exports entries in a form
that `read_entries` reads back to the same entries (their ``origin`` aside).

Table rules (CSV, TSV, XLSX) are described in `knowledge_base.io.columns`, the
merging of repeated rows in `knowledge_base.io.merging`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from knowledge_base.drafts import EntryDraft
from knowledge_base.io.delimited import read_delimited, write_delimited
from knowledge_base.io.merging import merge_records
from knowledge_base.io.problems import ImportFileError, Origin, Problem, ProblemLog
from knowledge_base.io.records import ANSWER, CATEGORY, QUESTION, Record
from knowledge_base.io.spreadsheet import read_workbook, write_workbook
from knowledge_base.io.validation import check_records
from knowledge_base.io.yaml_format import read_yaml_files, write_yaml

__all__ = ["ImportFileError", "Origin", "Problem", "read_entries", "write_entries"]

YAML_SUFFIXES = (".yaml", ".yml")
DELIMITED_SUFFIXES = (".csv", ".tsv", ".txt")
WORKBOOK_SUFFIXES = (".xlsx", ".xlsm")
_SUPPORTED = ", ".join(YAML_SUFFIXES + DELIMITED_SUFFIXES + WORKBOOK_SUFFIXES)


def read_entries(
    path: Path,
    *,
    question_col: str | None = None,
    answer_col: str | None = None,
    category_col: str | None = None,
    sheet: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[EntryDraft]:
    """Reads FAQ entries from a file, choosing the reader by its extension.

    Args:
        path: A ``.yaml``/``.yml`` file, a ``.csv``/``.tsv``/``.txt`` table, an
            ``.xlsx`` workbook, or a folder whose ``.yaml``/``.yml`` files (sorted by
            name) are read as one import.
        question_col: The question column of a table: its header, its 1-based number
            or its Excel letter. By default found by header (``Вопрос``/``Question``).
        answer_col: The answer column, likewise (default ``Ответ``/``Answer``).
        category_col: The category column, likewise (default ``Категория``/``Раздел``).
        sheet: The sheet of a workbook (name or 1-based number); the first by default.
        progress: Called with ``(done, total)`` as rows or entries are read.

    Returns:
        The entries, repeated rows merged, in the order of their first row.

    Raises:
        ImportFileError: If anything is wrong; it lists every problem with its place.
    """
    log = ProblemLog()
    columns = {QUESTION: question_col, ANSWER: answer_col, CATEGORY: category_col}
    chosen = {field: value.strip() for field, value in columns.items() if value and value.strip()}
    records, is_table = _read(Path(path), chosen, sheet, log, progress)
    entries = merge_records(check_records(records, log), log, merge_same_answers=is_table)
    if not log and not entries:
        log.add(Origin(Path(path).name), "в файле нет ни одной записи с вопросом и ответом")
    log.raise_if_any()
    return entries


def write_entries(path: Path, entries: Sequence[EntryDraft]) -> None:
    """Exports entries to a file in the format of its extension.

    ``.yaml``/``.yml``: our format. ``.csv``: UTF-8 with BOM, ``;`` between columns.
    ``.tsv``: the same with tabs. ``.xlsx``: one formatted sheet. The file is
    replaced only once it is written completely.

    Raises:
        ValueError: If the extension is not one of these (the message is in Russian).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    writers: dict[str, Callable[[Path], None]] = {
        ".yaml": lambda target: write_yaml(target, entries),
        ".yml": lambda target: write_yaml(target, entries),
        ".csv": lambda target: write_delimited(target, entries, delimiter=";"),
        ".tsv": lambda target: write_delimited(target, entries, delimiter="\t"),
        ".xlsx": lambda target: write_workbook(target, entries),
    }
    if suffix not in writers:
        raise ValueError(
            f"Не умею сохранять в формате «{suffix or path.name}»: "
            "выберите .yaml, .csv, .tsv или .xlsx"
        )
    partial = path.with_name(f".{path.stem}.partial{suffix}")
    try:
        writers[suffix](partial)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def _read(
    path: Path,
    chosen: Mapping[str, str],
    sheet: str | None,
    log: ProblemLog,
    progress: Callable[[int, int], None] | None,
) -> tuple[list[Record], bool]:
    origin = Origin(path.name)
    suffix = path.suffix.lower()
    if not path.exists():
        log.add(origin, "файл не найден")
        return [], False
    is_yaml = path.is_dir() or suffix in YAML_SUFFIXES
    if is_yaml and (chosen or sheet):
        log.add(origin, "столбцы и лист указывают только для таблиц CSV и XLSX, не для YAML")
        return [], False
    if sheet and suffix in DELIMITED_SUFFIXES:
        log.add(origin, "лист указывают только для книг Excel (.xlsx), а это таблица CSV")
        return [], True
    try:
        if path.is_dir():
            return read_yaml_files(_yaml_files(path, log), log=log, progress=progress), False
        if suffix in YAML_SUFFIXES:
            return read_yaml_files([path], log=log, progress=progress), False
        if suffix in DELIMITED_SUFFIXES:
            return read_delimited(path, chosen=chosen, log=log, progress=progress), True
        if suffix in WORKBOOK_SUFFIXES:
            records = read_workbook(path, sheet=sheet, chosen=chosen, log=log, progress=progress)
            return records, True
    except OSError:
        log.add(origin, "файл не читается: нет доступа, или он открыт в другой программе")
        return [], False
    hint = " — сохраните его в Excel как .xlsx" if suffix == ".xls" else ""
    kind = suffix or path.name
    log.add(origin, f"неизвестный формат «{kind}»{hint}; поддерживаются {_SUPPORTED}")
    return [], False


def _yaml_files(folder: Path, log: ProblemLog) -> list[Path]:
    files = sorted(
        (p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in YAML_SUFFIXES),
        key=lambda p: p.name,
    )
    if not files:
        log.add(Origin(folder.name), "в папке нет файлов .yaml или .yml")
    return files
