import logging

from nlu.engine import BotMessage
from nlu.rasa import bot_messages


def test_unshown_rasa_message_is_logged_by_its_shape_not_its_text(caplog):
    summary = "Адрес: ул. Ленина, 1, кв. 5; телефон +7 916 123-45-67"
    body = [
        {"recipient_id": "42", "custom": {"appeal": {"text": summary}}},
        "Адрес: ул. Ленина",
        {"recipient_id": "42", "text": "Здравствуйте!"},
    ]

    with caplog.at_level(logging.WARNING, logger="nlu.rasa"):
        assert bot_messages(body) == [BotMessage("Здравствуйте!")]

    first, second = (record.getMessage() for record in caplog.records)
    assert first.endswith("{'recipient_id': 'str', 'custom': 'dict'}")
    assert second.endswith(": str")
    assert "Ленина" not in caplog.text and "916" not in caplog.text
