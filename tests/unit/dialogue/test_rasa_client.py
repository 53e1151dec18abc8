"""The Rasa client against a fake Rasa on 127.0.0.1: both reply shapes, every way Rasa
can fail a turn, and what of a failed or retried turn is undone in Rasa's tracker."""

import asyncio
import logging
import socket
from collections.abc import AsyncIterator

import pytest

from core.domain import Button, Channel, MessageKind
from nlu.engine import BotMessage, DialogueTurn
from nlu.rasa import DialogueUnavailable, RasaDialogueEngine, RasaHealth
from nlu.rasa_tracker import UNDO_TURN
from tests.fake_rasa import FakeRasa, Unlogged, held, later, raw, reply


def turn(text: str = "хочу подать заявку", conversation: int = 7, **values) -> DialogueTurn:
    fields = dict(message_id=31, channel=Channel.TELEGRAM, kind=MessageKind.TEXT, text=text)
    return DialogueTurn(conversation_id=conversation, **(fields | values))


@pytest.fixture
async def rasa() -> AsyncIterator[FakeRasa]:
    async with FakeRasa() as fake:
        yield fake


@pytest.fixture
async def engine(rasa) -> AsyncIterator[RasaDialogueEngine]:
    async with RasaDialogueEngine(rasa.url, timeout=5.0) as engine:
        yield engine


async def test_domain_responses_become_one_button_a_row(rasa, engine):
    rasa.queue(
        reply(
            [
                {
                    "recipient_id": "7",
                    "text": "Вы согласны на обработку персональных данных?",
                    "buttons": [
                        {"title": "Да", "payload": "/affirm"},
                        {"title": "Нет", "payload": "/deny"},
                    ],
                }
            ]
        )
    )
    assert await engine.respond(turn()) == [
        BotMessage(
            "Вы согласны на обработку персональных данных?",
            ((Button("Да", "/affirm"),), (Button("Нет", "/deny"),)),
        )
    ]
    [sent] = rasa.requests
    assert sent == {
        "sender": "7",
        "message": "хочу подать заявку",
        "metadata": {"message_id": 31, "channel": "telegram", "kind": "text", "attachments": []},
    }


async def test_actions_send_rows_of_buttons_as_custom_json(rasa, engine):
    rows = [
        [{"text": "ЖКХ", "payload": '/inform{"appeal_category": "zhkh"}'}, {"text": "Дороги"}],
        [{"text": "Отмена", "payload": "/cancel"}],
    ]
    rasa.queue(
        reply([{"recipient_id": "7", "custom": {"djinn": {"text": "Тема?", "buttons": rows}}}])
    )
    [message] = await engine.respond(turn())
    assert message == BotMessage(
        "Тема?",
        (
            (Button("ЖКХ", '/inform{"appeal_category": "zhkh"}'),),
            (Button("Отмена", "/cancel"),),
        ),
    )


async def test_paragraphs_the_rest_channel_split_are_joined_back(rasa, engine):
    rasa.queue(
        reply(
            [
                {"text": "Первый абзац."},
                {"text": "Второй абзац."},
                {"text": "Что дальше?", "buttons": [{"title": "Меню", "payload": "/greet"}]},
                {"text": "После кнопок."},
                {"custom": {"something": "else"}},
                {"image": "https://example.org/map.png"},
            ]
        )
    )
    messages = await engine.respond(turn())
    assert [m.text for m in messages] == [
        "Первый абзац.\n\nВторой абзац.",
        "Что дальше?",
        "После кнопок.\n\nhttps://example.org/map.png",
    ]


async def test_media_is_sent_as_send_media_with_its_kind_and_files(rasa, engine):
    rasa.queue(reply([{"text": "Фото получено."}]))
    photo = turn(
        "вот яма", kind=MessageKind.PHOTO, channel=Channel.VK, attachments=({"id": "p1"},)
    )
    await engine.respond(photo)
    [sent] = rasa.requests
    assert sent["message"] == "/send_media"
    assert sent["metadata"] == {
        "message_id": 31,
        "channel": "vk",
        "kind": "photo",
        "attachments": [{"id": "p1"}],
        "caption": "вот яма",
    }


FAILURES = {
    "500": raw("Internal Server Error", status=500, content_type="text/plain"),
    "502": raw("<html>502 Bad Gateway</html>", status=502, content_type="text/html"),
    "garbage": raw("{not json"),
    "not-a-list": raw('{"text": "a dict, not a list"}'),
}
HELLO = [{"text": "Здравствуйте!"}]
LISTENING = [{"text": "Слушаю."}]


