"""The fake Bot API's ``sendDocument``, ``sendVoice``, ``sendLocation`` and uploads into
an operator group's topic, driven by aiogram's own client and held to what Telegram
refuses."""

from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.exceptions import TelegramBadRequest, TelegramEntityTooLarge, TelegramRetryAfter
from aiogram.types import BufferedInputFile, ReplyParameters
from aiohttp import web

from tests.unit.telegram import group_fixtures
from tests.unit.telegram.group_fixtures import GROUP, from_base, serving, topic
from tools.fake_telegram import DEFAULT_TOKEN, FakeTelegram, RateLimits
from tools.fake_telegram.files import file_bytes
from tools.fake_telegram.params import UPLOAD_LIMIT
from tools.images import png

tg, bot = group_fixtures.tg, group_fixtures.bot  # the fixtures, shared

PDF = b"%PDF-1.7\n" + bytes(range(256)) * 40 + b"\n%%EOF\n"
OGG = b"OggS\x00\x02" + bytes(range(255, -1, -1)) * 20


@pytest.fixture
async def site() -> AsyncIterator[str]:
    """A web server on 127.0.0.1 with a PDF, a text file, a page and voice recordings."""
    files = {
        "/справка.pdf": (PDF, "application/pdf"),
        "/notes.txt": (b"just text", "text/plain"),
        "/page": (b"<html>not a file</html>", "text/html"),
        "/voice.ogg": (OGG, "audio/ogg"),
        "/voice.wav": (b"RIFF\x00\x00\x00\x00WAVEfmt ", "audio/wav"),
        "/untyped.pdf": (PDF, "application/octet-stream"),
    }

    async def serve(request: web.Request) -> web.Response:
        body, content_type = files[request.path]
        return web.Response(body=body, content_type=content_type)

    app = web.Application()
    for path in files:
        app.router.add_get(path, serve)
    async with serving(app) as base:
        yield base


async def download(bot: Bot, file_id: str) -> bytes:
    downloaded = await bot.download(file_id)
    assert downloaded is not None
    return downloaded.read()


async def test_an_uploaded_document_and_voice_come_back_byte_for_byte(tg, bot):
    thread = await topic(bot)

    document = await bot.send_document(
        GROUP,
        BufferedInputFile(PDF, filename="заявление.pdf"),
        caption="Заявление гражданина",
        message_thread_id=thread,
    )
    voice = await bot.send_voice(
        GROUP, BufferedInputFile(OGG, filename="voice.ogg"), duration=7, message_thread_id=thread
    )

    assert document.document is not None and voice.voice is not None
    assert (document.document.file_name, document.document.mime_type) == (
        "заявление.pdf",
        "application/pdf",
    )
    assert document.document.file_size == len(PDF) and document.caption == "Заявление гражданина"
    assert (voice.voice.duration, voice.voice.mime_type) == (7, "audio/ogg")
    assert voice.voice.file_size == len(OGG)
    assert voice.message_thread_id == thread and voice.is_topic_message
    stored = tg.topic_messages(GROUP, thread)
    assert [("document" in m, "voice" in m) for m in stored] == [(True, False), (False, True)]
    assert [r.params["document"] for r in tg.requests("sendDocument")] == ["file:заявление.pdf"]
    assert file_bytes(tg.state, document.document.file_id) == PDF
    assert await download(bot, document.document.file_id) == PDF
    assert await download(bot, voice.voice.file_id) == OGG
    found = await bot.get_file(voice.voice.file_id)
    assert found.file_size == len(OGG) and found.file_path and found.file_path.endswith(".oga")


