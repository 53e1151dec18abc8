"""Webhook mode: Telegram's secret is checked, updates are stored before 200, and the
bot refuses to start without a secret."""

import asyncio

import aiohttp
import pytest
from sqlalchemy import select

from bots.telegram.webhook import SECRET_HEADER
from core.models import InboxUpdate
from tests.e2e.telegram.conftest import make_settings


async def test_webhook_mode_accepts_the_right_secret(tg, start_bot, webhook_settings):
    bot = await start_bot(settings=webhook_settings)
    registered = await tg.wait_for_request("setWebhook")
    assert registered.params["url"] == webhook_settings.telegram_webhook_url
    assert registered.params["secret_token"] == "s3cret-Token_1"
    tg.citizen(1001).send_text("Как записаться на приём?")
    [reply] = await tg.wait_for_messages(1001, 1)
    assert reply["text"] == "Ответ на вопрос: Как записаться на приём?"
    assert [a.status for a in tg.state.webhook_attempts] == [200]
    assert bot.alive()


async def test_webhook_rejects_a_wrong_or_missing_secret_and_stores_nothing(
    tg, start_bot, webhook_settings, inbox, dialogue
):
    await start_bot(settings=webhook_settings)
    await tg.wait_for_request("setWebhook")
    forged = {"update_id": 99, "message": {"message_id": 1, "date": 0, "text": "взлом"}}
    async with aiohttp.ClientSession() as http:
        for headers in ({SECRET_HEADER: "s3cret-Token_2"}, {SECRET_HEADER: ""}, {}):
            async with http.post(
                webhook_settings.telegram_webhook_url, json=forged, headers=headers
            ) as response:
                assert response.status == 403
    assert await inbox.unprocessed("telegram") == []
    assert dialogue.turns == []


async def test_telegram_retries_until_the_webhook_accepts(tg, start_bot, webhook_settings):
    await start_bot(settings=webhook_settings)
    await tg.wait_for_request("setWebhook")
    tg.state.webhook.secret_token = "stale-secret"
    anna = tg.citizen(1001)
    anna.send_text("Вопрос")
    await tg.wait_until(lambda: len(tg.state.webhook_attempts) >= 2)
    assert {a.status for a in tg.state.webhook_attempts} == {403}
    assert tg.messages(1001) == []
    tg.state.webhook.secret_token = "s3cret-Token_1"
    [reply] = await tg.wait_for_messages(1001, 1)
    assert reply["text"] == "Ответ на вопрос: Вопрос"


@pytest.mark.parametrize("secret", [None, "", "   ", "changeme"])
async def test_webhook_mode_refuses_to_start_without_a_real_secret(tg, tmp_path, secret):
    """In every environment: the development default took any request without one."""
    settings = make_settings(
        tg,
        tmp_path,
        telegram_mode="webhook",
        telegram_webhook_url="http://127.0.0.1:1/telegram/webhook",
        telegram_webhook_secret=secret,
    )
    assert settings.env == "dev"
    assert "TELEGRAM_WEBHOOK_SECRET" in settings.missing_channels().get("telegram", []) or (
        secret == "changeme"
    )
    from bots.telegram.runner import run_telegram

    with pytest.raises(ValueError, match="TELEGRAM_WEBHOOK_SECRET"):
        await run_telegram(settings, None, None, None, asyncio.Event())  # type: ignore[arg-type]


async def test_updates_arriving_while_the_webhook_starts_are_handled_once(
    tg, start_bot, webhook_settings, sessions, dialogue
):
    """Telegram keeps posting to the webhook of a bot that is down; when it comes back,
    updates arrive while the inbox worker takes over what is pending. Each update is
    handled by one of them only."""
    first = await start_bot(settings=webhook_settings)
    await tg.wait_for_request("setWebhook")
    await first.crash()
    for number in range(20):
        tg.citizen(1001 + number).send_text(f"Вопрос {number}")
    await tg.wait_until(lambda: len(tg.state.webhook_attempts) >= 3)  # refused while down
    await start_bot(settings=webhook_settings)
    for number in range(20):
        await tg.wait_for_messages(1001 + number, 1, timeout=10)
    await asyncio.sleep(0.5)
    assert all(len(tg.messages(1001 + n)) == 1 for n in range(20))
    assert len(dialogue.turns) == 20
    async with sessions() as session:
        attempts = (await session.scalars(select(InboxUpdate.attempts))).all()
    assert attempts == [1] * 20
