import asyncio
import json

import aiohttp
import pytest

from bots.vk.sender import RetryPolicy, VkSender, random_id_for
from core.domain import Button, Channel, DeliveryStatus, Reply
from tests.fakes import RecordedDelivery

BUTTONS = ((Button("Помогло", "fh:1"), Button("Не помогло", "fn:1")),)


def vk_error(code: int, message: str = "error") -> dict:
    return {"error": {"error_code": code, "error_msg": message, "request_params": []}}


def ok(message_id: int) -> dict:
    return {"response": message_id}


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        await asyncio.sleep(0)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def sender(api, handler, sleeps) -> VkSender:
    return VkSender(api, handler, sleep=sleeps, policy=RetryPolicy(attempts=4, base_delay=0.5))


def reply(text: str = "Ответ", outbox_id: int | None = 10, chat_id: str = "42") -> Reply:
    return Reply(Channel.VK, chat_id, text, BUTTONS, outbox_id)


async def test_reply_is_sent_with_its_keyboard_and_recorded(sender, http, handler):
    http.queue(ok(555))

    assert await sender.deliver(reply("Приём по вторникам")) is DeliveryStatus.SENT

    [sent] = http.sent("messages.send")
    assert sent["peer_id"] == 42
    assert sent["message"] == "Приём по вторникам"
    assert json.loads(sent["keyboard"])["inline"] is True
    assert handler.deliveries == [RecordedDelivery(10, DeliveryStatus.SENT, "555")]


async def test_rate_limit_is_waited_out_with_the_same_random_id(sender, http, handler, sleeps):
    http.queue(vk_error(6, "Too many requests per second"), vk_error(6), ok(7))

    assert await sender.deliver(reply()) is DeliveryStatus.SENT

    random_ids = {sent["random_id"] for sent in http.sent("messages.send")}
    assert len(http.sent("messages.send")) == 3
    assert random_ids == {random_id_for(10, 0)}
    assert sleeps.delays == [0.5, 1.0]
    assert handler.deliveries == [RecordedDelivery(10, DeliveryStatus.SENT, "7")]


async def test_rate_limit_that_never_ends_fails_after_the_last_attempt(sender, http, handler):
    http.queue(*[vk_error(6)] * 4)

    assert await sender.deliver(reply()) is DeliveryStatus.FAILED

    assert len(http.sent("messages.send")) == 4
    assert handler.deliveries[0].status is DeliveryStatus.FAILED
    assert "6" in handler.deliveries[0].error


@pytest.mark.parametrize("code", [901, 902, 7])
async def test_citizen_who_disallowed_messages_is_recorded_blocked(sender, http, handler, code):
    http.queue(vk_error(code, "Can't send messages for users without permission"))

    assert await sender.deliver(reply()) is DeliveryStatus.BLOCKED

    assert len(http.sent("messages.send")) == 1
    [delivery] = handler.deliveries
    assert (delivery.outbox_id, delivery.status, delivery.external_id) == (
        10,
        DeliveryStatus.BLOCKED,
        None,
    )
    assert str(code) in delivery.error


@pytest.mark.parametrize(
    "failure",
    [aiohttp.ServerDisconnectedError(), TimeoutError(), "<html>502 Bad Gateway</html>"],
    ids=["disconnect", "timeout", "5xx page"],
)
async def test_network_failure_is_retried(sender, http, handler, sleeps, failure):
    http.queue(failure, ok(8))

    assert await sender.deliver(reply()) is DeliveryStatus.SENT

    assert sleeps.delays == [0.5]
    assert handler.deliveries == [RecordedDelivery(10, DeliveryStatus.SENT, "8")]


async def test_network_failure_is_retried_only_so_often(sender, http, handler):
    http.queue(*[aiohttp.ClientConnectionError()] * 4)

    assert await sender.deliver(reply()) is DeliveryStatus.FAILED

    assert len(http.sent("messages.send")) == 4
    assert handler.deliveries[0].status is DeliveryStatus.FAILED


async def test_other_vk_error_fails_at_once(sender, http, handler):
    http.queue(vk_error(911, "Keyboard format is invalid"))

    assert await sender.deliver(reply()) is DeliveryStatus.FAILED

    assert len(http.sent("messages.send")) == 1
    assert "911" in handler.deliveries[0].error


async def test_long_reply_is_split_and_the_keyboard_goes_on_the_last_part(sender, http, handler):
    http.queue(ok(1), ok(2))
    text = "Первый абзац. " * 200 + "\n\n" + "Второй абзац. " * 200

    await sender.deliver(reply(text))

    first, last = http.sent("messages.send")
    assert len(first["message"]) <= 4096 and len(last["message"]) <= 4096
    assert "keyboard" not in first and "keyboard" in last
    assert [first["random_id"], last["random_id"]] == [random_id_for(10, 0), random_id_for(10, 1)]
    assert handler.deliveries == [RecordedDelivery(10, DeliveryStatus.SENT, "2")]


async def test_resending_a_reply_uses_the_same_random_ids(sender, http):
    http.queue(ok(1), ok(1))

    await sender.deliver(reply(outbox_id=99))
    await sender.deliver(reply(outbox_id=99))

    first, again = http.sent("messages.send")
    assert first["random_id"] == again["random_id"] == random_id_for(99, 0)


def test_random_ids_differ_between_parts_and_replies_and_fit_in_int32():
    ids = {random_id_for(outbox, part) for outbox in range(1, 200) for part in range(3)}

    assert len(ids) == 199 * 3
    assert all(0 < i < 2**31 for i in ids)
    assert 0 < random_id_for(10**12, 63) < 2**31


async def test_reply_without_outbox_id_is_sent_but_not_recorded(sender, http, handler):
    http.queue(ok(3))

    assert await sender.deliver(reply(outbox_id=None)) is DeliveryStatus.SENT

    assert handler.deliveries == []


async def test_reply_to_a_chat_id_that_is_not_a_vk_peer_fails(sender, http, handler):
    assert await sender.deliver(reply(chat_id="tg:1")) is DeliveryStatus.FAILED

    assert http.sent("messages.send") == []


async def test_replies_to_one_citizen_keep_their_order_across_retries(sender, http):
    http.queue(vk_error(6), ok(1), ok(2))

    await asyncio.gather(sender.deliver(reply("первый", 1)), sender.deliver(reply("второй", 2)))

    assert [sent["message"] for sent in http.sent("messages.send")] == [
        "первый",
        "первый",
        "второй",
    ]
