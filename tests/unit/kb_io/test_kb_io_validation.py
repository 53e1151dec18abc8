from pathlib import Path

import pytest

from knowledge_base.drafts import EntryDraft, EntryStatus
from knowledge_base.io import ImportFileError, Origin, Problem, read_entries

from .builders import problems_of, the_problem, without_origin, write_csv

HEADER = ("Вопрос", "Ответ")


def test_empty_question_and_answer_cells_are_named(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "faq.csv", [HEADER, ("Вопрос 1", "Ответ 1"), ("", "Ответ"), ("Вопрос", "  ")]
    )

    problems = problems_of(path)

    assert [(p.origin.row, p.origin.column) for p in problems] == [(3, "Вопрос"), (4, "Ответ")]
    assert str(problems[0]) == (
        "faq.csv, строка 3, столбец A «Вопрос»: пустой вопрос — впишите его или уберите эту запись"
    )
    assert "строка 4, столбец B «Ответ»: пустой ответ" in str(problems[1])


def test_one_question_with_two_answers_names_both_rows(tmp_path: Path) -> None:
    rows = [HEADER, ("Как оплатить?", "Через банк."), ("x", "y"), ("  как  ОПЛАТИТЬ? ", "В МФЦ.")]
    path = write_csv(tmp_path / "faq.csv", rows)

    problem = the_problem(path)

    assert (problem.origin.row, problem.origin.column) == (4, "Ответ")
    assert "уже есть (строка 2) с другим ответом" in problem.message


def test_questions_differing_only_in_yo_count_as_the_same(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "faq.csv", [HEADER, ("Где ёлка?", "Тут."), ("где елка?", "Там.")])

    assert the_problem(path).origin.row == 3


def test_repeated_keys_are_a_problem(tmp_path: Path) -> None:
    rows = [("Ключ", *HEADER), ("pay", "Вопрос 1", "Ответ 1"), ("pay", "Вопрос 2", "Ответ 2")]
    path = write_csv(tmp_path / "faq.csv", rows)

    problem = the_problem(path)

    assert (problem.origin.row, problem.origin.letter) == (3, "A")
    assert "ключ «pay» уже есть (строка 2)" in problem.message


@pytest.mark.parametrize("key", ["Pay", "оплата", "pay_1", "-pay", "a" * 101])
def test_keys_must_be_lowercase_latin_digits_and_hyphens(tmp_path: Path, key: str) -> None:
    path = write_csv(tmp_path / "faq.csv", [("Ключ", *HEADER), (key, "Вопрос", "Ответ")])

    problem = the_problem(path)

    assert problem.origin.column == "Ключ"
    assert "строчные латинские буквы" in problem.message


def test_phrasing_equal_to_another_question_is_a_problem(tmp_path: Path) -> None:
    rows = [
        ("Вопрос", "Формулировки", "Ответ"),
        ("Как оплатить?", "Где платить?; как заплатить", "Через банк."),
        ("Где платить?", "", "В МФЦ."),
        ("Режим работы?", "как заплатить", "С 9 до 18."),
    ]
    path = write_csv(tmp_path / "faq.csv", rows)

    problems = problems_of(path)

    assert [(p.origin.row, p.origin.column) for p in problems] == [
        (2, "Формулировки"),
        (4, "Формулировки"),
    ]
    assert "«Где платить?» совпадает с вопросом другой записи (строка 3)" in problems[0].message
    assert "«как заплатить» совпадает с формулировкой другой записи (строка 2)" in str(problems[1])


def test_overlong_texts_are_problems_that_mention_telegram(tmp_path: Path) -> None:
    rows = [
        ("Вопрос", "Формулировки", "Ответ"),
        ("в" * 501, "", "Ответ"),
        ("Вопрос", "ф" * 501, "о" * 4001),
        ("Ровно по пределу " + "в" * 483, "", "о" * 4000),
    ]
    path = write_csv(tmp_path / "faq.csv", rows)

    problems = problems_of(path)

    assert [(p.origin.row, p.origin.column) for p in problems] == [
        (2, "Вопрос"),
        (3, "Формулировки"),
        (3, "Ответ"),
    ]
    assert "вопрос длиннее 500 символов (501)" in problems[0].message
    assert "ответ длиннее 4000 символов (4001)" in problems[2].message
    assert "Telegram" in problems[2].message and "4096" in problems[2].message


def test_unknown_status_is_a_problem_and_russian_statuses_are_read(tmp_path: Path) -> None:
    rows = [
        ("Вопрос", "Ответ", "Статус"),
        ("В1", "О1", "Черновик"),
        ("В2", "О2", "в  архиве"),
        ("В3", "О3", "published"),
        ("В4", "О4", ""),
    ]
    good = write_csv(tmp_path / "good.csv", rows)
    bad = write_csv(tmp_path / "bad.csv", [*rows, ("В5", "О5", "скрыт")])

    statuses = [entry.status for entry in read_entries(good)]
    problem = the_problem(bad)

    assert statuses == [EntryStatus.DRAFT, EntryStatus.ARCHIVED] + [EntryStatus.PUBLISHED] * 2
    assert (problem.origin.row, problem.origin.column) == (6, "Статус")
    assert "неизвестный статус «скрыт»" in problem.message


def test_exact_repeats_are_merged_silently_with_phrasings_united(tmp_path: Path) -> None:
    rows = [
        ("Вопрос", "Формулировки", "Ответ"),
        ("Как оплатить?", "где платить", "Через банк."),
        ("Другой вопрос", "", "Другой ответ."),
        ("как  оплатить?", "куда платить|где платить", "Через банк."),
    ]
    path = write_csv(tmp_path / "faq.csv", rows)

    entries = without_origin(read_entries(path))

    assert entries == [
        EntryDraft("Как оплатить?", "Через банк.", phrasings=("где платить", "куда платить")),
        EntryDraft("Другой вопрос", "Другой ответ."),
    ]


