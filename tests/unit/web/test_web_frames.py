"""The widget's frames from the browser: what the protocol allows, and an error frame
(never an exception of another kind) for everything else."""

from __future__ import annotations

import json
import random

import pytest

from bots.web import frames
from bots.web.frames import FrameError, Hello, Outgoing, Ping, parse
from tests.garbage import random_value

ID = "0123456789abcdef"


def test_the_frames_the_protocol_allows():
    assert parse('{"type": "hello", "token": "w1.a.b"}') == Hello("w1.a.b")
    assert parse('{"type": "hello", "token": null}') == Hello(None)
    assert parse('{"type": "hello", "token": 5}') == Hello(None)
    assert parse('{"type": "ping"}') == Ping()
    text = {"type": "message", "id": ID, "text": "  Где МФЦ?  ", "consent": True}
    assert parse(json.dumps(text)) == Outgoing("text", ID, "Где МФЦ?", consent=True)
    button = {"type": "button", "id": ID, "payload": "fn:12", "text": "👎 Не помогло"}
    assert parse(json.dumps(button)) == Outgoing("button", ID, "👎 Не помогло", "fn:12")
    photo = {"type": "photo", "id": ID, "file": "a" * 32 + ".png", "text": "яма"}
    assert parse(json.dumps(photo)) == Outgoing("photo", ID, "яма", file="a" * 32 + ".png")


def test_consent_is_only_a_true_boolean():
    for value in ("true", 1, "yes", None):
        frame = parse(json.dumps({"type": "message", "id": ID, "text": "x", "consent": value}))
        assert isinstance(frame, Outgoing) and frame.consent is False


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"\x00\x01", "bad_frame"),
        (None, "bad_frame"),
        ("x" * (frames.FRAME_LIMIT + 1), "too_large"),
        ("not json", "bad_json"),
        ("[" * 8000 + "]" * 8000, "bad_json"),  # past the parser's recursion limit
        ("[1, 2]", "bad_frame"),
        ('{"type": "sticker"}', "bad_frame"),
        ('{"type": "message", "text": "x"}', "bad_frame"),
        ('{"type": "message", "id": "short", "text": "x"}', "bad_frame"),
        ('{"type": "message", "id": "../../../etc", "text": "x"}', "bad_frame"),
        (f'{{"type": "message", "id": "{ID}", "text": 5}}', "bad_frame"),
        (f'{{"type": "message", "id": "{ID}", "text": " \\n\\u0000 "}}', "empty"),
        (json.dumps({"type": "message", "id": ID, "text": "я" * 4001}), "too_large"),
        (f'{{"type": "button", "id": "{ID}", "payload": ""}}', "bad_frame"),
        (json.dumps({"type": "button", "id": ID, "payload": "p" * 256}), "bad_frame"),
        (f'{{"type": "photo", "id": "{ID}", "file": "../djinn.sqlite3"}}', "bad_frame"),
        (f'{{"type": "photo", "id": "{ID}", "file": "{"a" * 32}.gif"}}', "bad_frame"),
    ],
)
def test_what_is_refused(raw, code):
    with pytest.raises(FrameError) as refused:
        parse(raw)
    assert refused.value.code == code
    assert refused.value.message  # for the visitor, in Russian
    assert refused.value.message != refused.value.code


def test_text_loses_what_cannot_be_stored():
    frame = parse(json.dumps({"type": "message", "id": ID, "text": "а\x00б\udcffв\x1bг\tд\nе"}))
    assert isinstance(frame, Outgoing) and frame.text == "абвг\tд\nе"


def test_random_json_is_a_frame_or_a_frame_error():
    rng = random.Random(7)
    for _ in range(3000):
        data = random_value(rng)
        if isinstance(data, dict) and rng.random() < 0.5:
            data["type"] = rng.choice(["message", "button", "photo", "hello"])
            data["id"] = rng.choice([ID, random_value(rng)])
        try:
            frame = parse(json.dumps(data))
        except FrameError:
            continue
        assert isinstance(frame, Hello | Ping | Outgoing)
