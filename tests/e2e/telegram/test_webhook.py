import aiohttp

from bots.telegram.webhook import SECRET_HEADER


async def test_webhook_mode_accepts_the_right_secret(tg, start_bot, webhook_settings, service):
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
    tg, start_bot, webhook_settings, service, inbox
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
    assert service.messages == []


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
