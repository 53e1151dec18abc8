import asyncio
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from tests.fakes import StandingClock as Clock
from tools.fake_telegram import DEFAULT_TOKEN, FakeTelegram, RateLimits

GROUP = -1001234567890


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def tg(clock: Clock):
    async with FakeTelegram(clock=clock) as fake:
        yield fake


@pytest.fixture
async def http():
    async with aiohttp.ClientSession() as session:
        yield session


async def call(
    http: aiohttp.ClientSession, tg: FakeTelegram, method: str, **params: Any
) -> tuple[int, dict[str, Any]]:
    async with http.post(f"{tg.api_url}/bot{DEFAULT_TOKEN}/{method}", json=params) as response:
        return response.status, await response.json()


async def send(http: aiohttp.ClientSession, tg: FakeTelegram, chat_id: int) -> int | None:
    """Send a text; return ``retry_after`` when refused with 429, None when sent."""
    status, answer = await call(http, tg, "sendMessage", chat_id=chat_id, text="Ответ")
    if status == 429:
        retry_after = answer["parameters"]["retry_after"]
        assert answer["description"] == f"Too Many Requests: retry after {retry_after}"
        return retry_after
    assert status == 200, answer
    return None


async def test_31st_message_within_a_second_is_refused_with_429(tg, http, clock):
    chats = [tg.citizen(1001 + n).chat_id for n in range(31)]
    refusals = [await send(http, tg, chat_id) for chat_id in chats]
    assert refusals == [None] * 30 + [1]
    assert tg.messages(chats[-1]) == []
    assert [r.status for r in tg.requests("sendMessage")][-2:] == [200, 429]
    clock.now += 1.0
    assert await send(http, tg, chats[-1]) is None


async def test_21st_message_into_a_group_within_a_minute_gets_an_honest_retry_after(
    tg, http, clock
):
    tg.citizen(1001, group_id=GROUP)
    sent = []
    for _ in range(20):
        sent.append(await send(http, tg, GROUP))
        clock.now += 1.0
    assert sent == [None] * 20
    assert await send(http, tg, GROUP) == 40  # the first message leaves the window at +60 s
    clock.now += 39.5
    assert await send(http, tg, GROUP) == 1
    clock.now += 0.5
    assert await send(http, tg, GROUP) is None
    assert await send(http, tg, GROUP) == 1  # the window slides: the second one is next
    assert len(tg.messages(GROUP)) == 21


async def test_group_limit_leaves_other_chats_alone(tg, http):
    tg.citizen(1001, group_id=GROUP)
    tg.citizen(1002, group_id=GROUP - 1)
    alice = tg.citizen(1003)
    assert [await send(http, tg, GROUP) for _ in range(21)][-2:] == [None, 60]
    assert await send(http, tg, GROUP - 1) is None
    assert [await send(http, tg, alice.chat_id) for _ in range(5)] == [None] * 5


async def test_refused_messages_do_not_count(http, clock):
    async with FakeTelegram(clock=clock, rate_limits=RateLimits(per_group=2)) as tg:
        tg.citizen(1001, group_id=GROUP)
        assert [await send(http, tg, GROUP) for _ in range(2)] == [None, None]
        clock.now += 30
        assert [await send(http, tg, GROUP) for _ in range(5)] == [30] * 5
        clock.now += 30
        assert await send(http, tg, GROUP) is None
        assert len(tg.messages(GROUP)) == 3


async def test_copies_count_but_chat_actions_and_edits_do_not(http, clock):
    async with FakeTelegram(clock=clock, rate_limits=RateLimits(overall=1)) as tg:
        photo = tg.citizen(2002).send_photo()["message"]
        tg.citizen(1001)
        _, sent = await call(http, tg, "sendMessage", chat_id=1001, text="Ответ")
        message_id = sent["result"]["message_id"]
        status, _ = await call(http, tg, "sendChatAction", chat_id=1001, action="typing")
        assert status == 200
        status, _ = await call(
            http, tg, "editMessageText", chat_id=1001, message_id=message_id, text="Правка"
        )
        assert status == 200
        status, answer = await call(
            http, tg, "copyMessage", chat_id=1001, from_chat_id=2002,
            message_id=photo["message_id"],
        )  # fmt: skip
        assert (status, answer["parameters"]) == (429, {"retry_after": 1})


async def test_limits_tighten_and_loosen_through_the_constructor(http):
    async with FakeTelegram(rate_limits=RateLimits(overall=3, overall_window=0.3)) as tg:
        tg.citizen(1001)
        assert [await send(http, tg, 1001) for _ in range(4)] == [None, None, None, 1]
        await asyncio.sleep(0.3)  # a real clock: the window frees by itself
        assert await send(http, tg, 1001) is None
    async with FakeTelegram(rate_limits=None) as tg:
        tg.citizen(1001, group_id=GROUP)
        assert [await send(http, tg, GROUP) for _ in range(35)] == [None] * 35


async def test_outage_answers_every_method_and_keeps_updates_queued(tg, http):
    alice = tg.citizen(1001)
    poll = asyncio.create_task(call(http, tg, "getUpdates", timeout=30))
    await tg.wait_for_request("getUpdates")
    tg.outage(502)
    bad_gateway = (502, {"ok": False, "error_code": 502, "description": "Bad Gateway"})
    assert await poll == bad_gateway
    update = alice.send_text("Есть кто?")
    assert await call(http, tg, "getUpdates", timeout=0) == bad_gateway
    assert await call(http, tg, "getMe") == bad_gateway
    assert await call(http, tg, "sendMessage", chat_id=1001, text="Ответ") == bad_gateway
    assert tg.messages(1001) == []
    assert [r.status for r in tg.requests()] == [502] * 4
    tg.restore()
    status, answer = await call(http, tg, "getUpdates", timeout=0)
    assert (status, answer["result"]) == (200, [update])


async def test_outage_holds_webhook_deliveries_until_restored(tg, http):
    received: list[dict[str, Any]] = []

    async def endpoint(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.Response()

    app = web.Application()
    app.router.add_post("/hook", endpoint)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
        assert (await call(http, tg, "setWebhook", url=url))[0] == 200
        tg.outage(503)
        update = tg.citizen(1001).send_text("Вопрос")
        await asyncio.sleep(0.2)
        assert received == [] and len(tg.state.queue) == 1
        tg.restore()
        await tg.wait_until(lambda: bool(received))
        assert received == [update]
    finally:
        await runner.cleanup()


async def test_outage_through_the_control_endpoints(tg, http):
    tg.citizen(1001)
    base = f"{tg.api_url}/_fake"
    async with http.post(f"{base}/outage", json={"status": 503}) as r:
        assert r.status == 200
    status, answer = await call(http, tg, "sendMessage", chat_id=1001, text="Ответ")
    assert (status, answer["description"]) == (503, "Service Unavailable")
    async with http.get(f"{base}/") as r:
        summary = await r.json()
    assert summary["outage"] == 503
    assert summary["rate_limits"] == {
        "overall": 30, "overall_window": 1.0, "per_group": 20, "group_window": 60.0,
    }  # fmt: skip
    async with http.post(f"{base}/outage", json={"status": 200}) as r:
        assert r.status == 400
    async with http.delete(f"{base}/outage") as r:
        assert r.status == 200
    assert await send(http, tg, 1001) is None
