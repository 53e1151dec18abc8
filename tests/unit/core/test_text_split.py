import pytest

from bots.text import split_text, utf16_len

LIMIT = 200


def test_short_text_is_one_part():
    assert split_text("  Коротко.  ", LIMIT) == ["Коротко."]
    assert split_text("   ", LIMIT) == []


def test_parts_fit_and_nothing_is_lost():
    text = "\n\n".join(f"Абзац {i}. " + "Предложение номер один. " * 12 for i in range(10))
    parts = split_text(text, LIMIT)
    assert len(parts) > 1
    assert all(utf16_len(p) <= LIMIT for p in parts)
    assert " ".join(parts).split() == text.split()


def test_paragraphs_are_preferred_over_sentences():
    first, second = "А" * 120 + ".", "Б" * 120 + "."
    assert split_text(f"{first}\n\n{second}", LIMIT) == [first, second]


def test_a_url_is_never_cut():
    url = "https://www.gosuslugi.ru/" + "x" * 80
    text = "Слово " * 30 + url + " и ещё слова" * 10
    parts = split_text(text, LIMIT)
    assert any(url in p for p in parts)


def test_emoji_count_twice_as_telegram_counts_them():
    text = "😀" * 150
    parts = split_text(text, LIMIT)
    assert [utf16_len(p) for p in parts] == [200, 100]


def test_unpaired_surrogate_is_replaced():
    assert split_text("Ответ \ud800", LIMIT) == ["Ответ \ufffd"]


@pytest.mark.parametrize("size", [1, 5, 4096])
def test_a_word_longer_than_the_limit_is_cut(size):
    parts = split_text("я" * (size * 3), size)
    assert all(len(p) <= size for p in parts) and "".join(parts) == "я" * (size * 3)