@pytest.mark.parametrize("failure", FAILURES.values(), ids=FAILURES.keys())
async def test_a_failed_turn_rasa_applied_is_rewound_before_the_next_one(rasa, engine, failure):
    rasa.queue(reply(HELLO), failure, reply(LISTENING))
    await engine.respond(turn("привет", message_id=30))
    with pytest.raises(DialogueUnavailable):
        await engine.respond(turn(message_id=31))
    assert await engine.respond(turn("алло", message_id=32)) == [BotMessage("Слушаю.")]
    assert rasa.events == [("7", UNDO_TURN)]
    assert rasa.calls[1:] == [
        ("webhook", "7"),
        ("tracker", "7"),
        ("events", "7"),
        ("webhook", "7"),
    ]
    assert rasa.applied_ids() == [30, 32]


@pytest.mark.parametrize("status", [500, 502])
async def test_500_before_rasa_logged_the_message_rewinds_nothing(rasa, engine, status):
    failure = Unlogged(raw("Internal Server Error", status=status, content_type="text/plain"))
    rasa.queue(reply(HELLO), failure, reply(LISTENING))
    await engine.respond(turn("привет", message_id=30))
    with pytest.raises(DialogueUnavailable, match=f"HTTP {status}"):
        await engine.respond(turn(message_id=31))
    assert await engine.respond(turn("алло", message_id=32)) == [BotMessage("Слушаю.")]
    assert ("tracker", "7") in rasa.calls, "Rasa was asked what it applied"
    assert rasa.events == [], "the previous turn, still the latest, is kept"
    assert rasa.applied_ids() == [30, 32]


async def test_a_failed_turn_is_not_rewound_when_rasa_cannot_say(rasa, engine, caplog):
    rasa.queue(reply(HELLO), FAILURES["500"], reply(LISTENING))
    await engine.respond(turn("привет", message_id=30))
    rasa.tracker_status = 500
    with caplog.at_level(logging.WARNING, logger="nlu.rasa"):
        with pytest.raises(DialogueUnavailable):
            await engine.respond(turn(message_id=31))
        await engine.respond(turn("алло", message_id=32))
    assert rasa.events == []
    assert "could not undo a failed turn in Rasa: HTTP 500" in caplog.text


async def test_connection_refused_is_unavailable_with_nothing_to_undo(caplog):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with RasaDialogueEngine(f"http://127.0.0.1:{port}", timeout=5.0) as engine:
        with pytest.raises(DialogueUnavailable, match="unreachable"):
            await engine.respond(turn())
        assert not engine._late, "the message never reached Rasa: its tracker is not asked"
    assert "could not undo" not in caplog.text


async def test_an_empty_reply_is_unavailable_and_rasa_forgets_the_turn(rasa, engine):
    rasa.queue(reply([]), reply(LISTENING))
    with pytest.raises(DialogueUnavailable, match="empty"):
        await engine.respond(turn())
    assert await engine.respond(turn("алло", message_id=32)) == [BotMessage("Слушаю.")]
    assert rasa.events == [("7", UNDO_TURN)]
    assert rasa.applied_ids() == [32]


async def test_a_late_reply_is_dropped_and_the_turn_rewound_before_the_next_one(rasa):
    release = asyncio.Event()
    rasa.queue(held(release, [{"text": "Поздний ответ"}]), reply([{"text": "Следующий"}]))
    async with RasaDialogueEngine(rasa.url, timeout=0.05) as engine:
        with pytest.raises(DialogueUnavailable, match="no reply within"):
            await engine.respond(turn())
        assert rasa.events == []  # Rasa is still busy with the turn: nothing to undo yet
        release.set()
        await asyncio.wait_for(rasa.events_seen.wait(), 10)
        assert rasa.events == [("7", UNDO_TURN)]
        assert await engine.respond(turn("дальше")) == [BotMessage("Следующий")]


async def test_the_next_turn_waits_for_a_late_reply_of_its_conversation(rasa):
    release = asyncio.Event()
    rasa.queue(held(release, [{"text": "Поздний ответ"}]), reply([{"text": "Следующий"}]))
    async with RasaDialogueEngine(rasa.url, timeout=0.05) as engine:
        with pytest.raises(DialogueUnavailable):
            await engine.respond(turn())
        with pytest.raises(DialogueUnavailable, match="still being processed"):
            await engine.respond(turn("дальше"))
        assert len(rasa.requests) == 1
        release.set()
        await asyncio.wait_for(rasa.events_seen.wait(), 10)
        assert await engine.respond(turn("дальше")) == [BotMessage("Следующий")]


