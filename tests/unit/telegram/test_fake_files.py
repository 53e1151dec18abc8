"""The fake Bot API's files: ``sendPhoto`` by file id or by URL, ``getFile`` and the
download at ``/file/bot<token>/<file_path>``, driven by aiogram's own client and held to
what Telegram refuses."""

from collections.abc import AsyncIterator

import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.exceptions import TelegramBadRequest, TelegramRetryAfter
from aiohttp import ClientResponseError, web

from tests.unit.telegram import group_fixtures
from tests.unit.telegram.group_fixtures import GROUP, from_base, serving, topic
from tools.fake_telegram import DEFAULT_TOKEN, FakeTelegram, RateLimits
from tools.fake_telegram.files import add_photo, file_bytes, image_size, png

tg, bot = group_fixtures.tg, group_fixtures.bot  # the fixtures, shared

PHOTO = png(640, 480, label="квитанция")


@pytest.fixture
async def site() -> AsyncIterator[str]:
    """A web server on 127.0.0.1 with a photo, an HTML page, a broken image and a 404."""

    async def photo(request: web.Request) -> web.Response:
        return web.Response(body=PHOTO, content_type="image/png")

    async def page(request: web.Request) -> web.Response:
        return web.Response(text="<html>не фото</html>", content_type="text/html")

    async def broken(request: web.Request) -> web.Response:
        return web.Response(body=b"not an image at all", content_type="image/jpeg")

    async def banner(request: web.Request) -> web.Response:
        return web.Response(body=png(2100, 100, label="banner"), content_type="image/png")

    app = web.Application()
    app.router.add_get("/photo.png", photo)
    app.router.add_get("/page", page)
    app.router.add_get("/broken.jpg", broken)
    app.router.add_get("/banner.png", banner)
    async with serving(app) as base:
        yield base


async def test_a_photo_by_url_is_fetched_into_a_topic_and_can_be_downloaded(tg, bot, site):
    thread = await topic(bot)

    sent = await bot.send_photo(
        GROUP, f"{site}/photo.png", caption="Квитанция", message_thread_id=thread
    )

    assert sent.caption == "Квитанция" and sent.message_thread_id == thread
    largest = sent.photo[-1]
    assert (largest.width, largest.height) == (640, 480)
    assert sent.photo[0].width == 90  # and a thumbnail, as Telegram makes
    [stored] = [m for m in tg.topic_messages(GROUP, thread) if m.get("photo")]
    assert stored["caption"] == "Квитанция"
    assert file_bytes(tg.state, largest.file_id) == PHOTO
    found = await bot.get_file(largest.file_id)
    assert found.file_size == len(PHOTO) and found.file_path
    downloaded = await bot.download(largest.file_id)
    assert downloaded is not None and downloaded.read() == PHOTO


@pytest.mark.parametrize(
    ("path", "error"),
    [
        ("/page", "wrong type of the web page content"),
        ("/broken.jpg", "IMAGE_PROCESS_FAILED"),
        ("/missing.jpg", "failed to get HTTP URL content"),
        ("/banner.png", "PHOTO_INVALID_DIMENSIONS"),
    ],
    ids=["html page", "not an image", "404", "ratio over 20"],
)
async def test_urls_telegram_cannot_use_are_refused(tg, bot, site, path, error):
    with pytest.raises(TelegramBadRequest, match=error):
        await bot.send_photo(GROUP, site + path)
    assert tg.messages(GROUP) == []


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:1/photo.jpg", "https://example.com/photo.jpg", "http://[::1"],
    ids=["nothing listens", "the internet", "malformed"],
)
async def test_unreachable_urls_fail_as_telegram_fails_them(bot, url):
    with pytest.raises(TelegramBadRequest, match="wrong file identifier/HTTP URL specified"):
        await bot.send_photo(GROUP, url)


async def test_a_photo_is_sent_again_by_its_file_id(tg, bot):
    citizen = tg.citizen(1001)
    update = citizen.send_photo("Яма во дворе")
    sizes = update["message"]["photo"]

    sent = await bot.send_photo(GROUP, sizes[-1]["file_id"], caption="От гражданина")

    assert [size.file_id for size in sent.photo] == [size["file_id"] for size in sizes]
    downloaded = await bot.download(sizes[-1]["file_id"])
    assert downloaded is not None
    assert image_size(downloaded.read()) == (1280, 1280)


async def test_unknown_and_mismatched_file_ids_are_refused(tg, bot):
    document = tg.citizen(1001).send_document()["message"]["document"]["file_id"]

    with pytest.raises(TelegramBadRequest, match="wrong file identifier/HTTP URL specified"):
        await bot.send_photo(GROUP, "AgACAgIAAxkBAAI-no-such-file")
    with pytest.raises(TelegramBadRequest, match="type of file mismatch"):
        await bot.send_photo(GROUP, document)
    with pytest.raises(TelegramBadRequest, match="invalid file_id"):
        await bot.get_file("AgACAgIAAxkBAAI-no-such-file")


async def test_a_document_is_downloaded_and_a_big_file_is_not(tg, bot):
    citizen = tg.citizen(1001)
    document = citizen.send_document("заявление.pdf")["message"]["document"]
    too_big = {"file_id": "BQACAgIAAxkBAAI-big", "file_unique_id": "big", "file_size": 21 << 20}
    big = citizen.send_message(document=too_big)["message"]["document"]

    found = await bot.get_file(document["file_id"])
    downloaded = await bot.download(document["file_id"])

    assert found.file_path is not None and found.file_path.endswith(".pdf")
    assert downloaded is not None and downloaded.read().startswith(b"%PDF")
    with pytest.raises(TelegramBadRequest, match="file is too big"):
        await bot.get_file(big["file_id"])


async def test_files_are_served_only_to_the_bots_token(tg, bot):
    [*_, largest] = add_photo(tg.state, width=320, height=240)
    found = await bot.get_file(largest["file_id"])
    assert found.file_path is not None

    stranger = Bot("42:another-token", session=AiohttpSession(api=from_base(tg)))
    async with stranger:
        with pytest.raises(ClientResponseError, match="404"):
            await stranger.download_file(found.file_path)


async def test_photo_captions_are_checked(tg, bot):
    [*_, largest] = add_photo(tg.state)

    with pytest.raises(TelegramBadRequest, match="message caption is too long"):
        await bot.send_photo(GROUP, largest["file_id"], caption="я" * 1025)
    with pytest.raises(TelegramBadRequest, match="can't parse entities"):
        await bot.send_photo(GROUP, largest["file_id"], caption="<b>жирно", parse_mode="HTML")
    with pytest.raises(TelegramBadRequest, match="there is no photo in the request"):
        await bot.send_photo(GROUP, "")


async def test_photos_count_against_the_groups_flood_limit():
    limits = RateLimits(per_group=2)
    async with FakeTelegram(rate_limits=limits) as tg:
        tg.operator_group(GROUP)
        [*_, largest] = add_photo(tg.state)
        async with Bot(DEFAULT_TOKEN, session=AiohttpSession(api=from_base(tg))) as bot:
            await bot.send_photo(GROUP, largest["file_id"])
            await bot.send_message(GROUP, "Гражданин: [фото]")
            with pytest.raises(TelegramRetryAfter):
                await bot.send_photo(GROUP, largest["file_id"])
