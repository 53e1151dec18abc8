from bots.polling import PositionFile
from bots.vk.processing import as_payload, event_key
from tests.factories import make_vk_message


def test_event_key_is_vks_event_id():
    assert event_key(make_vk_message(event_id="abc123")) == "abc123"


def test_event_without_a_usable_id_is_keyed_by_its_content():
    odd = [{"type": "x"}, {"event_id": 5}, {"event_id": "e" * 129}, [1, 2], None, "text"]

    keys = [event_key(event) for event in odd]

    assert all(key.startswith("sha256:") and len(key) <= 128 for key in keys)
    assert len(set(keys)) == len(odd)
    assert event_key({"b": 1, "a": [2]}) == event_key({"a": [2], "b": 1})


def test_non_object_events_are_stored_wrapped():
    assert as_payload([1, "два"]) == {"raw": [1, "два"]}
    assert as_payload({"type": "x"}) == {"type": "x"}


def test_ts_file_keeps_the_last_ts(tmp_path):
    path = tmp_path / "vk" / "longpoll-1.ts"

    PositionFile(path).save("1234")

    assert PositionFile(path).load() == "1234"
    assert PositionFile(tmp_path / "missing.ts").load() is None
    assert PositionFile(None).load() is None
