import asyncio
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest

from tests.fakes import StandingClock as Clock
from tools.fake_vk import FakeVk, RateLimit


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def vk(request: pytest.FixtureRequest, clock: Clock) -> AsyncIterator[FakeVk]:
    """The fake on a standing clock; ``indirect`` parameters go to its constructor."""
    options = {"clock": clock, **getattr(request, "param", {})}
    async with FakeVk(token="t0ken", group_id=1000, **options) as fake:
        yield fake


def constructed(**options):
    return pytest.mark.parametrize("vk", [options], indirect=True)


async def error_code(call, method: str = "users.get", **params) -> int | None:
    body = await call(method, **params)
    return body["error"]["error_code"] if "error" in body else None


async def send(call, peer_id: int, random_id: int) -> int:
    body = await call("messages.send", peer_id=peer_id, random_id=random_id, message="Ответ")
    return body["response"]


async def test_21st_call_within_a_second_is_error_6_in_a_normal_answer(vk, call, client, clock):
    codes = [await error_code(call, user_ids="7") for _ in range(20)]
    async with client.post(
        vk.api_url + "messages.send",
        params={"access_token": "t0ken"},
        data={"peer_id": "7", "random_id": "1", "message": "Ответ"},
    ) as response:
        assert response.status == 200
        error = (await response.json())["error"]
    assert codes == [None] * 20
    assert (error["error_code"], error["error_msg"]) == (6, "Too many requests per second")
    assert vk.sent_to(7) == []
    clock.now += 1.0
    assert await error_code(call, user_ids="7") is None


async def test_long_polls_are_not_api_calls(vk, call, client):
    server = (await call("groups.getLongPollServer", group_id=1000))["response"]
    params = {"act": "a_check", "key": server["key"], "ts": server["ts"], "wait": 0}
    for _ in range(25):
        async with client.post(server["server"], params=params) as response:
            assert (await response.json())["updates"] == []
    codes = [await error_code(call, user_ids="7") for _ in range(20)]
    assert codes == [None] * 19 + [6]  # getLongPollServer was the first of the twenty


@constructed(rate_limit=RateLimit(calls=2, window=1.0))
async def test_refused_calls_do_not_count(vk, call, clock):
    assert [await error_code(call) for _ in range(2)] == [None, None]
    clock.now += 0.5
    assert [await error_code(call) for _ in range(3)] == [6, 6, 6]
    clock.now += 0.5
    assert [await error_code(call) for _ in range(3)] == [None, None, 6]


@constructed(rate_limit=None)
async def test_rate_limit_can_be_lifted(vk, call):
    assert [await error_code(call) for _ in range(30)] == [None] * 30


@constructed(rate_limit=RateLimit(calls=2, window=0.2), clock=time.monotonic)
async def test_rate_limit_window_passes_in_real_time(vk, call):
    assert [await error_code(call) for _ in range(3)] == [None, None, 6]
    await asyncio.sleep(0.2)
    assert await error_code(call) is None


@pytest.mark.parametrize(
    "vk", [{}, {"random_id_window": 10.0}], indirect=True, ids=["VK's hour", "10 s"]
)
async def test_random_id_is_remembered_per_peer_for_the_window_only(vk, call, clock):
    window = vk.random_id_window
    first = await send(call, 7, 5)
    clock.now += window - 1
    assert await send(call, 7, 5) == first
    other_peer = await send(call, 8, 5)
    clock.now += 1
    second = await send(call, 7, 5)
    clock.now += 1
    assert await send(call, 7, 5) == second
    assert len({first, other_peer, second}) == 3
    assert [m.id for m in vk.sent_to(7)] == [first, second]


async def test_outage_answers_methods_and_long_poll_and_keeps_events(vk, call, client):
    server = (await call("groups.getLongPollServer", group_id=1000))["response"]
    params = {"act": "a_check", "key": server["key"], "ts": server["ts"], "wait": 25}
    held = asyncio.create_task(client.post(server["server"], params=params))
    await vk.wait_until(lambda: vk.calls("longpoll"))
    vk.outage(502)
    async with await held as response:
        assert response.status == 502
    event = vk.send_text(7, "Есть кто?")
    async with client.post(vk.api_url + "users.get", params={"access_token": "t0ken"}) as r:
        assert r.status == 502
    async with client.post(server["server"], params={**params, "wait": 0}) as r:
        assert r.status == 502
    vk.restore()
    async with client.post(server["server"], params={**params, "wait": 0}) as r:
        assert (await r.json())["updates"] == [event]
    assert await error_code(call, user_ids="7") is None


async def test_injected_faults_wait_out_an_outage(vk, call, client):
    vk.fail_next("users.get")
    vk.drop_next("longpoll")
    vk.outage(503)
    async with client.post(vk.api_url + "users.get", params={"access_token": "t0ken"}) as r:
        assert r.status == 503
    async with client.post(vk.longpoll_url, params={"act": "a_check"}) as r:
        assert r.status == 503
    vk.restore()
    assert await error_code(call) == 6
    with pytest.raises(aiohttp.ServerDisconnectedError):
        async with client.post(vk.longpoll_url, params={"act": "a_check"}):
            pass


async def test_outage_through_the_control_endpoints(vk, call, client):
    async with client.post(vk.base_url + "/_fake/outage", json={"status": 503}) as r:
        assert r.status == 200
    async with client.post(vk.api_url + "users.get", params={"access_token": "t0ken"}) as r:
        assert r.status == 503
    async with client.post(vk.base_url + "/_fake/outage", json={"status": 200}) as r:
        assert r.status == 400
    async with client.post(vk.base_url + "/_fake/restore") as r:
        assert r.status == 200
    assert await error_code(call) is None
    async with client.post(vk.base_url + "/_fake/outage") as r:
        assert r.status == 200 and vk.outage_status == 502
    async with client.delete(vk.base_url + "/_fake/outage") as r:
        assert r.status == 200 and vk.outage_status is None
