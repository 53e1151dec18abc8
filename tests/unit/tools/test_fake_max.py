"""The fake MAX Bot API driven by the real ``maxapi.Bot`` over 127.0.0.1, and by plain
HTTP where maxapi would not send the request (a too-long text, a wrong token)."""

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from maxapi import Bot, Dispatcher
from maxapi.enums.upload_type import UploadType
from maxapi.exceptions.max import InvalidToken, MaxApiError
from maxapi.methods.types.getted_updates import process_update_request
from maxapi.types.attachments.buttons import (
    CallbackButton,
    LinkButton,
    MessageButton,
    RequestContactButton,
    RequestGeoLocationButton,
)
from maxapi.types.attachments.upload import AttachmentPayload, AttachmentUpload
from maxapi.types.input_media import InputMediaBuffer
from maxapi.types.updates.bot_started import BotStarted
from maxapi.types.updates.bot_stopped import BotStopped
from maxapi.types.updates.message_callback import MessageCallback, MessageForCallback
from maxapi.types.updates.message_created import MessageCreated
from maxapi.utils.inline_keyboard import InlineKeyboardBuilder

from tests.fakes import StandingClock
from tools.fake_max import DEFAULT_TOKEN, SECRET_HEADER, FakeMax, RateLimits
from tools.images import image_size, png


@pytest.fixture
async def fake() -> AsyncIterator[FakeMax]:
    async with FakeMax(rate_limits=None) as server:
        yield server


@pytest.fixture
async def bot(fake: FakeMax) -> AsyncIterator[Bot]:
    client = Bot(DEFAULT_TOKEN, after_upload_retry_delay=0.01)
    client.set_api_url(fake.url)
    yield client
    await client.close_session()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def raw(
    http: aiohttp.ClientSession,
    fake: FakeMax,
    method: str,
    path: str,
    *,
    token: str | None = DEFAULT_TOKEN,
    **kwargs: Any,
) -> tuple[int, Any]:
    headers = {"Authorization": token} if token is not None else {}
    async with http.request(method, fake.url + path, headers=headers, **kwargs) as response:
        return response.status, await response.json(content_type=None)


def keyboard(rows: int, per_row: int):
    builder = InlineKeyboardBuilder()
    for row in range(rows):
        builder.row(
            *(CallbackButton(text=f"{row}.{n}", payload=f"{row}.{n}") for n in range(per_row))
        )
    return builder.as_markup()


async def test_bot_info_is_got_with_the_token_in_the_authorization_header(fake, bot):
    me = await bot.get_me()

    assert (me.user_id, me.first_name, me.is_bot) == (fake.state.bot_id, "Джинн", True)
    assert [r.status for r in fake.requests("GET /me")] == [200]


async def test_a_wrong_token_is_refused_with_401_and_maxapi_raises_invalid_token(fake):
    intruder = Bot("not-the-token")
    intruder.set_api_url(fake.url)
    try:
        with pytest.raises(InvalidToken, match=r"verify\.token"):
            await intruder.get_me()
    finally:
        await intruder.close_session()


@pytest.mark.parametrize(
    ("headers", "query", "status", "code", "message"),
    [
        ({}, {}, 401, "verify.token", "No access token"),
        (
            {"Authorization": f"Bearer {DEFAULT_TOKEN}"},
            {},
            401,
            "verify.token",
            "Malformed access token",
        ),
        ({"Authorization": "wrong"}, {}, 401, "verify.token", "Invalid access_token"),
        ({}, {"access_token": DEFAULT_TOKEN}, 403, "deprecated.token", None),
    ],
    ids=["missing", "bearer prefix", "wrong", "query parameter"],
)
async def test_tokens_other_than_the_bare_header_are_refused(
    fake, http, headers, query, status, code, message
):
    async with http.get(fake.url + "/me", headers=headers, params=query) as response:
        answer = await response.json()

    assert response.status == status
    assert answer["code"] == code
    assert message is None or answer["message"] == message


