import asyncio
import json
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from tools.fake_telegram import DEFAULT_TOKEN, FakeTelegram

BUTTON = {"text": "Да", "callback_data": "yes"}


@pytest.fixture
async def tg():
    async with FakeTelegram(webhook_retry_delay=0.01) as fake:
        yield fake


@pytest.fixture
async def http():
    async with aiohttp.ClientSession() as session:
        yield session


async def call(
    http: aiohttp.ClientSession, tg: FakeTelegram, method: str, body: str = "json", **params: Any
) -> tuple[int, dict[str, Any]]:
    url = f"{tg.api_url}/bot{DEFAULT_TOKEN}/{method}"
    fields = {k: v if isinstance(v, str) else json.dumps(v) for k, v in params.items()}
    if body == "json":
        request = http.post(url, json=params)
    elif body == "urlencoded":
        request = http.post(url, data=fields)
    else:
        with aiohttp.MultipartWriter("form-data") as multipart:
            for key, value in fields.items():
                part = multipart.append(value)
                part.set_content_disposition("form-data", name=key)
        request = http.post(url, data=multipart)
    async with request as response:
        return response.status, await response.json()


@pytest.mark.parametrize("body", ["json", "urlencoded", "multipart"])
async def test_send_message_reads_every_body_encoding(tg, http, body):
    alice = tg.citizen(1001)
    markup = {"inline_keyboard": [[BUTTON]]}
    status, answer = await call(
        http, tg, "sendMessage", body, chat_id=alice.chat_id, text="Привет", reply_markup=markup
    )
    assert status == 200 and answer["ok"]
    [sent] = tg.messages(1001)
    assert sent["text"] == "Привет"
    assert sent["reply_markup"] == markup
    assert tg.requests("sendMessage")[0].params["chat_id"] == 1001


@pytest.mark.parametrize(
    ("params", "code", "description"),
    [
        ({"text": "   "}, 400, "Bad Request: message text is empty"),
        ({"text": "я" * 4097}, 400, "Bad Request: message is too long"),
        ({"text": "😀" * 2049}, 400, "Bad Request: message is too long"),
        ({"text": "ok", "chat_id": 404}, 400, "Bad Request: chat not found"),
        (
            {
                "text": "ok",
                "reply_markup": {"inline_keyboard": [[{**BUTTON, "callback_data": "x" * 65}]]},
            },
            400,
            "Bad Request: BUTTON_DATA_INVALID",
        ),
        (
            {"text": "ok", "reply_markup": {"inline_keyboard": [[{"text": "Да"}]]}},
            400,
            "Bad Request: can't parse inline keyboard button: "
            "Text buttons are unallowed in the inline keyboard",
        ),
        (
            {"text": "a < b", "parse_mode": "HTML"},
            400,
            "Bad Request: can't parse entities: Unexpected end of name token at byte offset 2",
        ),
        (
            {"text": "Итого: 5.", "parse_mode": "MarkdownV2"},
            400,
            "Bad Request: can't parse entities: Character '.' is reserved and must be "
            "escaped with the preceding '\\'",
        ),
    ],
)
async def test_send_message_is_validated_like_telegram(tg, http, params, code, description):
    tg.citizen(1001)
    status, answer = await call(http, tg, "sendMessage", **{"chat_id": 1001, **params})
    assert (status, answer) == (
        code,
        {"ok": False, "error_code": code, "description": description},
    )
    assert tg.messages(1001) == []


async def test_text_of_exactly_4096_utf16_units_is_accepted(tg, http):
    tg.citizen(1001)
    status, _ = await call(http, tg, "sendMessage", chat_id=1001, text="😀" * 2048)
    assert status == 200


async def test_wrong_token_is_unauthorized(tg, http):
    async with http.post(f"{tg.api_url}/bot1:wrong/getMe") as response:
        assert response.status == 401
        assert (await response.json())["description"] == "Unauthorized"


async def test_long_poll_waits_for_an_update_and_offset_acknowledges(tg, http):
    poll = asyncio.create_task(call(http, tg, "getUpdates", timeout=30))
    await tg.wait_for_request("getUpdates")
    assert not poll.done()
    update = tg.citizen(1001).send_text("Здравствуйте")
    _, answer = await poll
    assert answer["result"] == [update]
    _, again = await call(http, tg, "getUpdates")
    assert again["result"] == [update]
    _, acknowledged = await call(http, tg, "getUpdates", offset=update["update_id"] + 1)
    assert acknowledged["result"] == []


