import pytest

from nlu.payloads import Action, Payload, decode


@pytest.mark.parametrize(
    "payload",
    [
        Payload(Action.HELPED, 12),
        Payload(Action.NOT_HELPED, 2**40),
        Payload(Action.OPERATOR),
        Payload(Action.CHOOSE, 7, 180),
        Payload(Action.CANCEL),
    ],
)
def test_round_trip_and_size(payload):
    encoded = payload.encode()
    assert decode(encoded) == payload
    assert len(encoded.encode()) <= 64


@pytest.mark.parametrize(
    "raw",
    [
        None,
        "",
        "zz:1",
        "fh",
        "fh:x",
        "fh:-1",
        "q:5",
        "fh:1:2:3",
        "fh:" + "9" * 70,
        "Помогло",
    ],
)
def test_anything_we_did_not_issue_is_rejected(raw):
    assert decode(raw) is None