async def test_a_text_with_an_inline_keyboard_is_recorded_exactly_as_sent(fake, bot):
    citizen = fake.citizen(1001, "Иван")
    markup = (
        InlineKeyboardBuilder()
        .row(CallbackButton(text="Да", payload="yes"), CallbackButton(text="Нет", payload="no"))
        .row(LinkButton(text="Госуслуги", url="https://www.gosuslugi.ru"))
        .row(RequestContactButton(text="Телефон"), RequestGeoLocationButton(text="Где я"))
        .row(MessageButton(text="Оператор"))
        .as_markup()
    )

    answer = await bot.send_message(user_id=1001, text="Вопрос решён?", attachments=[markup])

    [sent] = fake.sent(1001)
    assert sent.request == {"attachments": [markup.model_dump()], "text": "Вопрос решён?"}
    assert sent.query == {"user_id": "1001"}
    assert (sent.chat_id, sent.text) == (citizen.chat_id, "Вопрос решён?")
    assert sent.keyboard == markup.model_dump()["payload"]["buttons"]
    assert answer.message.body.mid == sent.mid
    assert answer.message.recipient.chat_id == citizen.chat_id
    assert answer.message.body.attachments[0].payload == markup.payload


async def test_a_message_to_the_dialog_by_chat_id_lands_with_the_same_citizen(fake, bot):
    citizen = fake.citizen(1001)

    await bot.send_message(chat_id=citizen.chat_id, text="Здравствуйте")

    assert [m.text for m in fake.sent(1001)] == ["Здравствуйте"]


async def test_a_long_poll_waits_for_the_citizens_message_and_maxapi_parses_it(fake, bot):
    citizen = fake.citizen(1001, "Иван", "Петров")
    poll = asyncio.create_task(bot.get_updates(timeout=20))
    await fake.wait_until(lambda: bool(fake.requests("GET /updates")), what="the long poll")
    assert not poll.done()

    citizen.send_text("Как записаться к врачу?")
    events = await poll
    [event] = await process_update_request(events, bot)

    assert isinstance(event, MessageCreated)
    assert event.message.body.text == "Как записаться к врачу?"
    assert event.message.sender.user_id == 1001
    assert event.message.sender.full_name == "Иван Петров"
    assert event.message.recipient.chat_id == citizen.chat_id
    assert event.message.recipient.chat_type == "dialog"
    assert event.chat.dialog_with_user.user_id == 1001
    assert events["marker"] == 1


async def test_maxapis_dispatcher_polls_the_fake_and_its_handler_answers(fake, bot):
    dispatcher = Dispatcher()

    @dispatcher.message_created()
    async def echo(event: MessageCreated) -> None:
        await event.message.answer(f"Вы написали: {event.message.body.text}")

    polling = asyncio.create_task(dispatcher.start_polling(bot))
    try:
        citizen = fake.citizen(1001)
        citizen.send_text("раз")
        await fake.wait_for_messages(1001, 1)
        citizen.send_text("два")
        await fake.wait_for_messages(1001, 2)
    finally:
        await dispatcher.stop_polling()
        await polling

    assert [m.text for m in fake.sent(1001)] == ["Вы написали: раз", "Вы написали: два"]
    assert [r.query.get("marker") for r in fake.requests("GET /updates")][:2] == [None, "1"]


