import pytest

from bots.telegram.keyboards import CallbackDataError, build_keyboard
from core.domain import Button


def test_rows_become_inline_keyboard_with_payload_as_callback_data():
    markup = build_keyboard(
        (
            (Button("👍 Помогло", "fh:1"), Button("👎 Не помогло", "fn:1")),
            (Button("Связаться с оператором", "op:1"),),
        )
    )
    assert [[(b.text, b.callback_data) for b in row] for row in markup.inline_keyboard] == [
        [("👍 Помогло", "fh:1"), ("👎 Не помогло", "fn:1")],
        [("Связаться с оператором", "op:1")],
    ]


def test_no_buttons_no_keyboard():
    assert build_keyboard(()) is None
    assert build_keyboard(((),)) is None


def test_payload_of_exactly_64_bytes_is_allowed():
    markup = build_keyboard(((Button("Да", "x" * 64),),))
    assert markup.inline_keyboard[0][0].callback_data == "x" * 64


@pytest.mark.parametrize("payload", ["x" * 65, "ж" * 33, ""])
def test_payload_telegram_would_refuse_is_refused_loudly(payload):
    with pytest.raises(CallbackDataError, match="payload of"):
        build_keyboard(((Button("Да", "ok"), Button("Нет", payload)),))
