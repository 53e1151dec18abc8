"""Builders of import files for the knowledge_base.io tests."""

from __future__ import annotations

import csv
import re
import zipfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import openpyxl
import pytest

from knowledge_base.drafts import EntryDraft
from knowledge_base.io import ImportFileError, Problem, read_entries

Rows = Sequence[Sequence[object]]


def write_csv(
    path: Path, rows: Rows, *, delimiter: str = ";", encoding: str = "utf-8-sig"
) -> Path:
    with path.open("w", encoding=encoding, newline="") as stream:
        csv.writer(stream, delimiter=delimiter).writerows(rows)
    return path


def write_xlsx(path: Path, sheets: dict[str, Rows]) -> Path:
    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(list(row))
    book.save(path)
    return path


def cache_formula_results(path: Path, results: dict[str, str]) -> None:
    """Stores the value Excel would have saved with each formula (openpyxl saves none)."""
    with zipfile.ZipFile(path) as source:
        parts = {name: source.read(name) for name in source.namelist()}
    sheet_name = "xl/worksheets/sheet1.xml"
    xml = parts[sheet_name].decode()
    for ref, value in results.items():
        pattern = rf'<c r="{ref}"( s="\d+")?><f>(.*?)</f><v\s*/>'
        xml, count = re.subn(pattern, rf'<c r="{ref}"\1 t="str"><f>\2</f><v>{value}</v>', xml)
        assert count == 1, f"no formula in {ref}"
    parts[sheet_name] = xml.encode()
    with zipfile.ZipFile(path, "w") as target:
        for name, data in parts.items():
            target.writestr(name, data)


def without_origin(entries: Sequence[EntryDraft]) -> list[EntryDraft]:
    return [replace(entry, origin="") for entry in entries]


def problems_of(path: Path, **options: object) -> list[Problem]:
    with pytest.raises(ImportFileError) as caught:
        read_entries(path, **options)  # type: ignore[arg-type]
    return caught.value.problems


def the_problem(path: Path, **options: object) -> Problem:
    problems = problems_of(path, **options)
    assert len(problems) == 1, [str(p) for p in problems]
    return problems[0]