async def test_redelivered_update_comes_back_with_the_same_id(tg, http):
    update = tg.citizen(1001).send_text("Вопрос")
    await call(http, tg, "getUpdates", offset=update["update_id"] + 1)
    tg.redeliver(update["update_id"])
    _, answer = await call(http, tg, "getUpdates", offset=update["update_id"] + 1)
    assert answer["result"] == [update]


async def test_allowed_updates_filters_known_types(tg, http):
    tg.citizen(1001).send_text("Вопрос")
    tg.inject_raw({"edited_message": {"text": "x"}})
    _, answer = await call(http, tg, "getUpdates", allowed_updates=["message"])
    assert [("message" in u) for u in answer["result"]] == [True]


async def test_rate_limit_server_error_and_dropped_connection(tg, http):
    tg.citizen(1001)
    tg.fail_next("sendMessage", status=429, retry_after=7)
    tg.fail_next("sendMessage", status=502)
    tg.drop_next("sendMessage")
    status, answer = await call(http, tg, "sendMessage", chat_id=1001, text="a")
    assert status == 429 and answer["parameters"] == {"retry_after": 7}
    status, answer = await call(http, tg, "sendMessage", chat_id=1001, text="a")
    assert (status, answer["description"]) == (502, "Bad Gateway")
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await call(http, tg, "sendMessage", chat_id=1001, text="a")
    status, _ = await call(http, tg, "sendMessage", chat_id=1001, text="a")
    assert status == 200
    assert [r.status for r in tg.requests("sendMessage")] == [429, 502, None, 200]


async def test_blocked_chat_is_forbidden_until_the_citizen_writes_again(tg, http):
    alice = tg.citizen(1001)
    tg.block(alice.chat_id)
    status, answer = await call(http, tg, "sendMessage", chat_id=1001, text="a")
    assert (status, answer["description"]) == (403, "Forbidden: bot was blocked by the user")
    alice.send_text("Я снова здесь")
    status, _ = await call(http, tg, "sendMessage", chat_id=1001, text="a")
    assert status == 200


async def test_button_press_and_callback_answer(tg, http):
    alice = tg.citizen(1001)
    _, sent = await call(
        http,
        tg,
        "sendMessage",
        chat_id=1001,
        text="?",
        reply_markup={"inline_keyboard": [[BUTTON]]},
    )
    with pytest.raises(LookupError):
        alice.press_button(sent["result"], "no")
    update = alice.press_button(sent["result"], "yes")
    query = update["callback_query"]
    assert (
        query["data"] == "yes" and query["message"]["message_id"] == sent["result"]["message_id"]
    )
    status, _ = await call(http, tg, "answerCallbackQuery", callback_query_id=query["id"])
    assert status == 200
    status, answer = await call(http, tg, "answerCallbackQuery", callback_query_id=query["id"])
    assert status == 400 and "query ID is invalid" in answer["description"]


async def test_edits_copies_actions_and_commands(tg, http):
    tg.citizen(1001)
    photo = tg.citizen(2002).send_photo(caption="Яма на дороге")["message"]
    _, sent = await call(
        http,
        tg,
        "sendMessage",
        chat_id=1001,
        text="?",
        reply_markup={"inline_keyboard": [[BUTTON]]},
    )
    message_id = sent["result"]["message_id"]
    status, _ = await call(http, tg, "editMessageReplyMarkup", chat_id=1001, message_id=message_id)
    assert status == 200 and "reply_markup" not in tg.messages(1001)[0]
    status, answer = await call(
        http, tg, "editMessageReplyMarkup", chat_id=1001, message_id=message_id
    )
    assert status == 400 and answer["description"].startswith(
        "Bad Request: message is not modified"
    )
    status, _ = await call(
        http, tg, "editMessageText", chat_id=1001, message_id=message_id, text="!"
    )
    assert status == 200 and tg.messages(1001)[0]["text"] == "!"
    status, answer = await call(
        http, tg, "copyMessage", chat_id=1001, from_chat_id=2002, message_id=photo["message_id"]
    )
    assert status == 200 and tg.messages(1001)[-1]["photo"] == photo["photo"]
    status, answer = await call(http, tg, "sendChatAction", chat_id=1001, action="dancing")
    assert (status, answer["description"]) == (
        400,
        "Bad Request: wrong parameter action in request",
    )
    status, answer = await call(
        http, tg, "setMyCommands", commands=[{"command": "Start!", "description": "x"}]
    )
    assert (status, answer["description"]) == (400, "Bad Request: BOT_COMMAND_INVALID")


