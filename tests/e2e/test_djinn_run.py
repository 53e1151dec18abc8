"""The whole `djinn run` process, as deployed: the real aiogram and vkbottle clients talk
to the fake Bot API and VK API over 127.0.0.1, with the demo knowledge base, the
real embedder, SQLite and the embedded Redis."""

import asyncio
import os
import signal
import sqlite3
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from core.domain import MessageKind
from nlu import texts
from tools.fake_telegram import DEFAULT_TOKEN, FakeTelegram
from tools.fake_vk import FakeVk

pytestmark = pytest.mark.slow
PAY_ANSWER_START = "Оплатить жилищно-коммунальные услуги"


@pytest.fixture
async def fakes() -> AsyncIterator[tuple[FakeTelegram, FakeVk]]:
    async with FakeTelegram() as tg, FakeVk() as vk:
        yield tg, vk


@pytest.fixture
async def djinn(fakes, demo_data_dir: Path) -> AsyncIterator[asyncio.subprocess.Process]:
    tg, vk = fakes
    env = {
        **os.environ,
        "DJINN_DATA_DIR": str(demo_data_dir),
        "DJINN_METRICS_PORT": "0",
        "TELEGRAM_BOT_TOKEN": DEFAULT_TOKEN,
        "TELEGRAM_API_URL": tg.api_url,
        "VK_GROUP_TOKEN": vk.token,
        "VK_GROUP_ID": str(vk.group_id),
        "VK_API_URL": vk.api_url,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bots.cli",
        "run",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    yield process
    if process.returncode is None:
        process.kill()
        await process.wait()


async def wait_for_line(process: asyncio.subprocess.Process, text: str) -> list[str]:
    lines = []
    async with asyncio.timeout(120):
        while True:
            line = (await process.stdout.readline()).decode()
            assert line, "djinn exited:\n" + "".join(lines)
            lines.append(line)
            if text in line:
                return lines


async def test_citizens_get_answers_in_both_channels(fakes, djinn, demo_data_dir):
    tg, vk = fakes
    output = await wait_for_line(djinn, "Djinn работает")
    assert any("Telegram: запускается" in line for line in output)
    # VK, like the real one, delivers only events after the long poll connected.
    await wait_for_line(djinn, "VK long poll connected")

    tg.citizen(1001, "Анна").send_text("здравствуйте, куда платить за квартиру и свет?")
    vk.send_text(5001, "здравствуйте, куда платить за квартиру и свет?")
    [telegram_answer] = await tg.wait_for_messages(1001, 1, timeout=60)
    [vk_answer] = await vk.wait_sent(5001, guard=60)
    assert telegram_answer["text"].startswith(PAY_ANSWER_START)
    assert vk_answer.text == telegram_answer["text"]

    [not_helped] = [
        b["callback_data"]
        for row in telegram_answer["reply_markup"]["inline_keyboard"]
        for b in row
        if b["text"] == texts.BUTTON_NOT_HELPED
    ]
    tg.citizen(1001).press_button(telegram_answer, not_helped)
    await tg.wait_for_messages(1001, 2, timeout=30)
    tg.citizen(1001).send_photo()
    messages = await tg.wait_for_messages(1001, 3, timeout=30)
    assert messages[2]["text"] == texts.non_text(MessageKind.PHOTO)

    djinn.send_signal(signal.SIGINT)
    rest = (await asyncio.wait_for(djinn.stdout.read(), 60)).decode()
    assert await djinn.wait() == 0, rest
    with sqlite3.connect(demo_data_dir / "djinn.sqlite3") as db:
        logs = db.execute("SELECT channel, feedback FROM search_log ORDER BY id").fetchall()
        delivered = db.execute(
            "SELECT count(*) FROM messages WHERE direction = 'out' AND delivery_status = 'sent'"
        ).fetchone()[0]
    assert sorted(logs) == [("telegram", "not_helped"), ("vk", None)]
    assert delivered == 4
