import asyncio
import json

from aiohttp import web


async def long_poll_server(call) -> dict:
    return (await call("groups.getLongPollServer", group_id=1000))["response"]


async def a_check(client, server: dict, *, wait: int = 0, key: str | None = None) -> dict:
    params = {"act": "a_check", "key": key or server["key"], "ts": server["ts"], "wait": wait}
    async with client.post(server["server"], params=params) as response:
        return await response.json()


async def test_long_poll_returns_events_after_ts(vk, call, client):
    server = await long_poll_server(call)
    event = vk.send_text(7, "Добрый день")

    answer = await a_check(client, server)
    later = await a_check(client, {**server, "ts": answer["ts"]})

    assert answer["updates"] == [event]
    assert event["object"]["message"]["text"] == "Добрый день"
    assert later == {"ts": answer["ts"], "updates": []}


async def test_long_poll_holds_the_request_until_an_event_arrives(vk, call, client):
    server = await long_poll_server(call)
    waiting = asyncio.create_task(a_check(client, server, wait=25))
    await vk.wait_until(lambda: vk.calls("longpoll"))

    event = vk.press_button(7, "Помогло", {"c": "fh:1"})

    assert (await waiting)["updates"] == [event]
    assert json.loads(event["object"]["message"]["payload"]) == {"c": "fh:1"}


async def test_long_poll_failures(vk, call, client):
    server = await long_poll_server(call)
    vk.send_text(7, "раз")
    answers = []
    for code in (1, 2, 3):
        vk.fail_longpoll(code)
        answers.append(await a_check(client, server))

    assert answers[0] == {"failed": 1, "ts": str(vk.next_ts)}
    assert answers[1:] == [{"failed": 2}, {"failed": 3}]


async def test_expired_key_keeps_answering_failed_2_until_a_new_server_is_asked(vk, call, client):
    server = await long_poll_server(call)
    vk.fail_longpoll(2)
    await a_check(client, server)

    assert await a_check(client, server) == {"failed": 2}
    fresh = await long_poll_server(call)
    assert (await a_check(client, fresh))["updates"] == []


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


async def test_control_endpoints_drive_the_fake(vk, call, client):
    async with client.post(vk.base_url + "/_fake/message", json={"peer_id": 7, "text": "Эй"}) as r:
        event = await r.json()
    async with client.post(vk.base_url + "/_fake/fault", json={"method": "users.get"}) as r:
        assert r.status == 200
    async with client.post(vk.base_url + "/_fake/block", json={"peer_id": 8}) as r:
        assert r.status == 200
    async with client.post(vk.base_url + "/_fake/message", json={"text": "no peer"}) as r:
        assert r.status == 400
    await call("messages.send", peer_id=7, random_id=1, message="Ответ")
    async with client.get(vk.base_url + "/_fake/sent", params={"peer_id": "7"}) as r:
        sent = await r.json()

    assert vk.history == [event]
    assert (await call("users.get", user_ids="7"))["error"]["error_code"] == 6
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
