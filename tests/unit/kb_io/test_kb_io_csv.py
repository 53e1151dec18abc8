from pathlib import Path

import pytest

from knowledge_base.drafts import EntryDraft, EntryStatus
from knowledge_base.io import read_entries

from .builders import problems_of, the_problem, without_origin, write_csv

ROWS = [
    ("№", "Раздел", "Вопрос", "Синонимы", "Ответ"),
    (
        "1",
        "ЖКХ",
        "Как оплатить ЖКУ?",
        "оплата ЖКУ; где платить | квитанция",
        "Через банк; или МФЦ.",
    ),
    ("2", "Справки", "Где взять справку?", "", "В МФЦ, окно 3."),
]
EXPECTED = [
    EntryDraft(
        "Как оплатить ЖКУ?",
        "Через банк; или МФЦ.",
        category="ЖКХ",
        phrasings=("оплата ЖКУ", "где платить", "квитанция"),
    ),
    EntryDraft("Где взять справку?", "В МФЦ, окно 3.", category="Справки"),
]


@pytest.mark.parametrize(
    ("delimiter", "encoding"),
    [
        (";", "utf-8-sig"),
        (";", "utf-8"),
        (",", "utf-8"),
        ("\t", "utf-8"),
        (";", "cp1251"),
        (",", "cp1251"),
        ("\t", "utf-16"),
    ],
)
def test_delimiter_and_encoding_are_detected(
    tmp_path: Path, delimiter: str, encoding: str
) -> None:
    path = write_csv(tmp_path / "faq.csv", ROWS, delimiter=delimiter, encoding=encoding)

    assert without_origin(read_entries(path)) == EXPECTED


@pytest.mark.parametrize("suffix", [".tsv", ".txt"])
def test_tsv_and_txt_are_read_as_tables(tmp_path: Path, suffix: str) -> None:
    path = write_csv(tmp_path / f"faq{suffix}", ROWS, delimiter="\t")

    assert without_origin(read_entries(path)) == EXPECTED


def test_cp1251_file_gives_cyrillic_back(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "faq.csv", ROWS, encoding="cp1251")
    assert path.read_bytes().decode("cp1251").startswith("№;Раздел")

    assert read_entries(path)[0].question == "Как оплатить ЖКУ?"


def test_english_headers_in_any_case_with_all_columns(tmp_path: Path) -> None:
    rows = [
        (" KEY ", "Category:", "QUESTION", "Phrasings", "Answer", "status"),
        ("pay", "ЖКХ", "How to pay?", "pay bills\npay rent", "Online.", "draft"),
    ]
    path = write_csv(tmp_path / "faq.csv", rows, delimiter=",")

    assert without_origin(read_entries(path)) == [
        EntryDraft(
            "How to pay?",
            "Online.",
            category="ЖКХ",
            phrasings=("pay bills", "pay rent"),
            key="pay",
            status=EntryStatus.DRAFT,
        )
    ]


def test_line_breaks_separate_phrasings_so_semicolons_stay_inside(tmp_path: Path) -> None:
    rows = [("Вопрос", "Варианты", "Ответ"), ("В", "первый; с точкой с запятой\nвторой", "О")]
    path = write_csv(tmp_path / "faq.csv", rows)

    assert read_entries(path)[0].phrasings == ("первый; с точкой с запятой", "второй")


@pytest.mark.parametrize(
    ("question_col", "answer_col", "category_col"),
    [("Текст вопроса", "текст  ответа", "тема"), ("2", "3", "1"), ("B", "c", "A")],
)
def test_columns_named_by_header_number_or_letter(
    tmp_path: Path, question_col: str, answer_col: str, category_col: str
) -> None:
    rows = [("Тема", "Текст вопроса", "Текст ответа"), ("ЖКХ", "Как оплатить?", "Онлайн.")]
    path = write_csv(tmp_path / "faq.csv", rows)

    entries = read_entries(
        path, question_col=question_col, answer_col=answer_col, category_col=category_col
    )

    assert without_origin(entries) == [EntryDraft("Как оплатить?", "Онлайн.", category="ЖКХ")]


