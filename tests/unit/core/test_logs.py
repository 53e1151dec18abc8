import asyncio
import io
import json
import logging
import re
import warnings
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from core.logs import (
    configure_logging,
    conversation_scope,
    current_conversation_id,
    mask,
)
from core.settings import LogFormat, Settings
from nlu.servers import action_server_spec

_TOUCHED = ("aiogram.event", "httpx", "faiss.loader", "alembic.runtime.migration", "vkbottle")


@pytest.fixture
def configure() -> Iterator[Callable[[str], io.StringIO]]:
    """`configure_logging` into a buffer; the root logger and the libraries' loggers are
    put back afterwards (pytest's own capture handlers among them)."""
    root = logging.getLogger()
    saved = (root.level, root.handlers[:])
    libraries = {
        name: (lg.level, lg.handlers[:], lg.propagate)
        for name in _TOUCHED
        for lg in [logging.getLogger(name)]
    }

    def configure_into(fmt: str) -> io.StringIO:
        stream = io.StringIO()
        configure_logging("info", fmt, stream=stream)
        return stream

    showwarning = warnings.showwarning
    yield configure_into
    logging.captureWarnings(False)
    warnings.showwarning = showwarning
    root.setLevel(saved[0])
    root.handlers[:] = saved[1]
    for name, (level, handlers, propagate) in libraries.items():
        library = logging.getLogger(name)
        library.setLevel(level)
        library.handlers[:] = handlers
        library.propagate = propagate


# --- masking ---------------------------------------------------------------------------

RU = "+7********67"


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("+79161234567", RU),
        ("+7 916 123-45-67", RU),
        ("+7 (916) 123 45 67", RU),
        ("+7(916)123-45-67", RU),
        ("+7-916-123-45-67", RU),
        ("+7 916 1234567", RU),
        ("+ 7 916 123 45 67", RU),
        ("8 916 123-45-67", RU),
        ("8 (916) 123-45-67", RU),
        ("8(916)1234567", RU),
        ("89161234567", RU),
        ("8-916-123-45-67", RU),
        ("8 - 916 - 123 - 45 - 67", RU),
        ("8 495 123 45 67", RU),
        ("8 (3452) 12-34-56", "8 ********56"),
        ("79161234567", RU),
        ("7 916 123 45 67", RU),
        ("9161234567", RU),
        ("916 123-45-67", RU),
        ("(916) 123-45-67", RU),
        ("8\u00a0916\u00a0123\u00a045\u00a067", RU),
        ("8 800 555-35-35", "+7********35"),
        ("мой телефон 89161234567, перезвоните", f"мой телефон {RU}, перезвоните"),
        ("тел.:+7 916 123 45 67.", f"тел.:{RU}."),
        ("тел89161234567", f"тел{RU}"),
        ("phone=89161234567&x=1", f"phone={RU}&x=1"),
        ("'89161234567'", f"'{RU}'"),
        ('{"text": "9161234567"}', f'{{"text": "{RU}"}}'),
        (repr("Ленина 1\n89161234567"), repr("Ленина 1\n" + RU)),
        (repr("кв.\xa089161234567"), repr("кв.\xa0" + RU)),
        ("89161234567,89161234568", f"{RU},+7********68"),
        ("89161234567\n9161234568", f"{RU}\n+7********68"),
        ("id=5, phone 9161234567", f"id=5, phone {RU}"),
        ("user_id=5 +79161234567", f"user_id=5 {RU}"),
        ("id=+79161234567", f"id={RU}"),
        ("+44 20 7946 0958", "+**********58"),
        ("+1 (555) 123-4567", "+*********67"),
        ("+380 44 123 4567", "+**********67"),
        ("+7 7172 12 34 56", "+*********56"),
        ("(495) 123-45-67", "********67"),
        ("(8452) 12-34-56", "********56"),
        ("звоните 123-45-67", "звоните *****67"),
    ],
)
def test_phone_numbers_keep_only_their_last_two_digits(text, masked):
    assert mask(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "Update id=9161234567 is handled. Duration 916 ms by bot id=5123456789",
        '{"update_id": 9161234567, "message_id": 9161234568}',
        "user_id=9161234567",
        "chat_id: 9161234567",
        "peer id 9161234567",
        "'conversation_id': '9161234567'",
        "relay to chat -1001987654321",
        "VK peer 2000000001",
        "at 1767225600, 1767225600.123, 1767225600123 ms",
        "2026-01-15 12:34:56,789 INFO djinn: started",
        "2026-01-15T12:34:56.789+03:00",
        "2026-01-15T09:34:56.789Z",
        "took 916 ms, 9161 ms, 91612 ms",
        "duration=0.9161234567 score 0.89161234567",
        "127.0.0.1:5055",
        "192.168.100.200 and 89.161.234.56",
        "http://10.0.0.1:9161/path/9161234567",
        "appeal 2026-000123 (№ 2026-000124)",
        "Python 3.11.9, aiohttp 3.9.5",
        "sha 9f1a2b3c4d, token a9161234567f, x_9161234567",
        "uuid 550e8400-e29b-41d4-a716-446655440000",
        "offset +03:00 or +0300",
        "+100500 points",
        "bytes 12345678901234",
        "8-digit 12345678, 9-digit 916123456",
        "11 digits 91612345678",
        "16:45:12",
        'File "/work/main/nlu/rasa.py", line 916, in bot_messages',
        "port 8080, HTTP 502, v3.6.20",
        "1 2 3 4 5 6 7 8 9 10",
        "2026-01-15 / 15.01.2026 / 15-01-26",
    ],
)
def test_what_is_no_phone_number_stays(text):
    assert mask(text) == text


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("ivan.petrov@mail.ru", "***@mail.ru"),
        ("write to ivan+djinn@gmail.com.", "write to ***@gmail.com."),
        ("иван@почта.рф", "***@почта.рф"),
        ("petrov_89161234567@yandex.ru", "***@yandex.ru"),
        (
            "postgresql://djinn:s3cret@db.example.com/db",
            "postgresql://djinn:***@db.example.com/db",
        ),
    ],
)
def test_email_addresses_keep_only_their_domain(text, masked):
    assert mask(text) == masked


