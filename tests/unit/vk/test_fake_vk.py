import asyncio
import json
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from tools.fake_vk import FakeVk


@pytest.fixture
async def vk():
    async with FakeVk(token="t0ken", group_id=1000) as fake:
        yield fake


@pytest.fixture
async def http():
    async with aiohttp.ClientSession() as session:
        yield session


async def call(http: aiohttp.ClientSession, vk: FakeVk, method: str, **params: Any) -> dict:
    form = {k: v if isinstance(v, str) else json.dumps(v) for k, v in params.items()}
    query = {"access_token": "t0ken", "v": "5.199"}
    async with http.post(vk.api_url + method, params=query, data=form) as response:
        return await response.json()


async def error_code(http, vk, method: str, **params: Any) -> int:
    return (await call(http, vk, method, **params))["error"]["error_code"]


def keyboard(rows: int, per_row: int, *, inline: bool = True, label: str = "Да", payload=None):
    action = {"type": "text", "label": label}
    if payload is not None:
        action["payload"] = payload
    return json.dumps(
        {"inline": inline, "buttons": [[{"action": action}] * per_row for _ in range(rows)]}
    )


async def test_token_is_accepted_in_the_form_too(vk, http):
    async with http.post(vk.api_url + "groups.getById", data={"access_token": "t0ken"}) as resp:
        body = await resp.json()

    assert body["response"]["groups"][0]["id"] == 1000


async def test_wrong_token_is_error_5_in_vk_shape(vk, http):
    async with http.post(vk.api_url + "users.get", params={"access_token": "bad"}) as resp:
        error = (await resp.json())["error"]

    assert error["error_code"] == 5
    assert {"key": "method", "value": "users.get"} in error["request_params"]


async def test_unknown_method_is_error_3(vk, http):
    assert await error_code(http, vk, "wall.post") == 3


async def test_sent_message_is_recorded_per_peer(vk, http):
    body = await call(http, vk, "messages.send", peer_id=7, random_id=1, message="Здравствуйте")

    [sent] = vk.sent_to(7)
    assert body == {"response": sent.id}
    assert sent.text == "Здравствуйте"
    assert vk.calls("messages.send")[0].params["message"] == "Здравствуйте"


async def test_repeated_random_id_does_not_send_twice(vk, http):
    first = await call(http, vk, "messages.send", peer_id=7, random_id=5, message="раз")
    again = await call(http, vk, "messages.send", peer_id=7, random_id=5, message="раз")

    assert first == again
    assert len(vk.sent_to(7)) == 1


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"peer_id": 7, "message": "без random_id"}, 100),
        ({"random_id": 1, "message": "без получателя"}, 100),
        ({"peer_id": 7, "random_id": 1, "message": "   "}, 100),
        ({"peer_id": 7, "random_id": 1, "message": "я" * 4097}, 914),
    ],
    ids=["no random_id", "no peer", "empty text", "4097 characters"],
)
async def test_send_arguments_are_validated(vk, http, params, code):
    assert await error_code(http, vk, "messages.send", **params) == code
    assert vk.all_sent() == []


async def test_text_of_4096_characters_and_empty_text_with_attachment_are_fine(vk, http):
    await call(http, vk, "messages.send", peer_id=7, random_id=1, message="я" * 4096)
    await call(http, vk, "messages.send", peer_id=7, random_id=2, attachment="photo1_2")

    assert len(vk.sent_to(7)) == 2


@pytest.mark.parametrize(
    "markup",
    [
        keyboard(7, 1),
        keyboard(3, 4),
        keyboard(1, 6),
        keyboard(11, 1, inline=False),
        keyboard(10, 5, inline=False),
        keyboard(1, 1, label="x" * 41),
        keyboard(1, 1, payload=json.dumps({"c": "x" * 250})),
        keyboard(1, 1, payload="not json"),
        "{not json",
        json.dumps({"buttons": "no"}),
        json.dumps({"buttons": [[{"action": {"type": "teleport", "label": "x"}}]]}),
    ],
    ids=[
        "inline 7 rows",
        "inline 12 buttons",
        "6 in a row",
        "11 rows",
        "50 buttons",
        "41-character label",
        "256-character payload",
        "payload not JSON",
        "keyboard not JSON",
        "buttons not rows",
        "unknown action",
    ],
)
async def test_invalid_keyboards_are_refused(vk, http, markup):
    code = await error_code(
        http, vk, "messages.send", peer_id=7, random_id=1, message="Текст", keyboard=markup
    )

    assert code == 911


