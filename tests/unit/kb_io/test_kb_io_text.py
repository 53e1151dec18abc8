import pytest

from knowledge_base.io.text import (
    clean_line,
    clean_text,
    escape_formula,
    join_phrasings,
    question_key,
    split_phrasings,
    unescape_formula,
)


def test_clean_line_makes_one_line() -> None:
    assert (
        clean_line("\ufeff  Как\u00a0\u00a0оплатить\r\n\tЖКУ?\u200b\x07 ") == "Как оплатить ЖКУ?"
    )


def test_clean_text_keeps_paragraphs_and_list_lines() -> None:
    text = "  Адрес:\r\n  ул. Ленина,   1\r\r\r\r\n- пн–пт\u2028- сб  "

    assert clean_text(text) == "Адрес:\nул. Ленина, 1\n\n- пн–пт\n- сб"


def test_decomposed_letters_are_composed() -> None:
    assert clean_line("Е\u0308ж и\u0306од") == "Ёж йод"


def test_question_key_ignores_case_spaces_and_yo() -> None:
    assert question_key("Где  ЁЛКА?") == question_key("где елка?")
    assert question_key("Где ёлка?") != question_key("Где ёлка")


@pytest.mark.parametrize(
    ("cell", "phrasings"),
    [
        ("раз; два | три", ("раз", "два", "три")),
        ("раз;;  ; два", ("раз", "два")),
        ("раз; с точкой\nдва | с чертой\n\n", ("раз; с точкой", "два | с чертой")),
        ("Раз\nраз\nРАЗ", ("Раз",)),
        ("", ()),
    ],
)
def test_split_phrasings(cell: str, phrasings: tuple[str, ...]) -> None:
    assert split_phrasings(cell) == phrasings


@pytest.mark.parametrize(
    "phrasings",
    [(), ("один",), ("один; с точкой",), ("с | чертой",), ("раз", "два; три", "четыре|пять")],
)
def test_join_phrasings_is_undone_by_split(phrasings: tuple[str, ...]) -> None:
    assert split_phrasings(join_phrasings(phrasings)) == phrasings


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        ("=СУММ(A1)", "'=СУММ(A1)"),
        ("+7 900", "'+7 900"),
        ("-5", "'-5"),
        ("@all", "'@all"),
        ("'=уже", "''=уже"),
        ("'просто", "'просто"),
        ("текст = текст", "текст = текст"),
    ],
)
def test_formula_escaping_round_trips(text: str, escaped: str) -> None:
    assert escape_formula(text) == escaped
    assert unescape_formula(escaped) == text
