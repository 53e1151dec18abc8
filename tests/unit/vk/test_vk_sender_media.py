"""The VK transport with an operator's media: a photo or a document is taken from
Telegram, uploaded to VK with vkbottle's uploaders and sent with its caption (against
the fake VK, which refuses what VK refuses); a voice message as VK's own, a video as a
document, a location as a point on the map; what VK cannot show becomes a note."""

import hashlib
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from vkbottle import API

from bots.operator_files import FileUnavailable, TelegramFiles, operator_downloads
from bots.outbox import Unavailable
from bots.vk.client import build_api
from bots.vk.sender import NOT_PASSED, NOT_SHOWN, VkTransport
from core.domain import Channel, Reply
from tests.conftest import make_settings
from tools.fake_telegram import DEFAULT_TOKEN, FakeTelegram
from tools.fake_telegram.files import add_photo, file_bytes
from tools.fake_vk import FakeVk
from tools.fake_vk.media import png

PEER = 42
GROUP = -1001234567890
PHOTO = png(800, 600, label="образец квитанции")


@pytest.fixture
async def api(vk: FakeVk) -> AsyncIterator[API]:
    api = build_api(vk.token, vk.api_url)
    yield api
    await api.http_client.close()


class Files:
    """Telegram's files as the transport downloads them; records what was asked."""

    def __init__(self, **files: bytes | Exception) -> None:
        self.files = files
        self.asked: list[str] = []

    async def download(self, file_id: str) -> bytes:
        self.asked.append(file_id)
        found = self.files[file_id]
        if isinstance(found, Exception):
            raise found
        return found


def operator_reply(kind: str, caption: str = "", outbox_id: int = 10, **details: Any) -> Reply:
    source = {"type": "telegram_message", "chat_id": GROUP, "message_id": 5, "kind": kind}
    return Reply(
        Channel.VK, str(PEER), caption, outbox_id=outbox_id, attachments=(source | details,)
    )


async def deliver(transport: VkTransport, reply: Reply) -> list[str | None]:
    parts = transport.split(reply)
    return [
        await transport.send_part(reply, i, part, i == len(parts) - 1)
        for i, part in enumerate(parts)
    ]


async def test_an_operators_photo_reaches_the_citizen_with_its_caption(vk, api):
    files = Files(op=PHOTO)
    transport = VkTransport(api, download=files.download)

    [message_id] = await deliver(transport, operator_reply("photo", "Образец", file_id="op"))

    [sent] = vk.sent_to(PEER)
    assert (str(sent.id), sent.text) == (message_id, "Образец")
    [photo] = sent.attachments
    assert photo["type"] == "photo" and photo["sha256"] == hashlib.sha256(PHOTO).hexdigest()
    assert files.asked == ["op"]


async def test_a_photo_without_a_caption_is_sent_alone(vk, api):
    transport = VkTransport(api, download=Files(op=PHOTO).download)

    await deliver(transport, operator_reply("photo", file_id="op"))

    [sent] = vk.sent_to(PEER)
    assert sent.text == "" and sent.attachments[0]["type"] == "photo"


async def test_a_photo_sent_again_after_a_lost_answer_reaches_the_citizen_once(vk, api):
    transport = VkTransport(api, download=Files(op=PHOTO).download)
    reply = operator_reply("photo", "Образец", file_id="op")
    vk.drop_next("messages.send")

    with pytest.raises(Unavailable):
        await deliver(transport, reply)
    await deliver(transport, reply)

    assert len(vk.calls("photos.saveMessagesPhoto")) == 2  # uploaded twice…
    assert len(vk.sent_to(PEER)) == 1  # …but the fixed random_id keeps it one message


async def test_an_operators_document_is_sent_as_a_vk_document(vk, api):
    data = b"%PDF-1.4\n%bank details\n"
    transport = VkTransport(api, download=Files(doc=data).download)

    await deliver(
        transport, operator_reply("document", "Реквизиты", file_id="doc", file_name="рек.pdf")
    )

    [sent] = vk.sent_to(PEER)
    [doc] = sent.attachments
    assert (sent.text, doc["type"], doc["title"], doc["size"]) == (
        "Реквизиты",
        "doc",
        "рек.pdf",
        len(data),
    )


async def test_a_file_telegram_will_not_give_becomes_a_note(vk, api):
    files = Files(op=FileUnavailable("Bad Request: file is too big"))
    transport = VkTransport(api, download=files.download)

    await deliver(transport, operator_reply("photo", "Образец", file_id="op"))

    [sent] = vk.sent_to(PEER)
    assert sent.text == "Образец\n\n" + NOT_PASSED.format(what="фото")
    assert sent.attachment is None