@pytest.mark.parametrize(
    "markup",
    [
        keyboard(6, 1),
        keyboard(2, 5),
        keyboard(10, 4, inline=False),
        keyboard(1, 1, label="я" * 40),
    ],
    ids=["inline 6 rows", "inline 10 buttons", "40 buttons", "40-character label"],
)
async def test_keyboards_at_the_limits_are_accepted(vk, http, markup):
    await call(http, vk, "messages.send", peer_id=7, random_id=1, message="Текст", keyboard=markup)

    assert vk.sent_to(7)[0].keyboard == json.loads(markup)


async def test_rate_limit_fault_hits_the_next_calls_only(vk, http):
    vk.fail_next("messages.send", count=2)

    codes = [await error_code(http, vk, "messages.send", peer_id=7, random_id=1, message="a")]
    codes.append(await error_code(http, vk, "messages.send", peer_id=7, random_id=1, message="a"))
    body = await call(http, vk, "messages.send", peer_id=7, random_id=1, message="a")

    assert codes == [6, 6]
    assert "response" in body


async def test_blocked_peer_gets_901_until_cleared(vk, http):
    vk.block_peer(7)

    code = await error_code(http, vk, "messages.send", peer_id=7, random_id=1, message="a")
    other = await call(http, vk, "messages.send", peer_id=8, random_id=2, message="a")
    vk.unblock_peer(7)
    after = await call(http, vk, "messages.send", peer_id=7, random_id=3, message="a")

    assert code == 901
    assert "response" in other and "response" in after


async def test_http_error_and_dropped_connection(vk, http):
    vk.fail_http("users.get", status=503)
    vk.drop_next("users.get")

    async with http.post(vk.api_url + "users.get", params={"access_token": "t0ken"}) as resp:
        assert resp.status == 503
    with pytest.raises(aiohttp.ServerDisconnectedError):
        async with http.post(vk.api_url + "users.get", params={"access_token": "t0ken"}):
            pass


async def test_users_get_and_event_answer(vk, http):
    vk.users[7] = ("Анна", "Смирнова")

    users = await call(http, vk, "users.get", user_ids="7,8")
    answered = await call(
        http, vk, "messages.sendMessageEventAnswer", event_id="e1", user_id=7, peer_id=7
    )

    assert [u["first_name"] for u in users["response"]] == ["Анна", "Гражданин"]
    assert answered == {"response": 1}
    assert vk.event_answers[0]["event_id"] == "e1"


async def long_poll_server(http, vk) -> dict:
    return (await call(http, vk, "groups.getLongPollServer", group_id=vk.group_id))["response"]


async def a_check(http, server: dict, *, wait: int = 0, key: str | None = None) -> dict:
    params = {"act": "a_check", "key": key or server["key"], "ts": server["ts"], "wait": wait}
    async with http.post(server["server"], params=params) as response:
        return await response.json()


async def test_long_poll_returns_events_after_ts(vk, http):
    server = await long_poll_server(http, vk)
    event = vk.send_text(7, "Добрый день")

    answer = await a_check(http, server)
    later = await a_check(http, {**server, "ts": answer["ts"]})

    assert answer["updates"] == [event]
    assert event["object"]["message"]["text"] == "Добрый день"
    assert later == {"ts": answer["ts"], "updates": []}


async def test_long_poll_holds_the_request_until_an_event_arrives(vk, http):
    server = await long_poll_server(http, vk)
    waiting = asyncio.create_task(a_check(http, server, wait=25))
    await vk.wait_until(lambda: vk.calls("longpoll"))

    event = vk.press_button(7, "Помогло", {"c": "fh:1"})

    assert (await waiting)["updates"] == [event]
    assert json.loads(event["object"]["message"]["payload"]) == {"c": "fh:1"}


