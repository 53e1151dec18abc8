import datetime as dt
from pathlib import Path

import openpyxl
import pytest

from knowledge_base.drafts import EntryDraft
from knowledge_base.io import read_entries, spreadsheet

from .builders import cache_formula_results, the_problem, without_origin, write_xlsx

FAQ_SHEET = [
    ("Тема обращения", "Формулировка вопроса", "Что отвечаем"),
    ("Справки", "Где взять справку?", "В МФЦ."),
]


@pytest.fixture(params=[False, True], ids=["full", "read-only"])
def read_only(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    if request.param:
        monkeypatch.setattr(spreadsheet, "READ_ONLY_FROM", 0)
    return bool(request.param)


@pytest.mark.parametrize("sheet", ["FAQ", "faq", "2"])
def test_chosen_sheet_with_custom_column_names(
    tmp_path: Path, read_only: bool, sheet: str
) -> None:
    path = write_xlsx(
        tmp_path / "faq.xlsx",
        {"Обложка": [("Это не таблица",)], "FAQ": FAQ_SHEET},
    )

    entries = read_entries(
        path,
        sheet=sheet,
        question_col="формулировка вопроса",
        answer_col="Что отвечаем",
        category_col="A",
    )

    assert without_origin(entries) == [EntryDraft("Где взять справку?", "В МФЦ.", "Справки")]
    assert entries[0].origin == "faq.xlsx, лист «FAQ», строка 2"


def test_the_first_sheet_is_read_by_default(tmp_path: Path, read_only: bool) -> None:
    path = write_xlsx(
        tmp_path / "faq.xlsx",
        {"Лист1": [("Вопрос", "Ответ"), ("В1", "О1")], "Лист2": [("Вопрос", "Ответ")]},
    )

    assert [entry.question for entry in read_entries(path)] == ["В1"]


def test_a_missing_sheet_lists_the_sheets_there_are(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "faq.xlsx", {"Лист1": FAQ_SHEET, "Архив": FAQ_SHEET})

    message = the_problem(path, sheet="FAQ").message

    assert message == "лист «FAQ» не найден; в книге есть листы: «Лист1», «Архив»"


def test_numbers_and_dates_become_text_as_excel_shows_them(
    tmp_path: Path, read_only: bool
) -> None:
    rows = [
        ("Вопрос", "Ответ", "Категория"),
        ("Телефон горячей линии?", 88001234567, 2024),
        ("Сколько стоит?", 3.5, True),
        ("Когда приём?", dt.datetime(2024, 9, 1), None),
        ("Во сколько?", dt.datetime(2024, 9, 1, 9, 30), None),
    ]
    path = write_xlsx(tmp_path / "faq.xlsx", {"FAQ": rows})

    entries = read_entries(path)

    assert [(e.answer, e.category) for e in entries] == [
        ("88001234567", "2024"),
        ("3,5", "да"),
        ("01.09.2024", None),
        ("01.09.2024 09:30", None),
    ]


def test_formulas_count_by_their_saved_values(tmp_path: Path, read_only: bool) -> None:
    rows = [("Вопрос", "Ответ"), ("Сколько стоит?", '="Бесплатно"'), ("Где?", "=A2")]
    path = write_xlsx(tmp_path / "faq.xlsx", {"FAQ": rows})
    cache_formula_results(path, {"B2": "Бесплатно", "B3": "Сколько стоит?"})

    entries = read_entries(path)

    assert [(e.question, e.answer) for e in entries] == [
        ("Сколько стоит?", "Бесплатно"),
        ("Где?", "Сколько стоит?"),
    ]


def test_a_formula_error_is_a_problem(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "faq.xlsx", {"FAQ": [("Вопрос", "Ответ"), ("В", "=1/0")]})
    cache_formula_results(path, {"B2": "#DIV/0!"})

    problem = the_problem(path)

    assert str(problem) == (
        "faq.xlsx, лист «FAQ», строка 2, столбец B «Ответ»: "
        "в ячейке ошибка Excel «#DIV/0!» — исправьте формулу"
    )


def test_merged_cells_apply_to_every_row_they_span(tmp_path: Path) -> None:
    rows = [
        ("Категория", "Вопрос", "Ответ"),
        ("ЖКХ", "Как оплатить ЖКУ?", "Через банк."),
        (None, "Где платить за свет?", None),
        (None, "Куда жаловаться на УК?", "В жилинспекцию."),
        ("Раздел без вопросов", None, None),
    ]
    path = write_xlsx(tmp_path / "faq.xlsx", {"FAQ": rows})
    book = openpyxl.load_workbook(path)
    book.active.merge_cells("A2:A4")
    book.active.merge_cells("C2:C3")
    book.active.merge_cells("A5:C5")
    book.save(path)

    entries = without_origin(read_entries(path))

    assert entries == [
        EntryDraft("Как оплатить ЖКУ?", "Через банк.", "ЖКХ", ("Где платить за свет?",)),
        EntryDraft("Куда жаловаться на УК?", "В жилинспекцию.", "ЖКХ"),
    ]


def test_trailing_empty_and_formatted_rows_are_ignored(tmp_path: Path, read_only: bool) -> None:
    path = write_xlsx(tmp_path / "faq.xlsx", {"FAQ": [("Вопрос", "Ответ"), ("В", "О")]})
    book = openpyxl.load_workbook(path)
    for row in range(3, 300):
        book.active.cell(row=row, column=2).font = openpyxl.styles.Font(bold=True)
    book.active.cell(row=300, column=1, value="   ")
    book.save(path)

    assert [entry.question for entry in read_entries(path)] == ["В"]


def test_problems_name_the_sheet_row_and_column(tmp_path: Path, read_only: bool) -> None:
    rows = [("Заголовок книги",), (), ("Вопрос", "Ответ"), ("В", None)]
    path = write_xlsx(tmp_path / "faq.xlsx", {"Данные": rows})

    problem = the_problem(path)

    assert str(problem).startswith("faq.xlsx, лист «Данные», строка 4, столбец B «Ответ»:")


def test_progress_is_reported_for_a_workbook(tmp_path: Path, read_only: bool) -> None:
    rows = [("Вопрос", "Ответ")] + [(f"В{n}", f"О{n}") for n in range(999)]
    path = write_xlsx(tmp_path / "faq.xlsx", {"FAQ": rows})
    calls: list[tuple[int, int]] = []

    read_entries(path, progress=lambda done, total: calls.append((done, total)))

    assert calls[0] == (200, 1000)
    assert calls[-1] == (1000, 1000)


def test_an_empty_sheet_has_no_header(tmp_path: Path, read_only: bool) -> None:
    path = write_xlsx(tmp_path / "faq.xlsx", {"FAQ": []})

    assert "нет ни одной заполненной строки" in the_problem(path).message


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "старого формата Excel (.xls)"),
        (b"\x89PNG\r\n\x1a\n", "не открывается как книга Excel"),
        ("Вопрос;Ответ\nВ;О\n".encode(), "не открывается как книга Excel"),
        (b"PK\x03\x04broken zip", "не открывается как книга Excel"),
    ],
)
def test_files_that_are_not_workbooks_give_one_clear_problem(
    tmp_path: Path, content: bytes, expected: str
) -> None:
    path = tmp_path / "faq.xlsx"
    path.write_bytes(content)

    assert expected in the_problem(path).message


def test_an_old_xls_file_is_refused_with_advice(tmp_path: Path) -> None:
    path = tmp_path / "faq.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0")

    assert "сохраните его в Excel как .xlsx" in the_problem(path).message
