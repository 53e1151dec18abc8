"""Photos: told apart by their first bytes, within 10 MB, and a visitor's photo's name
is theirs alone."""

from __future__ import annotations

import pytest

from bots.web.photos import PHOTO_LIMIT, PhotoRefused, PhotoStore, check, sniff
from tools.images import png

JPEG = b"\xff\xd8\xff\xe1" + bytes(64)
WEBP = b"RIFF\x00\x00\x00\x00WEBPVP8L" + bytes(16)


def test_formats_by_their_first_bytes():
    assert sniff(JPEG) == "jpg"
    assert sniff(png(4, 4)) == "png"
    assert sniff(WEBP) == "webp"
    for other in (b"GIF89a....", b"RIFF\x00\x00\x00\x00WAVE", b"\xff\xd8", b"", b"BM\x00\x00"):
        assert sniff(other) is None


def test_what_is_taken_and_what_is_refused():
    assert check(JPEG, "image/jpeg") == "jpg"
    assert check(JPEG, None) == "jpg"
    assert check(JPEG, "application/octet-stream") == "jpg"
    assert check(png(2, 2), "image/png; charset=binary") == "png"
    refusals = {
        (b"", "image/png"): ("photo_empty", 400),
        (b"GIF89a" + bytes(10), "image/gif"): ("photo_type", 415),
        (JPEG, "image/png"): ("photo_type", 415),
        (b"<svg/>", "image/svg+xml"): ("photo_type", 415),
        (JPEG + bytes(PHOTO_LIMIT), "image/jpeg"): ("photo_size", 413),
    }
    for (data, declared), (code, status) in refusals.items():
        with pytest.raises(PhotoRefused) as refused:
            check(data, declared)
        assert (refused.value.code, refused.value.status) == (code, status)
        assert refused.value.message.endswith(".")


async def test_a_visitors_photo_is_theirs(tmp_path):
    store = PhotoStore(tmp_path, b"k" * 32)
    name = await store.save("anna", JPEG, "jpg")
    assert store.owned(name, "anna")
    assert not store.owned(name, "boris")
    assert store.path(name) is not None and store.path(name).read_bytes() == JPEG
    assert not PhotoStore(tmp_path, b"x" * 32).owned(name, "anna")  # another key
    forged = name[:16] + "0" * 16 + ".jpg"
    assert not store.owned(forged, "anna")
    for bad in ("../secret", "x.jpg", name.replace(".jpg", ".gif"), ""):
        assert store.path(bad) is None and not store.owned(bad, "anna")


async def test_an_operators_photo_is_kept_once_under_its_file_id(tmp_path):
    store = PhotoStore(tmp_path, b"k" * 32)
    assert store.operator_photo("AgACAgIAAxkBAAIB") is None
    name = await store.save_operator("AgACAgIAAxkBAAIB", png(3, 3))
    assert name is not None and name.endswith(".png")
    assert store.operator_photo("AgACAgIAAxkBAAIB") == name
    assert await store.save_operator("AgACAgIAAxkBAAIB", png(3, 3, label="other")) == name
    assert store.path(name).read_bytes() == png(3, 3)
    assert await store.save_operator("AgACAgIAAxkBAAIC", b"GIF89a") is None
    assert not store.owned(name, "anna")  # not a visitor's to send
