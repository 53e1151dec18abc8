"""Long polling, for where WebSockets do not get through: a session over HTTP, messages
posted with the token in the Authorization header, and a held request that returns
with the answer; the same conversation as on a socket."""

from __future__ import annotations

import asyncio
import uuid

from tests.conftest import faq_answer
from tests.widget_harness import SITE, widget_server

QUESTION = "Как оплатить коммунальные услуги?"


async def test_long_polling_carries_the_conversation(demo_settings, embedder):
    async with widget_server(demo_settings, embedder) as server, server.http() as site:
        answer = await faq_answer(server.services, "zhkh-pay-utilities")
        ready = await site.post("/widget/api/session", json={"token": None})
        assert ready.status_code == 200
        assert ready.headers["access-control-allow-origin"] == SITE
        token = ready.json()["token"]
        auth = {"Authorization": f"Bearer {token}"}

        # A poll is held until something comes.
        waiting = asyncio.create_task(site.get("/widget/api/events?after=0", headers=auth))
        client_id = uuid.uuid4().hex
        posted = await site.post(
            "/widget/api/messages",
            json={"type": "message", "id": client_id, "text": QUESTION, "consent": True},
            headers=auth,
        )
        assert posted.json() == {"type": "ack", "client_id": client_id}
        seen: list[dict] = []
        after = 0
        polled = await waiting
        while not any(m["from"] == "bot" for m in seen):
            assert polled.status_code == 200
            fresh = [m for m in polled.json()["messages"] if m["id"] > after]
            seen += fresh
            after = max([after, *(m["id"] for m in fresh)])
            if not any(m["from"] == "bot" for m in seen):
                polled = await site.get(f"/widget/api/events?after={after}", headers=auth)
        assert [(m["from"], m["text"]) for m in seen] == [("visitor", QUESTION), ("bot", answer)]
        assert seen[0]["client_id"] == client_id

        # Sent again (a retry after a lost answer): stored once.
        again = await site.post(
            "/widget/api/messages",
            json={"type": "message", "id": client_id, "text": QUESTION},
            headers=auth,
        )
        assert again.status_code == 200
        # The socket sees the same conversation.
        async with server.visitor(token) as tab:
            assert [m["id"] for m in tab.ready["messages"]] == [m["id"] for m in seen]

        malformed = await site.post("/widget/api/messages", content=b"{", headers=auth)
        assert malformed.status_code == 400 and malformed.json()["code"] == "bad_json"
        unknown = await site.post(
            "/widget/api/messages", json={"type": "hello", "token": token}, headers=auth
        )
        assert unknown.status_code == 400 and unknown.json()["code"] == "bad_frame"
