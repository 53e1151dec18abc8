"""MAX's webhook mode: the bot subscribes its URL through maxapi at start, the fake MAX
API posts each update with the secret header, and the bot stores, answers and
acknowledges it; a call without the secret is refused and nothing is stored."""

from __future__ import annotations

import aiohttp
import pytest

from bots.max.webhook import SECRET_HEADER, WEBHOOK_PATH
from core.settings import MaxMode
from tests.e2e.max.conftest import RunningMaxBot
from tests.rasa_fixtures import free_port

SECRET = "max-webhook-s3cret"
ANNA = 501

# The test's webhook is plain HTTP on 127.0.0.1; maxapi warns about that, rightly.
pytestmark = pytest.mark.filterwarnings("ignore:URL вебхука не использует HTTPS:UserWarning")


@pytest.fixture
async def webhook_bot(fake, settings, handler, inbox, outbox):
    port = free_port()
    values = {
        **dict(settings),
        "max_mode": MaxMode.WEBHOOK,
        "max_webhook_url": f"http://127.0.0.1:{port}{WEBHOOK_PATH}",
        "max_webhook_secret": SECRET,
        "max_webhook_port": port,
    }
    bot_settings = type(settings)(_env_file=None, **values)
    async with RunningMaxBot(fake, bot_settings, handler, inbox, outbox) as bot:
        await fake.wait_until(lambda: bool(fake.subscriptions) or not bot.alive, 10)
        yield bot


async def test_the_webhook_is_subscribed_and_updates_are_answered_once(
    fake, webhook_bot, inbox_rows
):
    [subscription] = fake.subscriptions
    assert subscription.url == webhook_bot.settings.max_webhook_url
    assert subscription.secret == SECRET
    anna = fake.citizen(ANNA, "Анна")
    anna.send_text("Где получить справку?")
    [sent] = await fake.wait_for_messages(ANNA, 1)
    fake.redeliver(fake.updates[-1].seq)
    anna.send_text("Спасибо")
    await fake.wait_for_messages(ANNA, 2)
    await fake.webhook_settled()
    await webhook_bot.shutdown()

    assert sent.text == "Ответ на вопрос: Где получить справку?"
    assert [m.text for m in fake.sent(ANNA)] == [
        "Ответ на вопрос: Где получить справку?",
        "Ответ на вопрос: Спасибо",
    ]
    assert {a.status for a in fake.webhook_attempts} == {200}
    assert len(await inbox_rows()) == 2


async def test_a_call_without_the_secret_is_refused(fake, webhook_bot, inbox_rows):
    update = fake.citizen(ANNA, "Анна").send_text("Подделка", deliver=False)
    url = webhook_bot.settings.max_webhook_url
    async with aiohttp.ClientSession() as session:
        async with session.post(url, json=update) as response:
            assert response.status == 403
        async with session.post(url, json=update, headers={SECRET_HEADER: "wrong"}) as response:
            assert response.status == 403
        async with session.post(url, data=b"{", headers={SECRET_HEADER: SECRET}) as response:
            assert response.status == 400
    assert await inbox_rows() == []
    assert fake.sent(ANNA) == []
