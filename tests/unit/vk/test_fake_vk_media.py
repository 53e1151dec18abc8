"""The fake VK's photos and documents: citizens' photos with sizes the fake serves, and
the upload flow a community uses to send one (vkbottle's own uploaders against the
fake), held to what VK refuses."""

import json
from collections.abc import AsyncIterator

import aiohttp
import pytest
from vkbottle import API, VKAPIError
from vkbottle.tools import DocMessagesUploader, PhotoMessageUploader

from bots.vk.client import build_api
from tools.fake_vk import FakeVk
from tools.fake_vk.media import image_size, png

PEER = 7


@pytest.fixture
async def api(vk: FakeVk) -> AsyncIterator[API]:
    api = build_api(vk.token, vk.api_url)
    yield api
    await api.http_client.close()


async def fetch(client: aiohttp.ClientSession, url: str) -> tuple[int, str, bytes]:
    async with client.get(url) as response:
        return response.status, response.content_type, await response.read()


async def test_a_citizens_photo_comes_in_sizes_the_fake_serves(vk, client):
    event = vk.send_photo(PEER, "Яма во дворе", width=1280, height=960)

    [item] = event["object"]["message"]["attachments"]
    sizes = item["photo"]["sizes"]
    assert [s["type"] for s in sizes] == ["s", "m", "x", "y", "z", "w"]
    assert all(s["url"].startswith(vk.base_url + "/photos/") for s in sizes)
    status, content_type, data = await fetch(client, sizes[-1]["url"])
    assert (status, content_type) == (200, "image/png")
    assert image_size(data) == (1280, 960)
    photo = vk.photo(f"photo{PEER}_{item['photo']['id']}")
    assert photo is not None and photo.data == data
    _, _, small = await fetch(client, sizes[0]["url"])
    assert image_size(small) == (sizes[0]["width"], sizes[0]["height"]) == (75, 56)
    assert (await fetch(client, vk.base_url + "/photos/nothing.png"))[0] == 404


async def test_send_attachment_of_a_photo_is_a_served_photo_too(vk, client):
    event = vk.send_attachment(PEER, "photo")

    [item] = event["object"]["message"]["attachments"]
    assert (await fetch(client, item["photo"]["sizes"][-1]["url"]))[0] == 200


async def test_a_photo_is_uploaded_saved_and_sent(vk, api):
    data = png(800, 600, label="образец")

    attachment = await PhotoMessageUploader(api).upload(data, peer_id=PEER)
    await api.messages.send(peer_id=PEER, random_id=1, message="Образец", attachment=attachment)

    [sent] = vk.sent_to(PEER)
    assert sent.attachment == attachment and attachment.startswith(f"photo-{vk.group_id}_")
    [photo] = sent.attachments
    assert (photo["type"], photo["size"], photo["width"]) == ("photo", len(data), 800)
    stored = vk.photo(attachment)
    assert stored is not None and stored.data == data
    assert [r.method for r in vk.requests if r.method != "longpoll"] == [
        "photos.getMessagesUploadServer",
        "upload",
        "photos.saveMessagesPhoto",
        "messages.send",
    ]


async def test_what_is_not_an_image_is_not_saved(vk, api):
    with pytest.raises(VKAPIError) as caught:
        await PhotoMessageUploader(api).upload(b"%PDF-1.4 not a photo", peer_id=PEER)

    assert caught.value.code == 100
    assert "photos_list is invalid" in caught.value.error_msg
    assert vk.media.photos == {}


async def test_a_photo_too_narrow_for_vk_is_not_saved(vk, api):
    with pytest.raises(VKAPIError, match="photos_list is invalid"):
        await PhotoMessageUploader(api).upload(png(2100, 100), peer_id=PEER)


async def test_a_changed_hash_is_error_121(vk, api, client):
    server = await api.photos.get_messages_upload_server(peer_id=PEER)
    form = aiohttp.FormData()
    form.add_field("photo", png(100, 100), filename="picture.jpg")
    async with client.post(server.upload_url, data=form) as response:
        uploaded = json.loads(await response.text())

    with pytest.raises(VKAPIError) as caught:
        await api.request("photos.saveMessagesPhoto", {**uploaded, "hash": "0" * 32})
    assert caught.value.code == 121


async def test_an_upload_url_the_fake_did_not_give_is_refused(vk, client):
    form = aiohttp.FormData()
    form.add_field("photo", png(100, 100), filename="picture.jpg")
    async with client.post(f"{vk.base_url}/upload/photo/made-up", data=form) as response:
        answer = await response.json()

    assert "error" in answer


async def test_photos_of_the_community_must_exist_and_carry_their_key(vk, api, call):
    attachment = await PhotoMessageUploader(api).upload(png(100, 100), peer_id=PEER)
    owner_and_id = attachment.rsplit("_", 1)[0]

    missing = await call(
        "messages.send", peer_id=PEER, random_id=1, attachment=f"photo-{vk.group_id}_999"
    )
    wrong_key = await call(
        "messages.send", peer_id=PEER, random_id=2, attachment=owner_and_id + "_bad"
    )
    garbage = await call("messages.send", peer_id=PEER, random_id=3, attachment="фото")
    without_key = await call("messages.send", peer_id=PEER, random_id=4, attachment=owner_and_id)

    for answer in (missing, wrong_key, garbage):
        assert answer["error"]["error_code"] == 100
    assert "response" in without_key  # the community's own photo needs no key
    [sent] = vk.sent_to(PEER)
    assert sent.attachments[0]["ref"] == owner_and_id


async def test_a_document_is_uploaded_saved_and_sent(vk, api, client):
    data = b"%PDF-1.4\n%bank details\n"

    attachment = await DocMessagesUploader(api).upload(data, peer_id=PEER, title="реквизиты.pdf")
    await api.messages.send(peer_id=PEER, random_id=1, message="", attachment=attachment)

    [sent] = vk.sent_to(PEER)
    [doc] = sent.attachments
    assert (doc["type"], doc["title"], doc["size"]) == ("doc", "реквизиты.pdf", len(data))
    status, content_type, served = await fetch(client, doc["url"])
    assert (status, content_type, served) == (200, "application/pdf", data)


async def test_docs_save_needs_the_uploaded_file(vk, api):
    with pytest.raises(VKAPIError, match="file is undefined"):
        await api.request("docs.save", {"title": "x.pdf"})


async def test_uploads_fail_in_an_outage(vk, api):
    server = await api.photos.get_messages_upload_server(peer_id=PEER)
    vk.outage(502)
    try:
        async with aiohttp.ClientSession() as client:
            form = aiohttp.FormData()
            form.add_field("photo", png(100, 100), filename="picture.jpg")
            async with client.post(server.upload_url, data=form) as response:
                assert response.status == 502
    finally:
        vk.restore()