async def test_a_photo_vk_refuses_becomes_a_note(vk, api):
    transport = VkTransport(api, download=Files(op=b"not an image").download)

    await deliver(transport, operator_reply("photo", file_id="op"))

    [sent] = vk.sent_to(PEER)
    assert sent.text == NOT_PASSED.format(what="фото") and sent.attachment is None


async def test_telegram_out_of_reach_makes_the_reply_wait(vk, api):
    transport = VkTransport(api, download=Files(op=aiohttp.ClientConnectionError()).download)

    with pytest.raises(Unavailable, match="Telegram"):
        await deliver(transport, operator_reply("photo", "Образец", file_id="op"))
    assert vk.sent_to(PEER) == []


async def test_without_a_downloader_the_citizen_is_told_the_photo_did_not_pass(vk, api):
    transport = VkTransport(api)

    await deliver(transport, operator_reply("photo", "Образец", file_id="op"))

    [sent] = vk.sent_to(PEER)
    assert sent.text == "Образец\n\n" + NOT_PASSED.format(what="фото")


async def test_what_vk_cannot_show_is_a_note_under_the_caption(vk, api):
    files = Files()
    transport = VkTransport(api, download=files.download)

    await deliver(transport, operator_reply("sticker", "Смотрите", file_id="x"))

    [sent] = vk.sent_to(PEER)
    assert sent.text == "Смотрите\n\n" + NOT_SHOWN.format(what="стикер")
    assert files.asked == []


OGG = b"OggS\x00\x02" + bytes(40) + b"OpusHead"
MP4 = b"\x00\x00\x00\x18ftypmp42" + bytes(64)


async def test_a_voice_message_goes_as_vks_own_and_a_video_as_a_document(vk, api):
    files = Files(voice=OGG, video=MP4)
    transport = VkTransport(api, download=files.download)

    await deliver(transport, operator_reply("voice", "Послушайте", file_id="voice"))
    await deliver(transport, operator_reply("video", "Как пройти", outbox_id=11, file_id="video"))

    voice, video = vk.sent_to(PEER)
    assert voice.text == "Послушайте" and voice.attachment.startswith(f"doc-{vk.group_id}_")
    [sent_voice] = voice.attachments
    assert sent_voice["type"] == "audio_message"
    assert sent_voice["sha256"] == hashlib.sha256(OGG).hexdigest()
    [sent_video] = video.attachments
    assert (sent_video["type"], sent_video["title"]) == ("doc", "видео.mp4")
    assert sent_video["sha256"] == hashlib.sha256(MP4).hexdigest()
    assert files.asked == ["voice", "video"]


async def test_a_location_is_a_point_on_the_map_and_a_contact_is_written_out(vk, api):
    transport = VkTransport(api)

    await deliver(transport, operator_reply("location", latitude=55.7558, longitude=37.6173))
    await deliver(
        transport,
        operator_reply("contact", outbox_id=11, first_name="МФЦ", phone_number="+74951234567"),
    )

    place, contact = vk.sent_to(PEER)
    assert place.text == "📍 Оператор отправил точку на карте: 55.755800, 37.617300"
    assert place.attachments == ({"type": "geo", "latitude": 55.7558, "longitude": 37.6173},)
    assert contact.text == "📇 Оператор отправил контакт: МФЦ, +74951234567"


async def test_telegram_files_downloads_from_the_bot_api():
    async with FakeTelegram(rate_limits=None) as tg:
        [*_, largest] = add_photo(tg.state, width=320, height=240)
        session = AiohttpSession(api=TelegramAPIServer.from_base(tg.api_url))
        files = TelegramFiles(Bot(DEFAULT_TOKEN, session=session))
        try:
            data = await files.download(largest["file_id"])
            with pytest.raises(FileUnavailable, match="invalid file_id"):
                await files.download("AgACAgIAAxkBAAI-unknown")
        finally:
            await files.close()

    assert data == file_bytes(tg.state, largest["file_id"])


async def test_operator_downloads_follow_the_settings_and_close_their_session(tmp_path):
    async with operator_downloads(make_settings(tmp_path)) as download:
        assert download is None  # no TELEGRAM_BOT_TOKEN: operators' files become notes
    async with FakeTelegram(rate_limits=None) as tg:
        [*_, largest] = add_photo(tg.state, width=320, height=240)
        settings = make_settings(
            tmp_path, telegram_bot_token=DEFAULT_TOKEN, telegram_api_url=tg.api_url
        )
        async with operator_downloads(settings) as download:
            assert download is not None
            data = await download(largest["file_id"])
            session = download.__self__._bot.session
        assert data == file_bytes(tg.state, largest["file_id"])
        assert session._session is None or session._session.closed
