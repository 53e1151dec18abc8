from pathlib import Path
from textwrap import dedent

import pytest

import knowledge_base
from knowledge_base.drafts import EntryDraft, EntryStatus
from knowledge_base.io import read_entries

from .builders import problems_of, the_problem, without_origin

DEMO_FAQ = Path(knowledge_base.__file__).parent / "demo" / "faq"

GOOD = """\
format: djinn-faq/1
entries:
  - key: zhkh-pay-utilities     # stable id
    category: ЖКХ
    question: Как оплатить коммунальные услуги?
    phrasings: [Где платить за ЖКУ, Оплата квартплаты]
    answer: |-
      Оплатить можно:
      - в банке;
      - в МФЦ.
    status: draft
  - question: Где взять справку?
    answer: В МФЦ.
"""


def write(path: Path, text: str) -> Path:
    path.write_text(dedent(text), encoding="utf-8")
    return path


def test_our_format_is_read_with_every_field(tmp_path: Path) -> None:
    path = write(tmp_path / "faq.yaml", GOOD)

    entries = read_entries(path)

    assert without_origin(entries) == [
        EntryDraft(
            question="Как оплатить коммунальные услуги?",
            answer="Оплатить можно:\n- в банке;\n- в МФЦ.",
            category="ЖКХ",
            phrasings=("Где платить за ЖКУ", "Оплата квартплаты"),
            key="zhkh-pay-utilities",
            status=EntryStatus.DRAFT,
        ),
        EntryDraft("Где взять справку?", "В МФЦ."),
    ]
    assert entries[1].origin == "faq.yaml, строка 12, запись №2"


def test_a_folder_is_one_import_of_its_yaml_files_in_name_order(tmp_path: Path) -> None:
    write(tmp_path / "b.yml", GOOD)
    other = GOOD.replace("zhkh-pay-utilities", "other").replace("Где", "Куда")
    other = other.replace("Как оплатить", "Чем оплатить").replace("Оплата", "Плата")
    write(tmp_path / "a.yaml", other)
    (tmp_path / "notes.txt").write_text("не FAQ", encoding="utf-8")

    entries = read_entries(tmp_path)

    assert [entry.origin.split(",")[0] for entry in entries] == ["a.yaml"] * 2 + ["b.yml"] * 2


def test_problems_span_the_files_of_a_folder(tmp_path: Path) -> None:
    write(tmp_path / "a.yaml", GOOD)
    write(tmp_path / "b.yaml", GOOD.replace("Где взять справку?", "Новый вопрос"))

    problems = problems_of(tmp_path)

    assert [str(p) for p in problems] == [
        "b.yaml, строка 3, запись №1 «zhkh-pay-utilities», поле «key»: "
        "ключ «zhkh-pay-utilities» уже есть (a.yaml, строка 3, запись №1 «zhkh-pay-utilities») "
        "— ключи должны быть разными"
    ]


def test_a_folder_without_yaml_files_is_a_problem(tmp_path: Path) -> None:
    (tmp_path / "faq.csv").write_text("Вопрос;Ответ\n", encoding="utf-8")

    assert the_problem(tmp_path).message == "в папке нет файлов .yaml или .yml"


@pytest.mark.parametrize(
    ("text", "row", "expected"),
    [
        ("", None, "файл пуст"),
        ("просто текст", 1, "а в файле текст «просто текст»"),
        ("- question: В\n  answer: О\n", 1, "а в файле список — добавьте в начало"),
        ("entries: []\n", None, "нет строки «format: djinn-faq/1»"),
        ("format: djinn-faq/2\nentries: []\n", 1, "формат «djinn-faq/2» не поддерживается"),
        ("format: djinn-faq/1\n", None, "нет поля entries"),
        ("format: djinn-faq/1\nentries:\n  question: В\n", 3, "entries должен быть списком"),
        ("format: djinn-faq/1\nentries: []\nversion: 2\n", 3, "неизвестное поле"),
        ("format: djinn-faq/1\nentries: []\n", None, "нет ни одной записи"),
    ],
)
def test_a_file_that_is_not_our_format_gives_one_problem(
    tmp_path: Path, text: str, row: int | None, expected: str
) -> None:
    problem = the_problem(write(tmp_path / "faq.yaml", text))

    assert problem.origin.row == row
    assert expected in problem.message