async def test_a_pressed_button_arrives_as_message_callback_and_its_answer_is_recorded(fake, bot):
    citizen = fake.citizen(1001)
    markup = InlineKeyboardBuilder().row(CallbackButton(text="Да", payload="yes")).as_markup()
    sent = await bot.send_message(user_id=1001, text="Помогло?", attachments=[markup])

    citizen.press(sent.message.body.mid, "yes")
    [event] = await process_update_request(await bot.get_updates(timeout=5), bot)
    await bot.send_callback(
        event.callback.callback_id,
        message=MessageForCallback(text="Спасибо за ответ", attachments=[]),
        notification="Принято",
    )

    assert isinstance(event, MessageCallback)
    assert (event.callback.payload, event.callback.user.user_id) == ("yes", 1001)
    assert event.message.body.mid == sent.message.body.mid
    [answer] = fake.answers
    assert (answer.callback_id, answer.notification) == (event.callback.callback_id, "Принято")
    assert (fake.sent(1001)[0].text, fake.sent(1001)[0].keyboard) == ("Спасибо за ответ", None)


async def test_pressing_a_button_the_message_lacks_is_refused_unless_forced(fake, bot):
    citizen = fake.citizen(1001)
    sent = await bot.send_message(user_id=1001, text="Без кнопок")

    with pytest.raises(ValueError, match="no callback button"):
        citizen.press(sent.message.body.mid, "yes")
    update = citizen.press(sent.message.body.mid, "stale", check=False)

    assert update["callback"]["payload"] == "stale"


async def test_the_marker_commits_and_duplicates_and_reordering_are_delivered_as_injected(
    fake, bot
):
    citizen = fake.citizen(1001)
    first = citizen.send_text("первое", deliver=False)
    second = citizen.send_text("второе", deliver=False)
    fake.deliver(second)
    fake.deliver(first)
    fake.deliver(first)

    events = await bot.get_updates(timeout=0)
    texts = [e.message.body.text for e in await process_update_request(events, bot)]
    again = await bot.get_updates(timeout=0, marker=events["marker"])
    unmarked = await bot.get_updates(timeout=0)

    assert events["updates"] == [second, first, first]
    assert texts == ["второе", "первое", "первое"]
    assert again == {"updates": [], "marker": 3}
    assert unmarked["updates"] == []


async def test_an_update_is_redelivered_unchanged_after_the_marker_passed_it(fake, bot):
    citizen = fake.citizen(1001)
    citizen.send_text("раз")
    events = await bot.get_updates(timeout=0)

    fake.redeliver(0)
    again = await bot.get_updates(timeout=0, marker=events["marker"])

    assert again["updates"] == events["updates"]


async def test_garbage_updates_come_out_of_updates_as_given(fake, bot):
    garbage = [
        "not an update",
        None,
        [1, 2, 3],
        {"update_type": "no_such_update", "timestamp": 1},
        {"update_type": "message_created", "timestamp": 2},
        {"timestamp": 3},
    ]
    for update in garbage:
        fake.deliver(update)
    fake.citizen(1001).send_text("настоящее")

    events = await bot.get_updates(timeout=0)
    parsed = await process_update_request(events, bot)

    assert events["updates"][:6] == garbage
    assert [e.message.body.text for e in parsed] == ["настоящее"]


async def test_types_and_limit_narrow_the_batch(fake, bot):
    citizen = fake.citizen(1001)
    citizen.start()
    for n in range(3):
        citizen.send_text(str(n))

    only_messages = await bot.get_updates(timeout=0, types=["message_created"], limit=2)

    assert [u["message"]["body"]["text"] for u in only_messages["updates"]] == ["0", "1"]
    assert only_messages["marker"] == 3


async def test_an_uploaded_image_is_sent_by_its_token_and_served(fake, bot):
    fake.citizen(1001)
    picture = png(64, 48, label="схема")

    upload = await bot.upload_media(InputMediaBuffer(picture, filename="scheme"))
    answer = await bot.send_message(user_id=1001, text="Схема проезда", attachments=[upload])

    [sent] = fake.sent(1001)
    assert sent.request["attachments"] == [
        {"type": "image", "payload": {"token": upload.payload.token}}
    ]
    image = answer.message.body.attachments[0]
    assert image.type == "image"
    assert image.payload.token == upload.payload.token
    assert await bot.download_bytes(image.payload.url) == picture
    assert [u.kind for u in fake.uploads] == ["image"]