async def test_webhook_posts_with_secret_and_retries_until_2xx(tg, http):
    received: list[tuple[str | None, dict[str, Any]]] = []

    async def endpoint(request: web.Request) -> web.Response:
        received.append(
            (request.headers.get("X-Telegram-Bot-Api-Secret-Token"), await request.json())
        )
        return web.Response(status=500 if len(received) == 1 else 200)

    app = web.Application()
    app.router.add_post("/hook", endpoint)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
        status, _ = await call(http, tg, "setWebhook", url=url, secret_token="s3cret")
        assert status == 200
        status, _ = await call(http, tg, "getUpdates")
        assert status == 409
        update = tg.citizen(1001).send_text("Вопрос")
        await tg.wait_until(lambda: len(received) == 2 and not tg.state.queue)
        assert received == [("s3cret", update), ("s3cret", update)]
        _, info = await call(http, tg, "getWebhookInfo")
        assert info["result"]["url"] == url and info["result"]["pending_update_count"] == 0
        assert "500" in info["result"]["last_error_message"]
    finally:
        await runner.cleanup()


async def test_control_endpoints_drive_the_fake_over_http(tg, http):
    async with http.post(f"{tg.api_url}/_fake/citizens/1001/text", json={"text": "Привет"}) as r:
        update = await r.json()
    assert tg.state.queue[0].payload == update
    async with http.post(
        f"{tg.api_url}/_fake/faults", json={"method": "sendMessage", "status": 503}
    ) as r:
        assert r.status == 200
    status, _ = await call(http, tg, "sendMessage", chat_id=1001, text="a")
    assert status == 503
    await call(http, tg, "sendMessage", chat_id=1001, text="Ответ")
    async with http.get(f"{tg.api_url}/_fake/chats/1001/messages?count=1") as r:
        assert [m["text"] for m in await r.json()] == ["Ответ"]


async def test_control_endpoints_press_block_and_redeliver(tg, http):
    base = f"{tg.api_url}/_fake"
    _, sent = await call(
        http, tg, "sendMessage", chat_id=tg.citizen(1001).chat_id, text="?",
        reply_markup={"inline_keyboard": [[BUTTON]]},
    )  # fmt: skip
    press = {"message": sent["result"]["message_id"], "data": "yes"}
    async with http.post(f"{base}/citizens/1001/press", json=press) as r:
        update = await r.json()
    assert update["callback_query"]["data"] == "yes"
    async with http.post(f"{base}/citizens/1001/press", json={**press, "data": "no"}) as r:
        assert r.status == 400
    async with http.post(f"{base}/blocked/1001") as r:
        assert r.status == 200
    status, _ = await call(http, tg, "sendMessage", chat_id=1001, text="a")
    assert status == 403
    async with http.post(f"{base}/updates/{update['update_id']}/redeliver") as r:
        assert r.status == 200
    assert [u.payload for u in tg.state.queue] == [update, update]


async def test_fakes_with_their_own_first_id_never_repeat_an_id(http):
    ids: list[tuple[int, str]] = []
    for first_id in (1, 1_000_001):
        async with FakeTelegram(first_id=first_id) as fake:
            update = fake.citizen(1001).send_text("Привет")
            markup = {"inline_keyboard": [[BUTTON]]}
            _, answer = await call(http, fake, "sendMessage", chat_id=1001, text="?",
                                   reply_markup=markup)  # fmt: skip
            press = fake.citizen(1001).press_button(answer["result"], "yes")
            ids.append((update["update_id"], press["callback_query"]["id"]))
    assert [update_id for update_id, _ in ids] == [1, 1_000_001]
    assert ids[0][1] != ids[1][1]
