"""Operators and a MAX citizen end to end: the bot process as `djinn run` composes it
(real database, real Redis, the real aiogram and maxapi clients) against the fake Bot
API and the fake MAX API. A MAX citizen asks for an operator with the button under an
answer; the topic says the citizen writes from MAX; an operator takes the case and
answers with text and a photo, which reach the citizen in MAX (the photo downloaded from
Telegram and uploaded to MAX); the citizen's photo reaches the topic as a photo."""

from __future__ import annotations

import hashlib

from nlu import texts
from tests.e2e.test_operators import GROUP, QUESTION, Desk, button, running_desk
from tools.fake_max import FakeMax
from tools.fake_max.world import ChatMessage
from tools.fake_telegram.files import add_photo, file_bytes

CITIZEN = 8001


def max_of(desk: Desk) -> FakeMax:
    assert desk.max is not None
    return desk.max


async def wait_max(fake: FakeMax, predicate) -> ChatMessage:
    def first() -> ChatMessage | None:
        return next((m for m in fake.sent(CITIZEN) if predicate(m)), None)

    await fake.wait_until(lambda: first() is not None, 20, "the message in MAX")
    found = first()
    assert found is not None
    return found


async def test_an_operator_in_the_telegram_group_answers_a_max_citizen(
    demo_settings, embedder, tmp_path
):
    async with running_desk(demo_settings, embedder, tmp_path, with_max=True) as desk:
        tg, fake = desk.tg, max_of(desk)
        citizen = fake.citizen(CITIZEN, "Мария", "Петрова")
        citizen.send_text(QUESTION)
        [answer] = await fake.wait_for_messages(CITIZEN, 1, timeout=20)
        citizen.press(answer, text=texts.BUTTON_OPERATOR)
        await wait_max(fake, lambda m: (m.text or "").startswith(texts.OPERATOR_REQUESTED[:30]))
        await desk.wait_topic_text("Обращение №")

        card = desk.card()
        assert "Гражданин: Мария Петрова" in card["text"]
        assert " · MAX" in tg.topics(GROUP)[0].name

        olga = tg.operator(9001, "Ольга", GROUP)
        olga.press_button(card, button(card, "ot:"))
        await wait_max(fake, lambda m: m.text == texts.OPERATOR_JOINED)
        thread = desk.thread()
        olga.write(thread, "Здравствуйте! Пришлю образец квитанции.")
        await wait_max(fake, lambda m: m.text == "Здравствуйте! Пришлю образец квитанции.")

        # The operator's photo: from the Bot API to MAX's upload, sent with its caption.
        sizes = add_photo(tg.state, width=800, height=600)
        olga.write_media(thread, photo=sizes, caption="Образец заполнения")
        sent = await wait_max(fake, lambda m: m.text == "Образец заполнения")
        [image] = [a for a in sent.attachments if a.get("type") == "image"]
        [upload] = fake.uploads
        original = file_bytes(tg.state, sizes[-1]["file_id"])
        assert original is not None
        assert upload.data is not None
        assert hashlib.sha256(upload.data).hexdigest() == hashlib.sha256(original).hexdigest()
        assert image["payload"]

        # The citizen's photo: the topic gets the line and the photo itself.
        citizen.send_photo("Вот моя квитанция")
        await desk.wait_topic_text("Гражданин: [фото] Вот моя квитанция")
        bot_id = tg.state.bot_user["id"]

        def posted_photos() -> list[dict]:
            return [
                m
                for m in tg.topic_messages(GROUP, thread)
                if m.get("photo") and m["from"]["id"] == bot_id
            ]

        await tg.wait_until(lambda: bool(posted_photos()), 20, "the citizen's photo in the topic")
        [request] = tg.requests("sendPhoto")
        assert request.params["photo"].startswith(fake.url)
