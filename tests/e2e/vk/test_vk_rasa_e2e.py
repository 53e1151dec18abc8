"""VK end to end with the real dialogue: vkbottle long-polls the fake VK API, the
services are built by ``bots.app.open_services`` as ``djinn run`` builds them, and the
dialogue goes through the real Rasa server and action server (started once a session by
tests/rasa_fixtures.py). Buttons are VK inline keyboards whose payloads come back with
the press."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from bots.app import Services, open_services
from core.domain import Channel, ConversationStatus
from core.settings import Settings
from nlu.actions import texts
from tests.conftest import faq_answer
from tests.e2e.rasa_chat import APPEAL_NUMBER, appeals_of, conversation_of, next_replies
from tests.e2e.vk.conftest import RunningVkBot, fake_api_values
from tests.rasa_fixtures import RasaStack, new_citizen, wait_healthy
from tools.fake_vk import FakeVk
from tools.fake_vk.world import SentMessage

pytestmark = pytest.mark.slow
FAQ_QUESTION = "Как оплатить коммунальные услуги?"
FAQ_ENTRY = "zhkh-pay-utilities"


@pytest.fixture
async def services(vk: FakeVk, rasa_stack: RasaStack, embedder) -> AsyncIterator[Services]:
    await wait_healthy(rasa_stack.settings)  # a test before may have killed Rasa
    # A turn may take longer than the default 2 s on a busy machine; then the knowledge
    # base would answer instead of the dialogue this test is about.
    values = {**dict(rasa_stack.settings), **fake_api_values(vk), "rasa_timeout": 15.0}
    settings = Settings(_env_file=None, **values)  # type: ignore[call-arg]
    async with open_services(settings, with_redis=False, embedder=embedder) as services:
        await services.faq.refresh()
        assert not services.dialogue.degraded  # type: ignore[attr-defined]
        yield services


@pytest.fixture
async def real_bot(vk: FakeVk, services: Services) -> AsyncIterator[RunningVkBot]:
    async with RunningVkBot(
        vk, services.settings, services.conversation, services.inbox, services.outbox
    ) as bot:
        yield bot


class Citizen:
    """A VK user writing to the community; each action returns the bot's replies."""

    def __init__(self, vk: FakeVk, services: Services) -> None:
        self.vk = vk
        self.services = services
        self.peer_id = int(new_citizen())
        self._seen = 0

    async def say(self, text: str) -> list[SentMessage]:
        self.vk.send_text(self.peer_id, text)
        return await self._replies()

    async def press(self, messages: list[SentMessage], label: str) -> list[SentMessage]:
        """Press the keyboard button ``label`` under one of ``messages``: VK sends its
        label as the text and its payload."""
        [action] = [
            button["action"]
            for message in messages
            for row in (message.keyboard or {}).get("buttons", [])
            for button in row
            if button["action"]["label"] == label
        ]
        self.vk.press_button(self.peer_id, action["label"], action["payload"])
        return await self._replies()

    async def send_photo(self) -> tuple[str, list[SentMessage]]:
        """The photo's VK reference (``photo<owner>_<id>_<access key>``), and the replies."""
        event = self.vk.send_attachment(self.peer_id, "photo")
        [attachment] = event["object"]["message"]["attachments"]
        photo = attachment["photo"]
        ref = f"photo{photo['owner_id']}_{photo['id']}_{photo['access_key']}"
        return ref, await self._replies()

    async def _replies(self) -> list[SentMessage]:
        replies = await next_replies(
            self.services,
            Channel.VK,
            self.peer_id,
            lambda: self.vk.sent_to(self.peer_id),
            self._seen,
        )
        self._seen += len(replies)
        return replies


def labels(message: SentMessage) -> list[str]:
    rows = (message.keyboard or {}).get("buttons", [])
    return [button["action"]["label"] for row in rows for button in row]


def text(messages: list[SentMessage]) -> str:
    return "\n".join(m.text for m in messages)


async def test_appeal_interrupted_resumed_corrected_submitted_and_its_status(
    vk, services, real_bot
):
    citizen = Citizen(vk, services)
    [consent] = await citizen.say("Хочу подать заявку: во дворе большая яма")
    assert "152-ФЗ" in consent.text
    assert labels(consent) == [texts.BUTTON_YES_CONSENT, texts.BUTTON_NO_CONSENT]
    [yes] = [
        b["action"]["payload"]
        for row in consent.keyboard["buttons"]
        for b in row
        if b["action"]["label"] == texts.BUTTON_YES_CONSENT
    ]
    assert set(json.loads(yes)) == {"c"}  # a short reference, not Rasa's payload

    [category] = await citizen.press([consent], texts.BUTTON_YES_CONSENT)
    assert category.text == texts.ASK_CATEGORY
    assert "Дороги и транспорт" in labels(category)
    [address] = await citizen.press([category], "Дороги и транспорт")
    assert address.text == texts.ASK_ADDRESS

    # A question in the middle of the form: answered, then the form asks again.
    *answer, again = await citizen.say(FAQ_QUESTION)
    assert [m.text for m in answer] == [await faq_answer(services, FAQ_ENTRY)]
    assert again.text == texts.ASK_ADDRESS

    [description] = await citizen.say("ул. Ленина, 12")
    assert description.text == texts.ASK_DESCRIPTION
    [photo] = await citizen.say("Глубокая яма у второго подъезда, машины бьют колёса")
    assert photo.text == texts.ASK_PHOTO
    ref, [phone] = await citizen.send_photo()
    assert phone.text == texts.ASK_PHONE
    summary = await citizen.say("8 (912) 345-67-89")
    assert texts.SUMMARY_HEAD in summary[-1].text
    assert "+79123456789" in summary[-1].text and "ул. Ленина, 12" in summary[-1].text

    corrected = await citizen.press(summary, texts.FIELD_BUTTONS["address"])
    assert texts.CORRECTING.format(field=texts.FIELD_NAMES["address"]) in text(corrected)
    assert corrected[-1].text.endswith(texts.ASK_ADDRESS)
    summary = await citizen.say("ул. Ленина, 21")
    assert texts.SUMMARY_HEAD in summary[-1].text and "ул. Ленина, 21" in summary[-1].text
    assert texts.BUTTON_SUBMIT in labels(summary[-1])

    submitted = await citizen.press(summary, texts.BUTTON_SUBMIT)
    [number] = APPEAL_NUMBER.findall(text(submitted))
    assert "https://pos.gosuslugi.ru/" in text(submitted)
    [appeal] = await appeals_of(services, Channel.VK, citizen.peer_id)
    assert appeal.number == number
    assert (appeal.channel, appeal.category) == ("vk", "roads")
    assert (appeal.address, appeal.phone) == ("ул. Ленина, 21", "+79123456789")
    assert appeal.description == "Глубокая яма у второго подъезда, машины бьют колёса"
    assert [p["id"] for p in appeal.photos] == [ref]

    status = await citizen.say("Какой статус у моей заявки?")
    assert texts.STATUS_HEAD in text(status) and number in text(status)
    conversation = await conversation_of(services, Channel.VK, citizen.peer_id)
    assert conversation.status == ConversationStatus.BOT