async def test_a_file_upload_answers_a_token_and_an_unknown_token_is_refused(fake, bot):
    fake.citizen(1001)
    upload = await bot.upload_media(
        InputMediaBuffer(b"%PDF-1.4 fake", filename="act", type="file")
    )

    await bot.send_message(user_id=1001, attachments=[upload])
    with pytest.raises(MaxApiError) as refused:
        unknown = AttachmentUpload(type=UploadType.FILE, payload=AttachmentPayload(token="nope"))
        await bot.send_message(user_id=1001, attachments=[unknown])

    [sent] = fake.sent(1001)
    assert sent.attachments[0]["payload"]["token"] == upload.payload.token
    assert sent.attachments[0]["size"] == len(b"%PDF-1.4 fake")
    assert refused.value.code == 400


async def test_a_not_ready_attachment_is_retried_by_maxapi_until_it_is(fake, bot):
    fake.citizen(1001)
    upload = await bot.upload_media(InputMediaBuffer(png(8, 8), filename="p"))
    fake.attachments_not_ready(2)

    await bot.send_message(user_id=1001, attachments=[upload])

    statuses = [r.status for r in fake.requests("POST /messages")]
    assert statuses == [400, 400, 200]
    assert len(fake.sent(1001)) == 1


async def test_citizens_photo_file_and_location_arrive_and_the_photo_downloads(fake, bot):
    citizen = fake.citizen(1001)
    citizen.send_photo("Яма во дворе", width=320, height=240)
    citizen.send_file("заявление.pdf", b"%PDF-1.4", content_type="application/pdf")
    citizen.send_location(55.7558, 37.6173)

    photo, document, place = await process_update_request(await bot.get_updates(timeout=0), bot)

    image = photo.message.body.attachments[0]
    assert (photo.message.body.text, image.type) == ("Яма во дворе", "image")
    assert image_size(await bot.download_bytes(image.payload.url)) == (320, 240)
    attached = document.message.body.attachments[0]
    assert (attached.type, attached.filename, attached.size) == ("file", "заявление.pdf", 8)
    assert await bot.download_bytes(attached.payload.url) == b"%PDF-1.4"
    location = place.message.body.attachments[0]
    assert (location.latitude, location.longitude) == (55.7558, 37.6173)


async def test_a_citizen_who_stopped_the_bot_cannot_be_written_to_until_restarting_it(fake, bot):
    citizen = fake.citizen(1001)
    citizen.stop()
    [stopped] = await process_update_request(await bot.get_updates(timeout=0), bot)

    with pytest.raises(MaxApiError) as refused:
        await bot.send_message(user_id=1001, text="Ответ оператора")
    citizen.start("from-site")
    [started] = await process_update_request(await bot.get_updates(timeout=0, marker=1), bot)
    await bot.send_message(user_id=1001, text="Ответ оператора")

    assert isinstance(stopped, BotStopped) and stopped.user.user_id == 1001
    assert refused.value.code == 403
    assert refused.value.raw == {"code": "chat.denied", "message": "error.dialog.suspended"}
    assert isinstance(started, BotStarted) and started.payload == "from-site"
    assert [m.text for m in fake.sent(1001)] == ["Ответ оператора"]


async def test_text_longer_than_4000_characters_is_refused_with_400(fake, http):
    fake.citizen(1001)
    query = {"user_id": "1001"}

    status, body = await raw(
        http, fake, "POST", "/messages", params=query, json={"text": "я" * 4001}
    )
    fits, _ = await raw(http, fake, "POST", "/messages", params=query, json={"text": "я" * 4000})

    assert status == 400
    assert body["code"] == "proto.payload" and "4000" in body["message"]
    assert fits == 200
    assert [len(m.text) for m in fake.sent(1001)] == [4000]