@pytest.mark.parametrize(
    "text",
    ["@djinn_bot", "user@localhost", "    @contextlib.contextmanager", "a @ b.ru"],
)
def test_what_is_no_email_address_stays(text):
    assert mask(text) == text


# --- the conversation -------------------------------------------------------------------


def test_conversation_scope_nests_and_restores():
    assert current_conversation_id() is None
    with conversation_scope(7):
        with conversation_scope(8):
            assert current_conversation_id() == 8
        assert current_conversation_id() == 7
        with conversation_scope(None):
            assert current_conversation_id() is None
    assert current_conversation_id() is None


async def test_the_conversation_follows_an_asyncio_task(configure):
    stream = configure("json")
    log = logging.getLogger("djinn.test")

    async def turn(conversation: int) -> None:
        with conversation_scope(conversation):
            await asyncio.sleep(0)  # the other turn runs in between
            await asyncio.create_task(asyncio.to_thread(log.info, "reply %s", conversation))
            log.info("turn %s", conversation)

    async def current() -> int | str | None:
        return current_conversation_id()

    with conversation_scope(1):
        inherited = asyncio.create_task(current())
    outside = asyncio.create_task(current())
    await asyncio.gather(turn(2), turn(3))

    assert (await inherited, await outside) == (1, None)
    records = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert sorted((r["message"], r["conversation_id"]) for r in records) == [
        ("reply 2", 2),
        ("reply 3", 3),
        ("turn 2", 2),
        ("turn 3", 3),
    ]


# --- formats ---------------------------------------------------------------------------


def test_text_format_is_the_old_one_with_the_conversation_after_the_message(configure):
    stream = configure("text")
    log = logging.getLogger("djinn.test")
    log.info("no conversation")
    with conversation_scope(42):
        log.info("a reply to %s", "+7 916 123-45-67")

    first, second = stream.getvalue().splitlines()
    stamp = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}"
    assert re.fullmatch(rf"{stamp} INFO djinn\.test: no conversation", first)
    assert re.fullmatch(rf"{stamp} INFO djinn\.test: a reply to \+7\*{{8}}67 \[c42\]", second)


