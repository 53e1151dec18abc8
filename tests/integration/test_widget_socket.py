"""The widget's socket end to end: uvicorn on 127.0.0.1 serving the web admin's app, the
real conversation service over the demo knowledge base, and a visitor on a real
WebSocket client. A question gets the FAQ's answer with its buttons, a second tab
continues the same conversation, consent to the personal-data notice is recorded with
the first message, and a thousand malformed frames break nothing."""

from __future__ import annotations

import gc
import json
import random

from sqlalchemy import func, select

from bots.web.channel import GC_THRESHOLDS
from core.domain import Channel, Direction
from core.models import Identity, InboxUpdate, Message, WebVisitor
from nlu import texts
from tests.conftest import faq_answer
from tests.garbage import ODD_TEXTS, random_value
from tests.widget_harness import PRIVACY, widget_server

QUESTION = "Как оплатить коммунальные услуги?"
PAY_KEY = "zhkh-pay-utilities"


def labels(frame: dict) -> list[str]:
    return [button["text"] for row in frame["buttons"] for button in row]


async def web_messages(services) -> list[Message]:
    async with services.sessions() as session:
        return list(
            await session.scalars(
                select(Message).where(Message.channel == Channel.WEB).order_by(Message.id)
            )
        )


async def test_a_question_gets_the_faq_answer_and_a_second_tab_continues(demo_settings, embedder):
    async with widget_server(demo_settings, embedder) as server:
        answer = await faq_answer(server.services, PAY_KEY)
        async with server.visitor() as anna:
            assert anna.ready["consent"] is False and anna.ready["messages"] == []
            asked = await anna.say(QUESTION)
            await anna.next("ack", lambda f: f["client_id"] == asked)
            reply = await anna.reply()
            assert reply["text"] == answer and reply["from"] == "bot"
            assert labels(reply) == [
                texts.BUTTON_HELPED,
                texts.BUTTON_NOT_HELPED,
                texts.BUTTON_OPERATOR,
            ]

            # A second tab with the same token: the same conversation, live in both.
            async with server.visitor(anna.token) as tab:
                history = tab.ready["messages"]
                assert [(m["from"], m["text"]) for m in history] == [
                    ("visitor", QUESTION),
                    ("bot", answer),
                ]
                assert history[0]["client_id"] == asked and tab.ready["consent"] is True
                [not_helped] = [
                    b for row in reply["buttons"] for b in row
                    if b["text"] == texts.BUTTON_NOT_HELPED
                ]  # fmt: skip
                await tab.press(not_helped)
                echoed = await anna.next("message", lambda f: f["from"] == "visitor")
                assert echoed["text"] == texts.BUTTON_NOT_HELPED
                after_tab = await tab.reply()
                after_anna = await anna.reply()
                assert after_tab == after_anna
                assert after_tab["text"].startswith(texts.NOT_HELPED[:20])

        async with server.services.sessions() as session:
            visitor = await session.get(WebVisitor, _visitor_of(server, anna.token))
            assert visitor is not None and visitor.notice_accepted_at is not None
            assert visitor.notice_url == PRIVACY
            identity = await session.scalar(select(Identity).where(Identity.channel == "web"))
            assert identity is not None and identity.external_id == visitor.id
        stored = await web_messages(server.services)
        assert [m.direction for m in stored] == [Direction.IN, Direction.OUT] * 2
        assert all(m.delivery_status == "sent" for m in stored if m.direction == Direction.OUT)


def _visitor_of(server, token: str) -> str:
    visitor = server.widget.tokens.visitor(token)
    assert visitor is not None
    return visitor


def garbage(rng: random.Random) -> str | bytes:
    """A frame the protocol does not allow, of every kind a broken or hostile client
    sends."""
    choice = rng.randrange(12)
    if choice == 0:
        return rng.randbytes(rng.randint(0, 300))  # a binary frame
    if choice == 1:
        return "".join(chr(rng.randint(1, 0xD7FF)) for _ in range(rng.randint(0, 200)))
    if choice == 2:
        return "[" * 5000 + "]" * 5000  # nested past the parser's recursion limit
    if choice == 3:
        return json.dumps(random_value(rng))
    if choice == 4:
        return json.dumps({"type": rng.choice(["message", "button", "photo"]),
                           "id": random_value(rng), "text": random_value(rng)})  # fmt: skip
    if choice == 5:  # a good id, a bad body
        return json.dumps({"type": "message", "id": "abcdefgh", "text": rng.choice([
            None, 5, [], {}, "x" * 4001, " \n\t ", "\x00\x01",
        ])})  # fmt: skip
    if choice == 6:
        return json.dumps({"type": "button", "id": "abcdefgh", "payload": rng.choice(
            [None, "", "p" * 256, 7]), "text": "x"})  # fmt: skip
    if choice == 7:
        return json.dumps(
            {
                "type": "photo",
                "id": "abcdefgh",
                "file": rng.choice(["../../etc/passwd", "x.jpg", None]),
            }
        )
    if choice == 8:
        return "x" * 20_000  # longer than a frame may be
    if choice == 9:  # as text, or as a JSON string where it holds a lone surrogate
        odd = rng.choice(ODD_TEXTS)
        return odd if odd.encode("utf-8", "replace").decode() == odd else json.dumps(odd)
    if choice == 10:
        return '{"type": "message", "id": "abcdefgh", "text": "\\ud800"'  # cut short
    return json.dumps({"type": random_value(rng), "token": random_value(rng)})


async def test_a_thousand_malformed_frames_break_nothing(demo_settings, embedder):
    rng = random.Random(20260311)
    async with widget_server(demo_settings, embedder) as server:
        answer = await faq_answer(server.services, PAY_KEY)
        async with server.visitor() as boris:
            sent = [garbage(rng) for _ in range(1000)]
            for frame in sent:
                await boris.socket.send(frame)
            errors = [await boris.next("error") for _ in sent]
            assert len(errors) == 1000
            assert all(e["message"] and e["code"] for e in errors)
            # The socket still works: a question gets its answer.
            await boris.say(QUESTION)
            assert (await boris.reply())["text"] == answer
        # And the server takes new visitors.
        async with server.visitor() as vera:
            await vera.say(QUESTION)
            assert (await vera.reply())["text"] == answer
        stored = await web_messages(server.services)
        assert [m.text for m in stored if m.direction == Direction.IN] == [QUESTION, QUESTION]
        async with server.services.sessions() as session:
            updates = await session.scalar(
                select(func.count()).select_from(InboxUpdate).where(InboxUpdate.channel == "web")
            )
        assert updates == 2  # nothing of the garbage was taken for a message


async def test_the_collector_is_tuned_while_the_widget_serves_and_restored_after(
    demo_settings, embedder
):
    before = gc.get_threshold()
    async with widget_server(demo_settings, embedder) as server:
        assert gc.get_threshold() == GC_THRESHOLDS
        # What the process held when the widget started is out of the collector's sight.
        assert gc.get_freeze_count() > 0
        async with server.visitor() as anna:
            await anna.say("Здравствуйте")
            assert (await anna.reply())["text"] == texts.GREETING
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
