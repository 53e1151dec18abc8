from pathlib import Path

import openpyxl
import pytest
import yaml

from knowledge_base.drafts import EntryDraft, EntryStatus
from knowledge_base.io import read_entries, write_entries

from .builders import without_origin

AWKWARD = [
    EntryDraft(
        question='Как оплатить «ЖКУ»; где взять "квитанцию"?',
        answer="=СУММ(A1) — это не формула.\n- паспорт;\n- СНИЛС | ИНН\n\nГотово 😀 «ёлочки»",
        category="ЖКХ",
        phrasings=("оплата; квитанция",),
        key="zhkh-pay",
        status=EntryStatus.DRAFT,
    ),
    EntryDraft(
        question="+7 это код России?",
        answer="-5 градусов",
        phrasings=("=1+1", "б|в", "@упоминание", "'=цитата"),
    ),
    EntryDraft(
        question="yes",
        answer="123",
        category="null",
        phrasings=("2024-01-01", "#REF"),
        status=EntryStatus.ARCHIVED,
    ),
    EntryDraft(question="Ёлка: когда?", answer="'=уже с апострофом\nвторая строка", key="k-2"),
    EntryDraft(question="Пустые поля", answer="Только вопрос и ответ."),
]


@pytest.mark.parametrize("suffix", [".yaml", ".yml", ".csv", ".tsv", ".xlsx"])
def test_export_then_import_gives_the_same_entries(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"export{suffix}"

    write_entries(path, AWKWARD)

    assert without_origin(read_entries(path)) == AWKWARD


@pytest.mark.parametrize("suffix", [".yaml", ".csv", ".xlsx"])
def test_imported_entries_say_where_they_came_from(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"export{suffix}"
    write_entries(path, AWKWARD)

    origins = [entry.origin for entry in read_entries(path)]

    assert all(origin.startswith(path.name) for origin in origins)
    assert len(set(origins)) == len(AWKWARD)


def test_csv_export_is_excel_friendly(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    write_entries(path, AWKWARD)

    raw = path.read_bytes()
    text = raw.decode("utf-8-sig")

    assert raw.startswith(b"\xef\xbb\xbf")
    assert text.splitlines()[0] == "Ключ;Категория;Вопрос;Формулировки;Ответ;Статус"
    assert "\"'=СУММ(A1)" in text
    assert ";'-5 градусов;" in text
    assert ";черновик" in text and ";в архиве" in text


def test_xlsx_export_keeps_texts_as_text_and_is_formatted(tmp_path: Path) -> None:
    path = tmp_path / "export.xlsx"
    write_entries(path, AWKWARD)

    sheet = openpyxl.load_workbook(path).worksheets[0]

    assert [cell.value for cell in sheet[1]] == [
        "Ключ",
        "Категория",
        "Вопрос",
        "Формулировки",
        "Ответ",
        "Статус",
    ]
    assert all(cell.font.bold for cell in sheet[1])
    answer = sheet["E2"]
    assert answer.data_type == "s"
    assert answer.value.startswith("=СУММ")
    assert answer.quotePrefix
    assert answer.alignment.wrap_text
    assert sheet.column_dimensions["E"].width > sheet.column_dimensions["A"].width
    assert sheet.freeze_panes == "A2"


def test_yaml_export_writes_multiline_answers_as_blocks(tmp_path: Path) -> None:
    path = tmp_path / "export.yaml"
    write_entries(path, AWKWARD)

    text = path.read_text(encoding="utf-8")

    assert text.startswith("format: djinn-faq/1\nentries:\n  - key: zhkh-pay\n")
    assert "    answer: |-\n      =СУММ(A1)" in text
    assert "😀" in text
    assert yaml.safe_load(text)["entries"][4] == {
        "question": "Пустые поля",
        "answer": "Только вопрос и ответ.",
    }


def test_export_to_an_unknown_format_is_refused_in_russian(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"Не умею сохранять в формате «\.docx»"):
        write_entries(tmp_path / "faq.docx", AWKWARD)
    assert list(tmp_path.iterdir()) == []


def test_export_replaces_an_existing_file_whole(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    write_entries(path, AWKWARD)

    write_entries(path, AWKWARD[:1])

    assert without_origin(read_entries(path)) == AWKWARD[:1]
    assert [p.name for p in tmp_path.iterdir()] == ["export.csv"]
