"""The VK transport: what it sends (a fixed random_id per part), and how it reads VK's
answers for the outbox (wait, try later, or never)."""

import json

import aiohttp
import pytest

from bots.outbox import RetryAfter, Unavailable, Undeliverable
from bots.vk.sender import VkTransport, random_id_for
from core.domain import Button, Channel, DeliveryStatus, Reply

BUTTONS = ((Button("Помогло", "fh:1"), Button("Не помогло", "fn:1")),)


def vk_error(code: int, message: str = "error") -> dict:
    return {"error": {"error_code": code, "error_msg": message, "request_params": []}}


def ok(message_id: int) -> dict:
    return {"response": message_id}


@pytest.fixture
def transport(api) -> VkTransport:
    return VkTransport(api)


def reply(text: str = "Ответ", outbox_id: int = 10, chat_id: str = "42") -> Reply:
    return Reply(Channel.VK, chat_id, text, BUTTONS, outbox_id)


async def send(transport: VkTransport, item: Reply) -> list[str | None]:
    parts = transport.split(item)
    return [
        await transport.send_part(item, i, part, i == len(parts) - 1)
        for i, part in enumerate(parts)
    ]


async def test_reply_is_sent_with_its_keyboard(transport, http):
    http.queue(ok(555))

    assert await send(transport, reply("Приём по вторникам")) == ["555"]

    [sent] = http.sent("messages.send")
    assert sent["peer_id"] == 42
    assert sent["message"] == "Приём по вторникам"
    assert sent["random_id"] == random_id_for(10, 0)
    assert json.loads(sent["keyboard"])["inline"] is True


async def test_rate_limit_asks_to_wait(transport, http):
    http.queue(vk_error(6, "Too many requests per second"))

    with pytest.raises(RetryAfter) as caught:
        await send(transport, reply())

    assert caught.value.seconds == 1.0


@pytest.mark.parametrize("code", [901, 902, 7])
async def test_citizen_who_disallowed_messages_is_blocked(transport, http, code):
    http.queue(vk_error(code, "Can't send messages for users without permission"))

    with pytest.raises(Undeliverable) as caught:
        await send(transport, reply())

    assert caught.value.status is DeliveryStatus.BLOCKED
    assert str(code) in str(caught.value)


@pytest.mark.parametrize(
    "failure",
    [
        aiohttp.ServerDisconnectedError(),
        TimeoutError(),
        "<html>502 Bad Gateway</html>",
        vk_error(10, "Internal server error"),
    ],
    ids=["disconnect", "timeout", "5xx page", "error 10"],
)
async def test_network_failures_wait_for_vk(transport, http, failure):
    http.queue(failure)

    with pytest.raises(Unavailable):
        await send(transport, reply())


async def test_other_vk_error_is_never_retried(transport, http):
    http.queue(vk_error(911, "Keyboard format is invalid"))

    with pytest.raises(Undeliverable) as caught:
        await send(transport, reply())

    assert caught.value.status is DeliveryStatus.FAILED
    assert "911" in str(caught.value)


async def test_long_reply_is_split_and_the_keyboard_goes_on_the_last_part(transport, http):
    http.queue(ok(1), ok(2))
    text = "Первый абзац. " * 200 + "\n\n" + "Второй абзац. " * 200

    assert await send(transport, reply(text)) == ["1", "2"]

    first, last = http.sent("messages.send")
    assert len(first["message"]) <= 4096 and len(last["message"]) <= 4096
    assert "keyboard" not in first and "keyboard" in last
    assert [first["random_id"], last["random_id"]] == [random_id_for(10, 0), random_id_for(10, 1)]


async def test_resending_a_reply_uses_the_same_random_ids(transport, http):
    http.queue(ok(1), ok(1))

    await send(transport, reply(outbox_id=99))
    await send(transport, reply(outbox_id=99))

    first, again = http.sent("messages.send")
    assert first["random_id"] == again["random_id"] == random_id_for(99, 0)


def test_random_ids_differ_between_parts_and_replies_and_fit_in_int32():
    ids = {random_id_for(outbox, part) for outbox in range(1, 200) for part in range(3)}

    assert len(ids) == 199 * 3
    assert all(0 < i < 2**31 for i in ids)
    assert 0 < random_id_for(10**12, 63) < 2**31


def test_a_chat_id_that_is_not_a_vk_peer_has_nothing_to_send(transport):
    assert transport.split(reply(chat_id="tg:1")) == []
