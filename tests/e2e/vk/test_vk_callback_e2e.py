import pytest

from core.settings import VkMode

SECRET = "callback-s3cret"
CODE = "a1b2c3d4"
ANNA = 5001


@pytest.fixture
async def callback_bot(run_bot, unused_tcp_port):
    settings = {
        "vk_mode": VkMode.CALLBACK,
        "vk_callback_secret": SECRET,
        "vk_confirmation_code": CODE,
        "vk_callback_port": unused_tcp_port,
    }
    async with run_bot(**settings) as bot:
        yield bot


@pytest.fixture
def url(callback_bot) -> str:
    return callback_bot.callback_url


async def test_confirmation_is_answered_with_the_code(vk, callback_bot, url):
    vk.use_callback(url, SECRET)

    assert await vk.confirm_callback() == CODE


async def test_event_with_the_right_secret_is_answered(vk, callback_bot, url, handler):
    vk.use_callback(url, SECRET)

    vk.send_text(ANNA, "Когда отключат горячую воду?")

    assert await vk.callbacks_settled() == [True]
    [sent] = await vk.wait_sent(ANNA)
    assert sent.text == "Ответ на вопрос: Когда отключат горячую воду?"
    assert sent.keyboard["inline"] is True
    assert [a.body for a in vk.callback.log] == ["ok"]


async def test_event_with_a_wrong_secret_is_refused_and_not_stored(
    vk, callback_bot, url, dialogue, inbox_rows
):
    vk.use_callback(url, "guessed", attempts=2, retry_delay=0)

    vk.send_text(ANNA, "Подделка")

    assert await vk.callbacks_settled() == [False]
    assert [a.status for a in vk.callback.log] == [403, 403]
    assert await inbox_rows() == []
    assert dialogue.turns == []


async def test_event_for_another_community_is_refused(vk, callback_bot, url, inbox_rows):
    vk.use_callback(url, SECRET, attempts=1)
    event = vk.send_text(ANNA, "Чужое сообщество")
    await vk.callbacks_settled()

    vk.push_event({**event, "group_id": 999, "event_id": "other"})

    assert await vk.callbacks_settled() == [False]
    assert [row.update_key for row in await inbox_rows()] == [event["event_id"]]


async def test_resent_event_is_answered_once(vk, callback_bot, url, dialogue):
    vk.use_callback(url, SECRET)
    event = vk.send_text(ANNA, "Повторите, пожалуйста")
    await vk.wait_sent(ANNA)

    vk.push_event(event)
    vk.send_text(ANNA, "Следующий вопрос")
    await vk.wait_sent(ANNA, 2)

    await vk.callbacks_settled()
    assert [a.body for a in vk.callback.log] == ["ok", "ok", "ok"]
    assert [turn.text for turn in dialogue.turns] == [
        "Повторите, пожалуйста",
        "Следующий вопрос",
    ]


@pytest.mark.parametrize("secret", [None, "", "  ", "secret"])
async def test_callback_mode_refuses_to_start_without_a_real_secret(run_bot, secret):
    """In every environment: an empty secret took events from anyone in development."""
    bot = run_bot(vk_mode=VkMode.CALLBACK, vk_callback_secret=secret, vk_confirmation_code=CODE)
    assert bot.settings.env == "dev"
    with pytest.raises(ValueError, match="VK_CALLBACK_SECRET"):
        async with bot:
            pass