async def test_maxapi_itself_refuses_a_text_of_4000_characters(fake, bot):
    fake.citizen(1001)

    with pytest.raises(ValueError, match="4000"):
        await bot.send_message(user_id=1001, text="я" * 4000)

    assert fake.requests("POST /messages") == []


@pytest.mark.parametrize(
    ("rows", "per_row"), [(31, 1), (1, 8)], ids=["31 rows", "8 buttons in a row"]
)
async def test_an_oversized_keyboard_is_refused_with_400(fake, bot, rows, per_row):
    fake.citizen(1001)

    with pytest.raises(MaxApiError) as refused:
        await bot.send_message(
            user_id=1001, text="Выберите", attachments=[keyboard(rows, per_row)]
        )

    assert refused.value.code == 400
    assert "inline_keyboard" in refused.value.raw["message"]
    assert fake.sent(1001) == []


async def test_the_largest_keyboard_allowed_is_sent(fake, bot):
    fake.citizen(1001)

    await bot.send_message(user_id=1001, text="Выберите", attachments=[keyboard(30, 7)])

    assert [len(row) for row in fake.sent(1001)[0].keyboard] == [7] * 30


async def test_requests_beyond_30_a_second_get_429_until_the_second_passes(http):
    clock = StandingClock()
    async with FakeMax(clock=clock) as fake:
        bot = Bot(DEFAULT_TOKEN)
        bot.set_api_url(fake.url)
        try:
            for _ in range(30):
                await bot.get_me()
            with pytest.raises(MaxApiError) as refused:
                await bot.get_me()
            clock.now += 1.0
            me = await bot.get_me()
        finally:
            await bot.close_session()

    assert (refused.value.code, refused.value.raw["code"]) == (429, "too.many.requests")
    assert me.user_id == fake.state.bot_id


async def test_long_polls_beyond_2_a_second_get_429_on_their_own_limit():
    clock = StandingClock()
    async with FakeMax(clock=clock) as fake:
        bot = Bot(DEFAULT_TOKEN)
        bot.set_api_url(fake.url)
        try:
            for _ in range(2):
                await bot.get_updates(timeout=0)
            with pytest.raises(MaxApiError) as refused:
                await bot.get_updates(timeout=0)
            me = await bot.get_me()
            clock.now += 1.0
            events = await bot.get_updates(timeout=0)
        finally:
            await bot.close_session()

    assert refused.value.code == 429
    assert me.is_bot
    assert events == {"updates": [], "marker": 0}


async def test_limits_are_configurable():
    clock = StandingClock()
    async with FakeMax(clock=clock, rate_limits=RateLimits(requests=1)) as fake:
        bot = Bot(DEFAULT_TOKEN)
        bot.set_api_url(fake.url)
        try:
            await bot.get_me()
            with pytest.raises(MaxApiError):
                await bot.get_me()
        finally:
            await bot.close_session()


async def test_forced_429s_answer_the_next_sends_and_then_sending_works(fake, bot):
    fake.citizen(1001)
    fake.fail_next("POST /messages", 2)

    codes = []
    for _ in range(2):
        with pytest.raises(MaxApiError) as refused:
            await bot.send_message(user_id=1001, text="Ответ")
        codes.append(refused.value.code)
    await bot.send_message(user_id=1001, text="Ответ")

    assert codes == [429, 429]
    assert [m.text for m in fake.sent(1001)] == ["Ответ"]


async def test_an_edit_from_maxapi_replaces_the_text_and_drops_the_keyboard(fake, bot):
    fake.citizen(1001)
    markup = InlineKeyboardBuilder().row(CallbackButton(text="Да", payload="yes")).as_markup()
    sent = await bot.send_message(user_id=1001, text="Вопрос", attachments=[markup])

    await bot.edit_message(sent.message.body.mid, text="Вопрос закрыт")
    await bot.delete_message(sent.message.body.mid)

    [message] = fake.sent(1001)
    assert (message.text, message.keyboard) == ("Вопрос закрыт", None)
    assert message.edits == [{"attachments": [], "text": "Вопрос закрыт"}]
    assert message.deleted


