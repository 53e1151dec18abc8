"""A VK photo keeps the URL of its largest size: the operators see it in Telegram, which
fetches it by that URL."""

import pytest

from bots.vk.mappers import event_to_message
from tests.factories import make_vk_message

CDN = "https://sun9-1.userapi.com/impg/abc.jpg?size="


def photo_event(sizes: object) -> dict:
    body = {"id": 9, "owner_id": 42, "access_key": "k3y", "sizes": sizes}
    return make_vk_message("", attachments=[{"type": "photo", "photo": body}])


def size(kind: str, width: int, height: int) -> dict:
    url = f"{CDN}{width}x{height}&type={kind}"
    return {"type": kind, "width": width, "height": height, "url": url}


def test_the_largest_size_is_kept():
    sizes = [size("s", 75, 56), size("w", 1280, 960), size("x", 604, 453)]

    [photo] = event_to_message(photo_event(sizes)).attachments

    assert photo == {"type": "photo", "id": "photo42_9_k3y", "url": sizes[1]["url"]}


def test_sizes_without_dimensions_are_ranked_by_type():
    sizes = [size("z", 0, 0), size("m", 0, 0), size("y", 0, 0)]

    [photo] = event_to_message(photo_event(sizes)).attachments

    assert photo["url"] == sizes[0]["url"]  # z
    assert event_to_message(photo_event(sizes[1:])).attachments[0]["url"] == sizes[2]["url"]


@pytest.mark.parametrize(
    "sizes",
    [None, "sizes", [None, 5], [{"type": "x", "width": 604, "height": 453}], [{"url": "ftp://x"}]],
    ids=["none", "not a list", "not objects", "no url", "not http"],
)
def test_sizes_vk_would_not_give_leave_no_url(sizes):
    [photo] = event_to_message(photo_event(sizes)).attachments

    assert photo == {"type": "photo", "id": "photo42_9_k3y"}
