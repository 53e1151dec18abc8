"""Platform JSON read the same way by every channel: text that can be stored and
integers that fit the database."""

import pytest

from bots.raw import clean_text, int64


class Refused(Exception):
    pass


def test_clean_text_drops_nul_and_replaces_lone_surrogates_keeping_the_rest():
    assert clean_text("до\x00бр\ud800ый 👋 день") == "добр\ufffdый 👋 день"


@pytest.mark.parametrize("value", [True, "12", 1.5, 2**63, -(2**63), None])
def test_int64_refuses_what_is_not_a_64_bit_integer_with_the_channels_error(value):
    with pytest.raises(Refused, match="peer_id is not a 64-bit integer"):
        int64({"peer_id": value}, "peer_id", Refused)


def test_int64_reads_integers_and_a_missing_field_as_zero():
    assert int64({"id": 2**63 - 1}, "id", Refused) == 2**63 - 1
    assert int64({}, "id", Refused) == 0