async def test_a_file_posted_under_its_own_field_is_read_too(tg):
    """Not aiogram's ``attach://`` but the plain upload Telegram documents (curl -F)."""
    form = aiohttp.FormData()
    form.add_field("chat_id", str(GROUP))
    form.add_field("document", PDF, filename="act.pdf", content_type="application/pdf")
    url = f"{tg.api_url}/bot{DEFAULT_TOKEN}/sendDocument"
    async with aiohttp.ClientSession() as http, http.post(url, data=form) as response:
        answer = await response.json()

    assert answer["ok"], answer
    assert answer["result"]["document"]["file_name"] == "act.pdf"
    assert file_bytes(tg.state, answer["result"]["document"]["file_id"]) == PDF


async def test_files_are_sent_again_by_file_id_of_the_same_kind(tg, bot):
    citizens_voice = tg.citizen(1001).send_voice(duration=4)["message"]["voice"]
    uploaded = await bot.send_document(GROUP, BufferedInputFile(PDF, filename="act.pdf"))
    assert uploaded.document is not None

    again = await bot.send_document(GROUP, uploaded.document.file_id, caption="Ещё раз")
    voice = await bot.send_voice(GROUP, citizens_voice["file_id"])

    assert again.document is not None and again.document.file_id == uploaded.document.file_id
    assert again.document.file_name == "act.pdf"
    assert voice.voice is not None and voice.voice.duration == 4
    with pytest.raises(TelegramBadRequest, match="type of file mismatch"):
        await bot.send_document(GROUP, citizens_voice["file_id"])
    with pytest.raises(TelegramBadRequest, match="wrong file identifier/HTTP URL specified"):
        await bot.send_voice(GROUP, "AwACAgIAAxkBAAI-no-such-file")


async def test_a_location_goes_into_a_topic_as_a_reply(tg, bot):
    thread = await topic(bot)
    card = await bot.send_message(GROUP, "Карточка", message_thread_id=thread)

    sent = await bot.send_location(
        GROUP,
        55.7558,
        37.6173,
        message_thread_id=thread,
        reply_parameters=ReplyParameters(message_id=card.message_id),
    )

    assert sent.location is not None
    assert (sent.location.latitude, sent.location.longitude) == (55.7558, 37.6173)
    assert sent.reply_to_message is not None
    assert sent.reply_to_message.message_id == card.message_id
    [*_, stored] = tg.topic_messages(GROUP, thread)
    assert stored["location"] == {"latitude": 55.7558, "longitude": 37.6173}


@pytest.mark.parametrize(
    ("latitude", "longitude"),
    [(90.5, 37.6), (-91, 0), (55.7, 180.01), (0, -200)],
    ids=["north of the pole", "south of the pole", "east", "west"],
)
async def test_coordinates_off_the_globe_are_refused(tg, bot, latitude, longitude):
    with pytest.raises(TelegramBadRequest, match="wrong location specified"):
        await bot.send_location(GROUP, latitude, longitude)
    assert tg.messages(GROUP) == []
    assert [r.status for r in tg.requests("sendLocation")] == [400]


async def test_an_upload_over_50_mb_is_too_large(tg, bot):
    thread = await topic(bot)
    largest = b"\x00" * UPLOAD_LIMIT

    with pytest.raises(TelegramEntityTooLarge, match="Request Entity Too Large"):
        await bot.send_document(
            GROUP, BufferedInputFile(largest + b"!", "big.bin"), message_thread_id=thread
        )
    sent = await bot.send_document(
        GROUP, BufferedInputFile(largest, "big.bin"), message_thread_id=thread
    )

    assert [r.status for r in tg.requests("sendDocument")] == [413, 200]
    assert [m["document"]["file_size"] for m in tg.topic_messages(GROUP, thread)] == [UPLOAD_LIMIT]
    assert sent.document is not None
    with pytest.raises(TelegramBadRequest, match="file is too big"):
        await bot.get_file(sent.document.file_id)  # a bot downloads up to 20 MB


