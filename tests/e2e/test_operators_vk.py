"""Operators and a VK citizen end to end: the bot process as `djinn run` composes it
(real database, real Redis, the real aiogram and vkbottle clients) against the fake Bot
API and the fake VK API. A VK citizen asks for an operator, a topic appears in the
operator group, an operator takes it and answers with text, a photo, a voice message and
a location, and all reach the citizen in VK as what they are; the citizen's photo,
documents, voice messages, stickers, locations and edits reach the topic.

The photos make the whole trip: the operator's from the fake Bot API (``getFile`` and
the download) through VK's upload flow into ``messages.send``; the citizen's from the
URL VK gives (served by the fake VK) through ``sendPhoto``, which fetches it."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from urllib.parse import urlsplit

from nlu import texts
from tests.e2e.test_operators import GROUP, QUESTION, Desk, button, running_desk
from tools.fake_telegram.files import add_photo, file_bytes
from tools.fake_vk import FakeVk, SentMessage

PEER = 7001
WIRING = (
    "the VK transport sent the operator's photo as a note, not as a photo: the VK "
    "channel has no way to download operators' files from Telegram (bots/vk/runner.py "
    "must give VkTransport the download of TelegramFiles.from_settings)"
)


def vk_of(desk: Desk) -> FakeVk:
    assert desk.vk is not None
    return desk.vk


async def wait_vk(vk: FakeVk, peer_id: int, found: Callable[[SentMessage], bool]) -> SentMessage:
    def first() -> SentMessage | None:
        return next((m for m in vk.sent_to(peer_id) if found(m)), None)

    await vk.wait_until(lambda: first() is not None, guard=20)
    message = first()
    assert message is not None
    return message


async def vk_citizen_asks_for_operator(desk: Desk, peer_id: int) -> None:
    vk = vk_of(desk)
    # Like VK, the fake delivers only what arrives after the bot started polling.
    await vk.wait_until(lambda: vk.calls("longpoll"), guard=20)
    vk.send_text(peer_id, QUESTION)
    [answer] = await vk.wait_sent(peer_id, 1, guard=20)
    assert answer.keyboard is not None
    [operator] = [
        b["action"]
        for row in answer.keyboard["buttons"]
        for b in row
        if b["action"]["label"] == texts.BUTTON_OPERATOR
    ]
    vk.press_button(peer_id, operator["label"], operator["payload"])
    await wait_vk(vk, peer_id, lambda m: m.text.startswith(texts.OPERATOR_REQUESTED[:30]))
    await desk.wait_topic_text("Обращение №")


async def test_photos_pass_both_ways_between_an_operator_and_a_vk_citizen(
    demo_settings, embedder, tmp_path
):
    async with running_desk(demo_settings, embedder, tmp_path, with_vk=True) as desk:
        tg, vk = desk.tg, vk_of(desk)
        vk.users[PEER] = ("Мария", "Иванова")
        await vk_citizen_asks_for_operator(desk, PEER)
        card = desk.card()
        assert "Гражданин: Мария Иванова" in card["text"]
        assert " · VK" in tg.topics(GROUP)[0].name

        olga = tg.operator(9001, "Ольга", GROUP)
        olga.press_button(card, button(card, "ot:"))
        await wait_vk(vk, PEER, lambda m: m.text == texts.OPERATOR_JOINED)
        thread = desk.thread()
        olga.write(thread, "Здравствуйте! Сейчас пришлю образец квитанции.")
        await wait_vk(vk, PEER, lambda m: "пришлю образец" in m.text)

        # The operator's photo: downloaded from Telegram, uploaded to VK, sent with its
        # caption.
        sizes = add_photo(tg.state, width=800, height=600)
        olga.write_media(thread, photo=sizes, caption="Образец заполнения")
        sent = await wait_vk(vk, PEER, lambda m: m.text.startswith("Образец заполнения"))
        assert sent.attachments, WIRING
        [photo] = sent.attachments
        original = file_bytes(tg.state, sizes[-1]["file_id"])
        assert original is not None
        assert photo["type"] == "photo" and photo["ref"].startswith(f"photo-{vk.group_id}_")
        assert photo["sha256"] == hashlib.sha256(original).hexdigest()
        assert sent.text == "Образец заполнения"

        # The operator's voice message: VK's own voice message, the same bytes; a
        # location: a point on VK's map.
        voice = {**olga.new_file(), "duration": 3, "mime_type": "audio/ogg"}
        olga.write_media(thread, voice=voice)
        sent_voice = await wait_vk(vk, PEER, lambda m: bool(m.attachments) and m.text == "")
        [voice_file] = sent_voice.attachments
        assert voice_file["type"] == "audio_message"
        voice_bytes = file_bytes(tg.state, voice["file_id"])
        assert voice_bytes is not None
        assert voice_file["sha256"] == hashlib.sha256(voice_bytes).hexdigest()
        olga.write_media(thread, location={"latitude": 55.7558, "longitude": 37.6173})
        place = await wait_vk(vk, PEER, lambda m: m.text.startswith("📍"))
        assert place.attachments == ({"type": "geo", "latitude": 55.7558, "longitude": 37.6173},)

        # The citizen's photo: the topic gets the line and the photo itself.
        event = vk.send_photo(PEER, "Вот моя квитанция", width=1024, height=768)
        [item] = event["object"]["message"]["attachments"]
        citizen_photo = vk.photo(f"photo{PEER}_{item['photo']['id']}")
        assert citizen_photo is not None
        await desk.wait_topic_text("Гражданин: [фото] Вот моя квитанция")
        bot_id = tg.state.bot_user["id"]

        def posted_photos() -> list[dict]:
            return [
                m
                for m in tg.topic_messages(GROUP, thread)
                if m.get("photo") and m["from"]["id"] == bot_id
            ]

        await tg.wait_until(lambda: bool(posted_photos()), 20, "the citizen's photo in the topic")
        [posted] = posted_photos()
        assert file_bytes(tg.state, posted["photo"][-1]["file_id"]) == citizen_photo.data
        [request] = tg.requests("sendPhoto")
        assert request.params["photo"] == item["photo"]["sizes"][-1]["url"]
        assert request.params["photo"].startswith(vk.base_url)


async def test_a_vk_citizens_files_location_and_edits_reach_the_topic(
    demo_settings, embedder, tmp_path
):
    async with running_desk(demo_settings, embedder, tmp_path, with_vk=True) as desk:
        tg, vk = desk.tg, vk_of(desk)
        await vk_citizen_asks_for_operator(desk, PEER)
        thread = desk.thread()
        bot_id = tg.state.bot_user["id"]

        def posted(field: str) -> list[dict]:
            return [
                m
                for m in tg.topic_messages(GROUP, thread)
                if m.get(field) and m["from"]["id"] == bot_id
            ]

        async def wait_posted(field: str, count: int = 1) -> dict:
            await tg.wait_until(lambda: len(posted(field)) >= count, 20, f"a {field} posted")
            return posted(field)[count - 1]

        # An edit: a reply to the message as the operators first saw it, which stays.
        event = vk.send_text(PEER, "Адрес: ул. Мира, 5")
        await desk.wait_topic_text("Гражданин: Адрес: ул. Мира, 5")
        vk.edit_text(event, "Адрес: ул. Мира, 7")
        await desk.wait_topic_text("✏️ Гражданин исправил сообщение: Адрес: ул. Мира, 7")
        [original] = [
            m
            for m in tg.topic_messages(GROUP, thread)
            if m.get("text") == "Гражданин: Адрес: ул. Мира, 5"
        ]
        [edit] = [
            m for m in tg.topic_messages(GROUP, thread) if "исправил" in (m.get("text") or "")
        ]
        assert edit["reply_to_message"]["message_id"] == original["message_id"]

        # A document and a voice message: fetched from VK and uploaded, bytes intact.
        def served(url: str) -> bytes:
            return vk.media.files[urlsplit(url).path.lstrip("/")].body()

        event = vk.send_attachment(PEER, "doc", "Заявление во вложении")
        doc_url = event["object"]["message"]["attachments"][0]["doc"]["url"]
        document = await wait_posted("document")
        assert document["caption"] == "Гражданин: [документ] Заявление во вложении"
        assert document["document"]["file_name"] == "заявление.pdf"
        assert file_bytes(tg.state, document["document"]["file_id"]) == served(doc_url)

        event = vk.send_attachment(PEER, "audio_message")
        ogg_url = event["object"]["message"]["attachments"][0]["audio_message"]["link_ogg"]
        voice = await wait_posted("voice")
        assert voice["caption"] == "Гражданин: [голосовое сообщение]"
        assert file_bytes(tg.state, voice["voice"]["file_id"]) == served(ogg_url)

        # A sticker as its largest image; a location as a location; a video by its link.
        event = vk.send_attachment(PEER, "sticker")
        sticker = await wait_posted("photo")
        assert sticker["caption"] == "Гражданин: [стикер]"
        images = event["object"]["message"]["attachments"][0]["sticker"]["images"]
        assert tg.requests("sendPhoto")[-1].params["photo"] == images[-1]["url"]

        vk.send_location(PEER, 55.7558, 37.6173)
        location = await wait_posted("location")
        assert location["location"]["latitude"] == 55.7558
        assert location["location"]["longitude"] == 37.6173
        await desk.wait_topic_text("Гражданин: [геопозиция]")

        event = vk.send_attachment(PEER, "video", "Видео с места")
        video = event["object"]["message"]["attachments"][0]["video"]
        await desk.wait_topic_text(
            f"Гражданин: [видео] Видео с места\nвидео: https://vk.com/video{PEER}_{video['id']}"
        )


async def test_a_vk_citizens_file_that_cannot_be_fetched_is_shown_by_its_link(
    demo_settings, embedder, tmp_path
):
    async with running_desk(demo_settings, embedder, tmp_path, with_vk=True) as desk:
        vk = vk_of(desk)
        await vk_citizen_asks_for_operator(desk, PEER)
        event = vk.send_attachment(PEER, "doc", "Скан паспорта")
        [attachment] = event["object"]["message"]["attachments"]
        vk.media.files.clear()  # the link expired before the desk fetched it
        await desk.wait_topic_text(
            "Гражданин: [документ] Скан паспорта\n"
            f"(документ не удалось переслать: {attachment['doc']['url']})"
        )
        vk.send_text(PEER, "Вы получили?")
        await desk.wait_topic_text("Гражданин: Вы получили?")  # the queue went on