def test_text_traceback_is_masked_and_the_conversation_stays_on_the_first_line(configure):
    stream = configure("text")
    with conversation_scope(42):
        try:
            raise ValueError("no such appeal for 89161234567 / ivan@mail.ru")
        except ValueError:
            logging.getLogger("djinn.test").exception("lookup failed")

    output = stream.getvalue()
    assert output.splitlines()[0].endswith("lookup failed [c42]")
    assert "Traceback (most recent call last)" in output
    assert f"ValueError: no such appeal for {RU} / ***@mail.ru" in output
    assert "1234567" not in output and "ivan" not in output


def test_json_line_carries_conversation_exception_and_extras_masked(configure):
    stream = configure("json")
    before = datetime.now(UTC)
    with conversation_scope(42):
        try:
            {}["89161234567"]
        except KeyError:
            logging.getLogger("djinn.test").error(
                "failed for %s",
                "ivan@mail.ru",
                exc_info=True,
                extra={"update_id": 9161234567, "note": "тел 89161234567", "obj": object()},
            )

    [line] = stream.getvalue().splitlines()
    entry = json.loads(line)
    assert datetime.fromisoformat(entry["time"]) - before < timedelta(seconds=5)
    assert entry["time"].endswith("Z")
    assert {k: entry[k] for k in ("level", "logger", "message", "conversation_id")} == {
        "level": "ERROR",
        "logger": "djinn.test",
        "message": "failed for ***@mail.ru",
        "conversation_id": 42,
    }
    assert entry["exception"].startswith("Traceback (most recent call last)")
    assert entry["exception"].endswith(f"KeyError: '{RU}'")
    assert (entry["update_id"], entry["note"]) == (9161234567, f"тел {RU}")
    assert "obj" not in entry


def test_json_line_without_conversation_or_exception_has_neither(configure):
    stream = configure("json")
    logging.getLogger("djinn.test").warning("plain", extra={"conversation_id": None})
    logging.getLogger("djinn.test").warning("explicit", extra={"conversation_id": 5})

    plain, explicit = (json.loads(line) for line in stream.getvalue().splitlines())
    assert set(plain) == {"time", "level", "logger", "message"}
    assert explicit["conversation_id"] == 5


def test_libraries_records_go_through_our_handler_and_noisy_ones_are_quiet(configure):
    own = io.StringIO()
    vkbottle = logging.getLogger("vkbottle")
    vkbottle.handlers[:] = [logging.StreamHandler(own)]
    stream = configure("text")

    vkbottle.info("VK answered for 89161234567")
    vkbottle.debug("request with data {'message': 'text'}")
    logging.getLogger("httpx").info("HTTP Request: POST https://api.telegram.org/bot1:secret/x")
    logging.getLogger("sanic.error").warning("from +79161234567")

    output = stream.getvalue()
    assert f"VK answered for {RU}" in output and f"from {RU}" in output
    assert "request with data" not in output and "secret" not in output
    assert own.getvalue() == ""


def test_python_warnings_become_masked_records(configure):
    stream = configure("json")
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.warn("odd reply for 89161234567", UserWarning, stacklevel=1)

    [entry] = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert entry["logger"] == "py.warnings"
    assert f"UserWarning: odd reply for {RU}" in entry["message"]


def test_unknown_format_is_refused_and_nothing_changes(configure):
    root = logging.getLogger()
    handlers = root.handlers[:]
    with pytest.raises(ValueError, match="xml"):
        configure("xml")
    assert root.handlers == handlers


# --- settings --------------------------------------------------------------------------


def test_log_format_setting_reaches_the_action_server(monkeypatch, tmp_path):
    assert Settings(_env_file=None).log_format is LogFormat.TEXT
    monkeypatch.setenv("DJINN_LOG_FORMAT", "json")
    settings = Settings(_env_file=None, data_dir=tmp_path)

    assert settings.log_format is LogFormat.JSON
    assert action_server_spec(settings).env["DJINN_LOG_FORMAT"] == "json"
    monkeypatch.setenv("DJINN_LOG_FORMAT", "xml")
    with pytest.raises(ValidationError, match="DJINN_LOG_FORMAT"):
        Settings(_env_file=None)
