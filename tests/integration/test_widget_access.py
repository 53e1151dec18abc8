"""Who may use the widget, and how much: only pages of the allowed sites (and the
server's own demo page), only with a token the server signed and still honours, only
after the personal-data notice; messages and new visitors within their limits, refused
with a clear Russian message past them. Over real HTTP and real WebSockets."""

from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import delete, func, select
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from bots.web.tokens import VisitorTokens
from core.models import InboxUpdate, WebVisitor
from tests.widget_harness import SITE, widget_server

OTHER_SITE = "https://evil.example.com"


async def refused_handshake(server, **headers) -> int:
    with pytest.raises(InvalidStatus) as refused:
        async with connect(server.ws_url, **headers):
            pass
    return refused.value.response.status_code


async def closed_after_hello(server, token: str) -> tuple[dict, int]:
    async with connect(server.ws_url, origin=SITE) as socket:
        await socket.send(json.dumps({"type": "hello", "token": token}))
        frame = json.loads(await socket.recv())
        with pytest.raises(ConnectionClosed) as closed:
            await socket.recv()
    assert closed.value.rcvd is not None
    return frame, closed.value.rcvd.code


async def test_only_allowed_sites_and_good_tokens_are_served(demo_settings, embedder):
    async with widget_server(demo_settings, embedder) as server:
        # Another site's page, and no page at all: the handshake is refused.
        assert await refused_handshake(server, origin=OTHER_SITE) == 403
        assert await refused_handshake(server) == 403
        # The server's own page (the demo) is allowed.
        async with connect(server.ws_url, origin=server.url) as socket:
            await socket.send(json.dumps({"type": "hello", "token": None}))
            assert json.loads(await socket.recv())["type"] == "ready"

        async with server.http(OTHER_SITE) as other:
            config = await other.get("/widget/api/config")
            assert config.status_code == 403
            assert config.json()["message"].startswith("Чат не подключён на этом сайте")
            session = await other.post("/widget/api/session", json={"token": None})
            assert session.status_code == 403
            preflight = await other.options("/widget/api/messages")
            assert preflight.status_code == 403
            assert "access-control-allow-origin" not in preflight.headers
        async with server.http() as site:
            preflight = await site.options(
                "/widget/api/messages",
                headers={"Access-Control-Request-Method": "POST",
                         "Access-Control-Request-Headers": "authorization,content-type"},
            )  # fmt: skip
            assert preflight.status_code == 204
            assert preflight.headers["access-control-allow-origin"] == SITE
            assert "Authorization" in preflight.headers["access-control-allow-headers"]
            config = await site.get("/widget/api/config")
            assert config.status_code == 200 and config.json()["color"] == "#1f5fa8"

        async with server.visitor() as anna:
            good = anna.token
        visitor = server.widget.tokens.visitor(good)
        assert visitor is not None
        # A token altered by one character, one signed with another key, one issued
        # 31 days ago: each is refused with close code 4401 and a message to show.
        tampered = good[:-2] + ("A" if good[-2] != "A" else "B") + good[-1]
        foreign = VisitorTokens(b"another installation's key", 30 * 86400).issue(visitor)
        old = VisitorTokens(
            _key(server), 30 * 86400, clock=lambda: time.time() - 31 * 86400
        ).issue(visitor)
        for token in (tampered, foreign, old, "w1.garbage.garbage", "x" * 500):
            frame, code = await closed_after_hello(server, token)
            assert code == 4401
            assert frame["code"] == "bad_token" and "Начат новый разговор" in frame["message"]
        # The same in long polling, where the token rides in the Authorization header.
        async with server.http() as site:
            events = await site.get(
                "/widget/api/events", headers={"Authorization": f"Bearer {tampered}"}
            )
            assert events.status_code == 401 and events.json()["code"] == "bad_token"
        # A visitor whose record is gone (their data erased): their token is void.
        async with server.services.sessions.begin() as session:
            await session.execute(delete(WebVisitor).where(WebVisitor.id == visitor))
        _, code = await closed_after_hello(server, good)
        assert code == 4401


def _key(server) -> bytes:
    from bots.web.tokens import signing_key

    key = signing_key(server.widget.settings)
    assert key is not None
    return key


async def test_the_first_message_needs_the_notice_accepted(demo_settings, embedder):
    async with widget_server(demo_settings, embedder) as server:
        async with server.visitor() as boris:
            asked = await boris.say("Где получить справку?", consent=False)
            error = await boris.next("error")
            assert error["code"] == "consent_required" and error["client_id"] == asked
            assert "персональных данных" in error["message"]
        async with server.services.sessions() as session:
            updates = await session.scalar(select(func.count()).select_from(InboxUpdate))
            [row] = (await session.scalars(select(WebVisitor))).all()
        assert updates == 0 and row.notice_accepted_at is None


async def test_limits_refuse_with_a_clear_message(demo_settings, embedder):
    async with widget_server(demo_settings, embedder, widget_ip_rate=30) as server:
        # 20 messages a minute from one visitor; the 21st is refused.
        async with server.visitor() as vera:
            for n in range(20):
                sent = await vera.say(f"Спасибо {n}")
                await vera.next("ack", lambda f, sent=sent: f["client_id"] == sent)
            over = await vera.say("И ещё одно")
            error = await vera.next("error", lambda f: f.get("client_id") == over)
            assert error["code"] == "rate_limited"
            assert error["message"].startswith("Слишком много сообщений подряд")
            assert 0 < error["retry_after"] <= 60
        # The address's own limit (30 here) holds across visitors: 10 more, then no.
        async with server.visitor() as gleb:
            for n in range(10):
                sent = await gleb.say(f"Вопрос {n}")
                await gleb.next("ack", lambda f, sent=sent: f["client_id"] == sent)
            over = await gleb.say("Ещё вопрос")
            error = await gleb.next("error", lambda f: f.get("client_id") == over)
            assert error["message"].startswith("С вашего адреса приходит слишком много")
        # New visitors: 10 a minute from one address (two were made above).
        async with server.http() as site:
            made = [await site.post("/widget/api/session", json={"token": None})
                    for _ in range(8)]  # fmt: skip
            assert [r.status_code for r in made] == [200] * 8
            refused = await site.post("/widget/api/session", json={"token": None})
            assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0
            assert refused.json()["message"].startswith("С вашего адреса слишком часто")
        async with connect(server.ws_url, origin=SITE) as socket:
            await socket.send(json.dumps({"type": "hello", "token": None}))
            frame = json.loads(await socket.recv())
            with pytest.raises(ConnectionClosed) as closed:
                await socket.recv()
        assert frame["code"] == "rate_limited" and closed.value.rcvd.code == 4429
        # A returning visitor (with a token) is not a new one: still served.
        async with server.visitor(vera.token) as again:
            assert server.widget.tokens.visitor(again.token) == server.widget.tokens.visitor(
                vera.token
            )


async def test_behind_a_proxy_the_limits_count_each_visitors_address(demo_settings, embedder):
    # The proxy (here the test itself, on 127.0.0.1, the trusted default) names the client.
    async with widget_server(demo_settings, embedder) as server, server.http() as site:

        async def new_visitor(address: str) -> int:
            made = await site.post(
                "/widget/api/session", json={"token": None},
                headers={"X-Forwarded-For": address},
            )  # fmt: skip
            return made.status_code

        assert [await new_visitor("203.0.113.7") for _ in range(10)] == [200] * 10
        assert await new_visitor("203.0.113.7") == 429
        assert await new_visitor("198.51.100.20") == 200  # another visitor's address