async def test_a_pdf_by_url_is_fetched_and_a_text_file_is_not(tg, bot, site):
    thread = await topic(bot)

    sent = await bot.send_document(GROUP, f"{site}/справка.pdf", message_thread_id=thread)
    untyped = await bot.send_document(GROUP, f"{site}/untyped.pdf")

    assert sent.document is not None and untyped.document is not None
    assert (sent.document.file_name, sent.document.mime_type) == ("справка.pdf", "application/pdf")
    assert await download(bot, sent.document.file_id) == PDF
    assert untyped.document.mime_type == "application/pdf"
    with pytest.raises(TelegramBadRequest, match="wrong file identifier/HTTP URL specified"):
        await bot.send_document(GROUP, f"{site}/notes.txt")
    with pytest.raises(TelegramBadRequest, match="wrong type of the web page content"):
        await bot.send_document(GROUP, f"{site}/page")
    with pytest.raises(TelegramBadRequest, match="failed to get HTTP URL content"):
        await bot.send_document(GROUP, f"{site}/missing.pdf")
    with pytest.raises(TelegramBadRequest, match="wrong file identifier/HTTP URL specified"):
        await bot.send_document(GROUP, "https://example.com/act.pdf")
    assert [m["message_id"] for m in tg.messages(GROUP)][1:] == [
        sent.message_id,
        untyped.message_id,
    ]


async def test_a_voice_by_url_must_be_ogg_mp3_or_m4a(tg, bot, site):
    sent = await bot.send_voice(GROUP, f"{site}/voice.ogg")

    assert sent.voice is not None and sent.voice.mime_type == "audio/ogg"
    assert sent.voice.duration == 0
    assert await download(bot, sent.voice.file_id) == OGG
    with pytest.raises(TelegramBadRequest, match="wrong file identifier/HTTP URL specified"):
        await bot.send_voice(GROUP, f"{site}/voice.wav")


async def test_captions_of_files_are_checked_as_photo_captions_are(tg, bot):
    pdf = BufferedInputFile(PDF, filename="act.pdf")

    with pytest.raises(TelegramBadRequest, match="message caption is too long"):
        await bot.send_document(GROUP, pdf, caption="я" * 1025)
    with pytest.raises(TelegramBadRequest, match="can't parse entities"):
        await bot.send_voice(
            GROUP, BufferedInputFile(OGG, "v.ogg"), caption="<b>жирно", parse_mode="HTML"
        )
    sent = await bot.send_document(GROUP, pdf, caption="я" * 1024)

    assert sent.caption == "я" * 1024
    assert len(tg.messages(GROUP)) == 1


async def test_an_uploaded_photo_keeps_its_bytes_and_a_non_image_is_refused(tg, bot):
    image = png(640, 480, label="квитанция")

    sent = await bot.send_photo(GROUP, BufferedInputFile(image, "photo.png"), caption="Фото")

    largest = sent.photo[-1] if sent.photo else None
    assert largest is not None and (largest.width, largest.height) == (640, 480)
    assert await download(bot, largest.file_id) == image
    with pytest.raises(TelegramBadRequest, match="IMAGE_PROCESS_FAILED"):
        await bot.send_photo(GROUP, BufferedInputFile(PDF, "photo.jpg"))


async def test_files_and_locations_count_against_the_groups_flood_limit():
    async with FakeTelegram(rate_limits=RateLimits(per_group=3)) as tg:
        tg.operator_group(GROUP)
        async with Bot(DEFAULT_TOKEN, session=AiohttpSession(api=from_base(tg))) as bot:
            await bot.send_document(GROUP, BufferedInputFile(PDF, "act.pdf"))
            await bot.send_voice(GROUP, BufferedInputFile(OGG, "voice.ogg"))
            await bot.send_location(GROUP, 55.75, 37.62)
            with pytest.raises(TelegramRetryAfter) as refused:
                await bot.send_voice(GROUP, BufferedInputFile(OGG, "voice.ogg"))
    assert refused.value.retry_after > 0
    assert [r.status for r in tg.requests()][-4:] == [200, 200, 200, 429]
    assert len(tg.messages(GROUP)) == 3