def test_entry_problems_name_the_entry_its_key_the_field_and_the_line(tmp_path: Path) -> None:
    text = """\
        format: djinn-faq/1
        entries:
          - key: pay
            question: 112
            answr: Опечатка в имени поля
          - question: Формулировки строкой
            phrasings: одна, другая
            answer: О
          - Просто строка
          - question: Список формулировок
            phrasings: [Хорошо, 2024-01-01]
            answer: О
          - question: Повтор
            question: Повтор поля
            answer: [а, б]
        """
    problems = problems_of(write(tmp_path / "faq.yaml", text))

    assert [str(p) for p in problems] == [
        "faq.yaml, строка 4, запись №1 «pay», поле «question»: "
        "ожидался текст, а здесь число «112» — возьмите значение в кавычки",
        "faq.yaml, строка 5, запись №1 «pay», поле «answr»: "
        "неизвестное поле; в записи бывают поля "
        "key, category, question, phrasings, answer, status",
        "faq.yaml, строка 7, запись №2, поле «phrasings»: phrasings должен быть списком "
        "(каждая формулировка — с новой строки после «- »), а здесь текст «одна, другая»",
        "faq.yaml, строка 9, запись №3: запись должна состоять из полей question, answer, …, "
        "а здесь текст «Просто строка»",
        "faq.yaml, строка 11, запись №4, поле «phrasings»: "
        "формулировка №2: ожидался текст, а здесь дата «2024-01-01» — возьмите значение в кавычки",
        "faq.yaml, строка 14, запись №5, поле «question»: поле повторяется (уже было в строке 13)",
        "faq.yaml, строка 15, запись №5, поле «answer»: ожидался текст, а здесь список",
    ]


def test_empty_texts_and_checks_across_entries_name_the_entry(tmp_path: Path) -> None:
    text = """\
        format: djinn-faq/1
        entries:
          - key: first
            question: Как оплатить?
            answer: Через банк.
          - question: как  оплатить?
            answer: В МФЦ.
          - key: third
            question: Пустой ответ
            answer:
          - answer: Нет вопроса
        """
    problems = problems_of(write(tmp_path / "faq.yaml", text))

    assert [str(p) for p in problems] == [
        "faq.yaml, строка 7, запись №2, поле «answer»: вопрос «как оплатить?» уже есть "
        "(строка 3, запись №1 «first») с другим ответом — оставьте один ответ "
        "или измените один из вопросов",
        "faq.yaml, строка 10, запись №3 «third», поле «answer»: "
        "пустой ответ — впишите его или уберите эту запись",
        "faq.yaml, строка 11, запись №4: пустой вопрос — впишите его или уберите эту запись",
    ]


def test_a_text_with_an_unquoted_colon_in_a_mapping_is_explained(tmp_path: Path) -> None:
    text = "format: djinn-faq/1\nentries:\n  - question: Время: когда?\n    answer: О\n"

    problem = the_problem(write(tmp_path / "faq.yaml", text))

    assert problem.origin.row == 3
    assert problem.message.startswith("ошибка разметки YAML (позиция 20): двоеточие")


def test_a_broken_yaml_is_explained_in_russian(tmp_path: Path) -> None:
    text = 'format: djinn-faq/1\nentries:\n  - question: "незакрытая\n    answer: О\n'

    problem = the_problem(write(tmp_path / "faq.yaml", text))

    assert problem.message == "ошибка разметки YAML (позиция 1): не закрыта кавычка"


def test_entries_with_the_same_answer_stay_apart_in_yaml(tmp_path: Path) -> None:
    text = """\
        format: djinn-faq/1
        entries:
          - question: Куда жаловаться на УК?
            answer: Обратитесь в МФЦ.
          - question: Как получить проездной?
            answer: Обратитесь в МФЦ.
          - question: Как получить проездной?
            phrasings: [Проездной]
            answer: Обратитесь в МФЦ.
        """

    entries = read_entries(write(tmp_path / "faq.yaml", text))

    assert [(e.question, e.phrasings) for e in entries] == [
        ("Куда жаловаться на УК?", ()),
        ("Как получить проездной?", ("Проездной",)),
    ]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00", "не текстовый файл YAML"),
        ("format: djinn-faq/1\n# Ёж\n".encode("cp1251"), "не в кодировке UTF-8"),
    ],
)
def test_a_yaml_that_is_not_utf8_text(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "faq.yaml"
    path.write_bytes(content)

    assert expected in the_problem(path).message


def test_column_options_are_refused_for_yaml(tmp_path: Path) -> None:
    path = write(tmp_path / "faq.yaml", GOOD)

    assert "только для таблиц" in the_problem(path, question_col="B").message


def test_the_demo_faq_reads_without_problems() -> None:
    files = sorted(DEMO_FAQ.glob("*.y*ml"))
    assert files, f"the bundled demo FAQ is missing from {DEMO_FAQ}"

    entries = read_entries(DEMO_FAQ)

    for path in files:
        assert read_entries(path)
    assert all(entry.question and entry.answer for entry in entries)


def test_progress_counts_entries_across_files(tmp_path: Path) -> None:
    write(tmp_path / "a.yaml", GOOD)
    write(tmp_path / "b.yaml", "format: djinn-faq/1\nentries:\n  - {question: В, answer: О}\n")
    calls: list[tuple[int, int]] = []

    read_entries(tmp_path, progress=lambda done, total: calls.append((done, total)))

    assert calls == [(3, 3)]