def test_a_named_column_that_is_missing_lists_the_columns_found(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "faq.csv", [("Вопрос", "Ответ"), ("В", "О")])

    problem = the_problem(path, answer_col="Пояснение")

    assert problem.origin.row == 1
    assert "столбец «Пояснение», указанный с ответами, не найден" in problem.message
    assert "A «Вопрос», B «Ответ»" in problem.message


def test_missing_required_columns_name_what_was_looked_for(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "faq.csv", [("Текст", "Пояснение"), ("а", "б")])

    problems = problems_of(path)

    assert len(problems) == 2
    assert "не найден столбец с вопросами" in problems[0].message
    assert "«вопрос», «вопросы», «question»" in problems[0].message
    assert "--question-col" in problems[0].message
    assert "A «Текст», B «Пояснение»" in problems[0].message
    assert "не найден столбец с ответами" in problems[1].message


def test_two_question_columns_are_ambiguous(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "faq.csv", [("Вопрос", "Question", "Ответ"), ("а", "б", "в")])

    message = the_problem(path).message

    assert "столбцов с вопросами несколько: A «Вопрос» и B «Question»" in message


def test_one_column_for_question_and_answer_is_a_problem(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "faq.csv", [("Вопрос", "Ответ"), ("а", "б")])

    message = the_problem(path, answer_col="A").message

    assert "выбран и с вопросами, и с ответами" in message


def test_title_rows_above_the_header_are_skipped(tmp_path: Path) -> None:
    rows = [("Ответы на частые вопросы", ""), ("", ""), ("Вопрос", "Ответ"), ("В", "")]
    path = write_csv(tmp_path / "faq.csv", rows)

    problem = the_problem(path)

    assert (problem.origin.row, problem.origin.column) == (4, "Ответ")


def test_rows_are_numbered_as_excel_shows_them(tmp_path: Path) -> None:
    rows = [
        ("Вопрос", "Ответ"),
        ("Первый", "Ответ\nв\nнескольких\nстроках"),
        (),
        ("Третий", ""),
    ]
    path = write_csv(tmp_path / "faq.csv", rows)

    problem = the_problem(path)

    assert (problem.origin.row, problem.origin.letter) == (4, "B")


def test_excel_error_values_are_problems(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "faq.csv", [("Вопрос", "Ответ"), ("В", "#N/A")])

    problem = the_problem(path)

    assert (problem.origin.row, problem.origin.column) == (2, "Ответ")
    assert "ошибка Excel «#N/A»" in problem.message


def test_a_big_csv_is_read_whole_with_progress(tmp_path: Path) -> None:
    rows = [("Категория", "Вопрос", "Ответ")]
    rows += [
        (f"Раздел {n % 40}", f"Вопрос номер {n}?", f"Ответ {n}.\nВторая строка.")
        for n in range(20_000)
    ]
    path = write_csv(tmp_path / "big.csv", rows)
    calls: list[tuple[int, int]] = []

    entries = read_entries(path, progress=lambda done, total: calls.append((done, total)))

    assert len(entries) == 20_000
    assert entries[-1].question == "Вопрос номер 19999?"
    assert entries[-1].origin == "big.csv, строка 20001"
    assert len(calls) > 50
    assert calls[-1] == (20_001, 20_001)
    assert all(total == 20_001 for _, total in calls)
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "файл пуст"),
        (b"  \r\n\r\n", "файл пуст"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "картинка PNG"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "картинка JPEG"),
        (b"PK\x03\x04\x14\x00\x06\x00", "книга Excel (.xlsx)"),
        (b"\x00\x01\x02\x03\xfe\xfa" * 50, "двоичный файл"),
    ],
)
def test_files_that_are_not_tables_give_one_clear_problem(
    tmp_path: Path, content: bytes, expected: str
) -> None:
    path = tmp_path / "faq.csv"
    path.write_bytes(content)

    assert expected in the_problem(path).message


def test_a_sheet_option_for_a_csv_is_a_problem(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "faq.csv", ROWS)

    assert "лист указывают только для книг Excel" in the_problem(path, sheet="FAQ").message