def test_rows_with_the_same_answer_become_one_entry(tmp_path: Path) -> None:
    rows = [
        ("Категория", "Вопрос", "Формулировки", "Ответ"),
        ("ЖКХ", "Как оплатить ЖКУ?", "", "Через банк или в МФЦ."),
        ("ЖКХ", "Режим работы?", "", "С 9 до 18."),
        ("", "Где заплатить за свет?", "куда платить за свет", "Через банк или в МФЦ."),
        ("ЖКХ", "Как оплатить квартплату?", "", "Через банк или в МФЦ."),
    ]
    path = write_csv(tmp_path / "faq.csv", rows)

    entries = read_entries(path)

    assert without_origin(entries) == [
        EntryDraft(
            "Как оплатить ЖКУ?",
            "Через банк или в МФЦ.",
            category="ЖКХ",
            phrasings=(
                "Где заплатить за свет?",
                "куда платить за свет",
                "Как оплатить квартплату?",
            ),
        ),
        EntryDraft("Режим работы?", "С 9 до 18.", category="ЖКХ"),
    ]
    assert entries[0].origin == "faq.csv, строка 2"


def test_same_answer_in_different_categories_stays_two_entries(tmp_path: Path) -> None:
    rows = [
        ("Категория", "Вопрос", "Ответ"),
        ("ЖКХ", "Куда жаловаться на УК?", "Обратитесь в МФЦ."),
        ("Транспорт", "Как получить проездной?", "Обратитесь в МФЦ."),
    ]
    path = write_csv(tmp_path / "faq.csv", rows)

    assert [entry.question for entry in read_entries(path)] == [
        "Куда жаловаться на УК?",
        "Как получить проездной?",
    ]


def test_exact_repeat_with_another_category_is_a_problem(tmp_path: Path) -> None:
    rows = [("Раздел", *HEADER), ("ЖКХ", "Вопрос", "Ответ"), ("Транспорт", "вопрос", "Ответ")]
    path = write_csv(tmp_path / "faq.csv", rows)

    problem = the_problem(path)

    assert problem.origin.row == 3
    assert "запись повторяет вопрос и ответ (строка 2), но с другой категорией" in problem.message


def test_cells_are_cleaned_of_extra_spaces_and_invisible_characters(tmp_path: Path) -> None:
    rows = [
        ("Категория", *HEADER),
        (
            " \u200bЖКХ ",
            "  Как\u00a0  оплатить\r\nЖКУ?\u200d ",
            "  Первая   строка  \r\n\r\n\r\n\r\n  Вторая\u00adстрока\t\tконец  \n",
        ),
    ]
    path = write_csv(tmp_path / "faq.csv", rows)

    (entry,) = read_entries(path)

    assert entry.category == "ЖКХ"
    assert entry.question == "Как оплатить ЖКУ?"
    assert entry.answer == "Первая строка\n\nВтораястрока конец"


def test_every_problem_is_listed_up_to_fifty_with_the_rest_counted(tmp_path: Path) -> None:
    rows = [HEADER] + [(f"Вопрос {n}", "") for n in range(120)]
    path = write_csv(tmp_path / "faq.csv", rows)

    with pytest.raises(ImportFileError) as caught:
        read_entries(path)

    error = caught.value
    assert isinstance(error, ValueError)
    assert len(error.problems) == 50 and error.omitted == 70
    assert [p.origin.row for p in error.problems] == list(range(2, 52))
    assert str(error).startswith("Найдено 120 проблем; исправьте их и загрузите файл снова.\n")
    assert str(error).endswith("…и ещё 70 проблем.")


def test_nothing_is_returned_when_one_row_of_many_is_wrong(tmp_path: Path) -> None:
    rows = [HEADER] + [(f"Вопрос {n}", f"Ответ {n}") for n in range(100)] + [("Вопрос", "")]
    path = write_csv(tmp_path / "faq.csv", rows)

    assert the_problem(path).origin.row == 102


def test_a_table_with_only_a_header_is_a_problem(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "faq.csv", [HEADER, ("", ""), ("",)])

    assert "нет ни одной записи" in the_problem(path).message


def test_a_missing_file_is_a_problem(tmp_path: Path) -> None:
    assert the_problem(tmp_path / "нет.csv").message == "файл не найден"


@pytest.mark.parametrize(("name", "hint"), [("faq.docx", ""), ("faq.xls", "как .xlsx")])
def test_an_unknown_format_is_a_problem(tmp_path: Path, name: str, hint: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"\xd0\xcf\x11\xe0")

    message = the_problem(path).message

    assert message.startswith(f"неизвестный формат «{path.suffix}»")
    assert hint in message and "поддерживаются .yaml, .yml, .csv" in message


@pytest.mark.parametrize(
    ("count", "heading"),
    [
        (1, "Найдена 1 проблема;"),
        (3, "Найдены 3 проблемы;"),
        (11, "Найдено 11 проблем;"),
        (21, "Найдена 21 проблема;"),
    ],
)
def test_the_error_counts_its_problems_in_russian(count: int, heading: str) -> None:
    problems = [Problem(Origin("faq.csv", n + 2, "Ответ", "B"), "пусто") for n in range(count)]

    text = str(ImportFileError(problems))

    assert text.startswith(heading)
    assert "\n— faq.csv, строка 2, столбец B «Ответ»: пусто" in text
