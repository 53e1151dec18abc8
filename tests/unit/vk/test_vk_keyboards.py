import json

import pytest

from bots.vk.keyboards import PayloadTooLong, build_keyboard, encode_payload, short_label
from bots.vk.mappers import button_payload
from core.domain import Button
from tools.fake_vk.validation import parse_keyboard


def test_buttons_become_an_inline_keyboard_of_text_buttons():
    rows = (
        (Button("Помогло", "fh:1"), Button("Не помогло", "fn:1")),
        (Button("Оператор", "op:1"),),
    )

    keyboard = json.loads(build_keyboard(rows))

    assert keyboard["inline"] is True
    assert [[b["action"]["label"] for b in row] for row in keyboard["buttons"]] == [
        ["Помогло", "Не помогло"],
        ["Оператор"],
    ]
    first = keyboard["buttons"][0][0]["action"]
    assert first["type"] == "text"
    assert json.loads(first["payload"]) == {"c": "fh:1"}


def test_payload_round_trips_through_the_mapper():
    assert button_payload(encode_payload("q:17:3")) == "q:17:3"


def test_no_buttons_no_keyboard():
    assert build_keyboard(()) is None


def test_long_label_is_shortened_with_an_ellipsis():
    label = short_label("Как получить справку о составе семьи через МФЦ или Госуслуги")

    assert len(label) == 40
    assert label.endswith("…")
    assert label.startswith("Как получить справку о составе семьи")


def test_label_of_exactly_forty_characters_is_kept():
    assert short_label("я" * 40) == "я" * 40


def test_label_is_one_line():
    assert short_label("Первая\nвторая  строка") == "Первая вторая строка"


def test_payload_of_256_characters_is_refused():
    with pytest.raises(PayloadTooLong):
        encode_payload("x" * 248)


def test_payload_of_255_characters_is_accepted():
    assert len(encode_payload("x" * 247)) == 255


def test_button_with_a_too_long_payload_is_left_out_and_the_rest_kept(caplog):
    rows = ((Button("Длинная", "x" * 300), Button("Короткая", "ok")),)

    keyboard = json.loads(build_keyboard(rows))

    assert [b["action"]["label"] for b in keyboard["buttons"][0]] == ["Короткая"]
    assert "left out" in caplog.text


def test_too_many_buttons_are_cut_to_vk_inline_limits():
    rows = tuple(tuple(Button(f"{r}-{c}", f"p{r}{c}") for c in range(6)) for r in range(8))

    raw = build_keyboard(rows)

    keyboard = json.loads(raw)
    assert len(keyboard["buttons"]) <= 6
    assert all(len(row) <= 5 for row in keyboard["buttons"])
    assert sum(len(row) for row in keyboard["buttons"]) == 10
    parse_keyboard(raw)


def test_every_built_keyboard_passes_the_fake_vk_validation():
    rows = ((Button("Очень длинная подпись кнопки, больше сорока символов", "q:1:2"),),)

    parse_keyboard(build_keyboard(rows))
