import json
from typing import Any

import aiohttp
import pytest


async def error_code(call, method: str, **params: Any) -> int:
    return (await call(method, **params))["error"]["error_code"]


def keyboard(rows: int, per_row: int, *, inline: bool = True, label: str = "Да", payload=None):
    action = {"type": "text", "label": label}
    if payload is not None:
        action["payload"] = payload
    return json.dumps(
        {"inline": inline, "buttons": [[{"action": action}] * per_row for _ in range(rows)]}
    )


async def test_token_is_accepted_in_the_form_too(vk, client):
    async with client.post(vk.api_url + "groups.getById", data={"access_token": "t0ken"}) as resp:
        body = await resp.json()

    assert body["response"]["groups"][0]["id"] == 1000


async def test_wrong_token_is_error_5_in_vk_shape(vk, call, client):
    async with client.post(vk.api_url + "users.get", params={"access_token": "bad"}) as resp:
        error = (await resp.json())["error"]

    assert error["error_code"] == 5
    assert {"key": "method", "value": "users.get"} in error["request_params"]


async def test_unknown_method_is_error_3(vk, call):
    assert await error_code(call, "wall.post") == 3


async def test_sent_message_is_recorded_per_peer(vk, call):
    body = await call("messages.send", peer_id=7, random_id=1, message="Здравствуйте")

    [sent] = vk.sent_to(7)
    assert body == {"response": sent.id}
    assert sent.text == "Здравствуйте"
    assert vk.calls("messages.send")[0].params["message"] == "Здравствуйте"


async def test_repeated_random_id_does_not_send_twice(vk, call):
    first = await call("messages.send", peer_id=7, random_id=5, message="раз")
    again = await call("messages.send", peer_id=7, random_id=5, message="раз")

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
async def test_send_arguments_are_validated(vk, call, params, code):
    assert await error_code(call, "messages.send", **params) == code
    assert vk.all_sent() == []


async def test_text_of_4096_characters_and_empty_text_with_attachment_are_fine(vk, call):
    await call("messages.send", peer_id=7, random_id=1, message="я" * 4096)
    await call("messages.send", peer_id=7, random_id=2, attachment="photo1_2")

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
async def test_invalid_keyboards_are_refused(vk, call, markup):
    code = await error_code(
        call, "messages.send", peer_id=7, random_id=1, message="Текст", keyboard=markup
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
async def test_keyboards_at_the_limits_are_accepted(vk, call, markup):
    await call("messages.send", peer_id=7, random_id=1, message="Текст", keyboard=markup)

    assert vk.sent_to(7)[0].keyboard == json.loads(markup)


async def test_rate_limit_fault_hits_the_next_calls_only(vk, call):
    vk.fail_next("messages.send", count=2)

    codes = [await error_code(call, "messages.send", peer_id=7, random_id=1, message="a")]
    codes.append(await error_code(call, "messages.send", peer_id=7, random_id=1, message="a"))
    body = await call("messages.send", peer_id=7, random_id=1, message="a")

    assert codes == [6, 6]
    assert "response" in body


async def test_blocked_peer_gets_901_until_cleared(vk, call):
    vk.block_peer(7)

    code = await error_code(call, "messages.send", peer_id=7, random_id=1, message="a")
    other = await call("messages.send", peer_id=8, random_id=2, message="a")
    vk.unblock_peer(7)
    after = await call("messages.send", peer_id=7, random_id=3, message="a")

    assert code == 901
    assert "response" in other and "response" in after


async def test_http_error_and_dropped_connection(vk, client):
    vk.fail_http("users.get", status=503)
    vk.drop_next("users.get")

    async with client.post(vk.api_url + "users.get", params={"access_token": "t0ken"}) as resp:
        assert resp.status == 503
    with pytest.raises(aiohttp.ServerDisconnectedError):
        async with client.post(vk.api_url + "users.get", params={"access_token": "t0ken"}):
            pass


async def test_users_get_and_event_answer(vk, call):
    vk.users[7] = ("Анна", "Смирнова")

    users = await call("users.get", user_ids="7,8")
    answered = await call("messages.sendMessageEventAnswer", event_id="e1", user_id=7, peer_id=7)

    assert [u["first_name"] for u in users["response"]] == ["Анна", "Гражданин"]
    assert answered == {"response": 1}
    assert vk.event_answers[0]["event_id"] == "e1"