async def test_a_late_reply_once_rewound_is_not_kept(rasa):
    release = asyncio.Event()
    rasa.queue(held(release, [{"text": "Поздний ответ"}]))
    async with RasaDialogueEngine(rasa.url, timeout=0.05) as engine:
        with pytest.raises(DialogueUnavailable):
            await engine.respond(turn())
        assert engine._late, "the late reply is awaited"
        release.set()
        async with asyncio.timeout(10):
            while engine._late:  # a conversation that never writes again leaks nothing
                await asyncio.sleep(0.01)
        assert rasa.events == [("7", UNDO_TURN)]


async def test_a_late_failure_before_rasa_logged_the_message_rewinds_nothing(rasa):
    release = asyncio.Event()
    failure = Unlogged(later(release, FAILURES["500"]))
    rasa.queue(reply(HELLO), failure, reply(LISTENING))
    async with RasaDialogueEngine(rasa.url, timeout=1.0) as engine:
        await engine.respond(turn("привет", message_id=30))
        with pytest.raises(DialogueUnavailable, match="no reply within"):
            await engine.respond(turn(message_id=31))
        release.set()
        assert await engine.respond(turn("алло", message_id=32)) == [BotMessage("Слушаю.")]
    assert rasa.events == []
    assert rasa.applied_ids() == [30, 32]


async def test_a_retry_of_a_message_rasa_already_has_is_rewound_then_posted(rasa, engine):
    rasa.applied["7"] = [{"message_id": 30}, {"message_id": 31}]  # the first attempt got there
    rasa.queue(reply([{"text": "Тема?"}]))
    assert await engine.respond(turn(message_id=31, retry=True)) == [BotMessage("Тема?")]
    assert rasa.calls == [("tracker", "7"), ("events", "7"), ("webhook", "7")]
    assert rasa.applied_ids() == [30, 31]


async def test_a_retry_of_a_message_rasa_never_got_is_posted_once(rasa, engine):
    rasa.applied["7"] = [{"message_id": 30}]
    rasa.queue(reply([{"text": "Тема?"}]))
    assert await engine.respond(turn(message_id=31, retry=True)) == [BotMessage("Тема?")]
    assert rasa.calls == [("tracker", "7"), ("webhook", "7")]
    assert rasa.applied_ids() == [30, 31]


async def test_a_retry_is_not_posted_while_rasa_cannot_say_whether_it_has_it(rasa, engine):
    rasa.applied["7"] = [{"message_id": 31}]
    rasa.tracker_status = 503
    with pytest.raises(DialogueUnavailable, match="HTTP 503"):
        await engine.respond(turn(message_id=31, retry=True))
    assert rasa.requests == []
    assert rasa.applied_ids() == [31]


async def test_a_retry_after_a_late_reply_waits_for_its_rewind_and_is_applied_once(rasa):
    release = asyncio.Event()
    rasa.queue(held(release, [{"text": "Поздний ответ"}]), reply([{"text": "Тема?"}]))
    async with RasaDialogueEngine(rasa.url, timeout=1.0) as engine:
        with pytest.raises(DialogueUnavailable, match="no reply within"):
            await engine.respond(turn(message_id=31))
        release.set()
        again = await engine.respond(turn(message_id=31, retry=True))
    assert again == [BotMessage("Тема?")]
    assert rasa.calls == [
        ("webhook", "7"),  # answered late, then undone
        ("tracker", "7"),
        ("events", "7"),
        ("tracker", "7"),  # the retry finds it undone already
        ("webhook", "7"),
    ]
    assert rasa.applied_ids() == [31]


async def test_health_waits_until_both_answer(rasa):
    rasa.status = 409
    health = RasaHealth(rasa.url, rasa.url)
    try:
        with pytest.raises(TimeoutError, match="Rasa: HTTP 409"):
            await health.wait(0.2)
        asyncio.get_running_loop().call_later(0.3, setattr, rasa, "status", 200)
        await health.wait(30)
        assert await health.problem() is None
    finally:
        await health.aclose()


async def test_health_names_what_is_down(rasa):
    health = RasaHealth(rasa.url, rasa.url)
    try:
        assert await health.problem() is None
        rasa.status = 409  # Rasa answers but has no model loaded
        assert await health.problem() == "Rasa: HTTP 409"
        rasa.status, rasa.health = 200, 500
        assert await health.problem() == "action server: HTTP 500"
    finally:
        await health.aclose()


async def test_health_of_servers_that_do_not_answer():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}"
    health = RasaHealth(url, url)
    try:
        problem = await health.problem()
    finally:
        await health.aclose()
    assert problem is not None
    assert problem.startswith("Rasa: ") and "; action server: " in problem