async def test_the_webhook_gets_updates_with_the_secret_and_is_retried_until_200(fake, bot):
    received: list[tuple[str | None, Any]] = []

    async def hook(request: web.Request) -> web.Response:
        received.append((request.headers.get(SECRET_HEADER), await request.json()))
        return web.Response(status=500 if len(received) == 1 else 200)

    app = web.Application()
    app.router.add_post("/max", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/max"
    try:
        with pytest.warns(UserWarning, match="HTTPS"):
            await bot.subscribe_webhook(url, secret="djinn-secret-1")
        subscriptions = await bot.get_subscriptions()
        update = fake.citizen(1001).send_text("Через вебхук")
        await fake.webhook_settled()
        with pytest.raises(MaxApiError) as polling:
            await bot.get_updates(timeout=0)
        await bot.unsubscribe_webhook(url)
        after = await bot.get_updates(timeout=0)
    finally:
        await runner.cleanup()

    assert [s.url for s in subscriptions.subscriptions] == [url]
    assert received == [("djinn-secret-1", update), ("djinn-secret-1", update)]
    assert [a.status for a in fake.webhook_attempts] == [500, 200]
    assert polling.value.code == 405
    assert after["updates"] == []


async def test_the_webhook_pushes_only_the_subscribed_types(fake, http):
    received: list[Any] = []

    async def hook(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.Response()

    app = web.Application()
    app.router.add_post("/max", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/max"
    try:
        status, _ = await raw(
            http,
            fake,
            "POST",
            "/subscriptions",
            json={"url": url, "update_types": ["bot_started"]},
        )
        citizen = fake.citizen(1001)
        citizen.send_text("не нужно")
        started = citizen.start()
        await fake.webhook_settled()
    finally:
        await runner.cleanup()

    assert status == 200
    assert received == [started]


async def test_control_endpoints_drive_the_fake_over_http(fake, bot, http):
    async with http.post(
        fake.url + "/_control/citizens/1001/text", json={"text": "Привет", "first_name": "Анна"}
    ) as response:
        injected = await response.json()
    async with http.post(
        fake.url + "/_control/updates", json={"update_type": "nonsense"}
    ) as response:
        garbage = await response.json()
    async with http.post(
        fake.url + "/_control/faults", json={"operation": "POST /messages", "status": 429}
    ) as response:
        assert response.status == 200
    events = await bot.get_updates(timeout=0)
    with pytest.raises(MaxApiError):
        await bot.send_message(user_id=1001, text="Здравствуйте, Анна")
    await bot.send_message(user_id=1001, text="Здравствуйте, Анна")
    async with http.get(fake.url + "/_control/messages", params={"user_id": "1001"}) as response:
        messages = await response.json()

    assert injected["message"]["sender"]["first_name"] == "Анна"
    assert garbage == {"seq": 1}
    assert events["updates"] == [injected, {"update_type": "nonsense"}]
    assert [m["text"] for m in messages] == ["Здравствуйте, Анна"]


async def test_running_it_alone_prints_its_url_and_token(http):
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tools.fake_max",
        "--port",
        "0",
        stdout=asyncio.subprocess.PIPE,
        cwd=Path(__file__).resolve().parents[3],
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        first = (await asyncio.wait_for(process.stdout.readline(), 60)).decode()
        second = (await process.stdout.readline()).decode()
        url = first.rsplit(" ", 1)[-1].strip()
        async with http.get(url + "/me", headers={"Authorization": DEFAULT_TOKEN}) as response:
            me = await response.json()
    finally:
        process.terminate()
        await process.wait()

    assert first.startswith("Fake MAX Bot API at http://127.0.0.1:")
    assert DEFAULT_TOKEN in second
    assert me["is_bot"] is True
    assert process.returncode == 0