async def test_long_poll_failures(vk, http):
    server = await long_poll_server(http, vk)
    vk.send_text(7, "раз")
    answers = []
    for code in (1, 2, 3):
        vk.fail_longpoll(code)
        answers.append(await a_check(http, server))

    assert answers[0] == {"failed": 1, "ts": str(vk.next_ts)}
    assert answers[1:] == [{"failed": 2}, {"failed": 3}]


async def test_expired_key_keeps_answering_failed_2_until_a_new_server_is_asked(vk, http):
    server = await long_poll_server(http, vk)
    vk.fail_longpoll(2)
    await a_check(http, server)

    assert await a_check(http, server) == {"failed": 2}
    fresh = await long_poll_server(http, vk)
    assert (await a_check(http, fresh))["updates"] == []


async def test_injected_events(vk):
    photo = vk.send_attachment(7, "photo", "подпись")
    voice = vk.send_attachment(7, "audio_message")
    place = vk.send_location(7, 55.75, 37.62)
    again = vk.push_event(photo)
    garbage = vk.push_event([1, "два"])

    assert photo["object"]["message"]["attachments"][0]["type"] == "photo"
    assert voice["object"]["message"]["attachments"][0]["type"] == "audio_message"
    assert place["object"]["message"]["geo"]["coordinates"]["latitude"] == 55.75
    assert vk.history[-2:] == [again, garbage]
    assert again["event_id"] == photo["event_id"]


async def test_callback_events_carry_secret_and_are_retried_until_ok(vk):
    received: list[dict] = []

    async def endpoint(request: web.Request) -> web.Response:
        event = await request.json()
        received.append(event)
        if event["type"] == "confirmation":
            return web.Response(text="c0nfirm")
        return web.Response(text="ok" if len(received) >= 3 else "not yet")

    async with serve(endpoint) as url:
        vk.use_callback(url, "s3cret", retry_delay=0)
        confirmation = await vk.confirm_callback()
        event = vk.send_text(7, "Вопрос")
        assert await vk.callbacks_settled() == [True]

    assert confirmation == "c0nfirm"
    assert [e["event_id"] for e in received[1:]] == [event["event_id"]] * 2
    assert received[1]["secret"] == "s3cret" and received[1]["group_id"] == 1000


async def test_callback_gives_up_after_its_attempts(vk):
    async def endpoint(request: web.Request) -> web.Response:
        return web.Response(status=403, text="wrong secret")

    async with serve(endpoint) as url:
        vk.use_callback(url, "s3cret", attempts=3, retry_delay=0)
        vk.send_text(7, "Вопрос")
        assert await vk.callbacks_settled() == [False]

    assert [a.status for a in vk.callback.log] == [403, 403, 403]


async def test_control_endpoints_drive_the_fake(vk, http):
    async with http.post(vk.base_url + "/_fake/message", json={"peer_id": 7, "text": "Эй"}) as r:
        event = await r.json()
    async with http.post(vk.base_url + "/_fake/fault", json={"method": "users.get"}) as r:
        assert r.status == 200
    async with http.post(vk.base_url + "/_fake/block", json={"peer_id": 8}) as r:
        assert r.status == 200
    async with http.post(vk.base_url + "/_fake/message", json={"text": "no peer"}) as r:
        assert r.status == 400
    await call(http, vk, "messages.send", peer_id=7, random_id=1, message="Ответ")
    async with http.get(vk.base_url + "/_fake/sent", params={"peer_id": "7"}) as r:
        sent = await r.json()

    assert vk.history == [event]
    assert await error_code(http, vk, "users.get", user_ids="7") == 6
    assert vk.blocked_code(8) == 901
    assert [m["text"] for m in sent] == ["Ответ"]


class serve:
    """A one-route aiohttp server on 127.0.0.1 standing in for the bot's endpoint."""

    def __init__(self, handler) -> None:
        self.handler = handler

    async def __aenter__(self) -> str:
        app = web.Application()
        app.router.add_post("/cb", self.handler)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = self.runner.addresses[0][1]
        return f"http://127.0.0.1:{port}/cb"

    async def __aexit__(self, *exc) -> None:
        await self.runner.cleanup()
