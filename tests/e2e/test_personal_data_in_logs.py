"""A citizen's phone number, address, e-mail and name go through every path of the real
`djinn run` process — the knowledge base, the appeal form in the real Rasa and action
server, both channels, a Telegram outage, an update aiogram cannot read, a turn the
database refuses — and none of them is found in any log: the bot's (as JSON lines, at
the production level INFO), the action server's or Rasa's."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sqlite3
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from nlu.actions import texts
from tests.rasa_fixtures import RasaStack, new_citizen, wait_healthy
from tools.fake_telegram import DEFAULT_TOKEN, FakeTelegram
from tools.fake_vk import FakeVk

pytestmark = pytest.mark.slow

PHONE = "+7 916 555-01-23"
ADDRESS = "ул. Садовая, д. 17, кв. 4"
EMAIL = "anna.smirnova@example.ru"
FIRST, LAST, USERNAME = "Анна", "Смирнова", "anna_smirnova_1988"
# What must not be found in any spelling: the phone's digits, the street, the e-mail's
# local part, the surname and the username.
SECRETS = ("9165550123", "5550123", "555-01-23", "Садовая", "anna.smirnova", LAST, USERNAME)
MARKER = "сломалось"  # a turn the database refuses, for the failure path


@pytest.fixture
async def fakes() -> AsyncIterator[tuple[FakeTelegram, FakeVk]]:
    # A community of its own: the bot keeps the long poll's ts per community in the data
    # directory the session's Rasa tests share, and this fake's ts must not be theirs.
    async with FakeTelegram(first_id=9_000_000_001) as tg, FakeVk(group_id=7_000) as vk:
        yield tg, vk


@pytest.fixture
def refusing_database(rasa_stack: RasaStack) -> AsyncIterator[Path]:
    """The session's database refuses any message with the marker (a poison turn)."""
    path = rasa_stack.data_dir / "djinn.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TRIGGER refuse_pii_test BEFORE INSERT ON messages "
            f"WHEN NEW.text LIKE '%{MARKER}%' BEGIN SELECT RAISE(ABORT, 'refused'); END"
        )
    yield path
    with sqlite3.connect(path) as db:
        db.execute("DROP TRIGGER refuse_pii_test")


async def start_djinn(rasa_stack: RasaStack, tg: FakeTelegram, vk: FakeVk, log: Path):
    settings = rasa_stack.settings
    env = {
        **os.environ,
        "DJINN_DATA_DIR": str(settings.data_dir),
        "DJINN_RASA": "on",
        "DJINN_RASA_MANAGED": "0",
        "RASA_URL": settings.rasa_url,
        "ACTION_SERVER_URL": settings.action_server_url,
        "DJINN_RASA_TIMEOUT": "15",
        "DJINN_LOG_FORMAT": "json",
        "DJINN_LOG_LEVEL": "INFO",
        "DJINN_METRICS_PORT": "0",
        "DJINN_TURN_ATTEMPTS": "2",
        "TELEGRAM_BOT_TOKEN": DEFAULT_TOKEN,
        "TELEGRAM_API_URL": tg.api_url,
        "VK_GROUP_TOKEN": vk.token,
        "VK_GROUP_ID": str(vk.group_id),
        "VK_API_URL": vk.api_url,
    }
    with log.open("wb") as output:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bots.cli", "run", env=env, stdout=output, stderr=output
        )


async def replies(tg: FakeTelegram, chat: int, count: int) -> list[dict[str, Any]]:
    return await tg.wait_for_messages(chat, count, timeout=90)


def press(tg: FakeTelegram, chat: int, label: str) -> None:
    """Press the button ``label`` under the newest message that has it."""
    for message in reversed(tg.messages(chat)):
        for row in message.get("reply_markup", {}).get("inline_keyboard", []):
            for button in row:
                if button["text"] == label:
                    tg.citizen(chat).press_button(message, button["callback_data"])
                    return
    raise AssertionError(f"no button {label!r} in chat {chat}")


async def fill_the_appeal_form(tg: FakeTelegram, chat: int) -> None:
    """The form through the real Rasa; the summary (address and phone in its text) is
    held up by a Telegram outage before it is delivered."""
    anna = tg.citizen(chat, FIRST, last_name=LAST, username=USERNAME)
    seen = len(tg.messages(chat))

    async def next_reply() -> dict[str, Any]:
        nonlocal seen
        seen += 1
        return (await replies(tg, chat, seen))[-1]

    anna.send_text("Хочу подать заявку: во дворе большая яма")
    await next_reply()
    press(tg, chat, texts.BUTTON_YES_CONSENT)
    await next_reply()
    press(tg, chat, "Дороги и транспорт")
    assert (await next_reply())["text"] == texts.ASK_ADDRESS
    anna.send_text(ADDRESS)
    await next_reply()
    anna.send_text(f"Глубокая яма у подъезда, пишите на {EMAIL}")
    await next_reply()
    press(tg, chat, texts.BUTTON_NO_PHOTO)
    assert (await next_reply())["text"] == texts.ASK_PHONE
    tg.fail_next("sendMessage", times=3, status=502)
    anna.send_text(PHONE)
    summary = await next_reply()
    assert ADDRESS in summary["text"] and "+79165550123" in summary["text"]
    press(tg, chat, texts.BUTTON_SUBMIT)
    submitted = await next_reply()
    assert re.search(r"\d{4}-\d{6}", submitted["text"]), submitted["text"]


async def test_personal_data_never_reaches_the_logs(
    rasa_stack: RasaStack, fakes, refusing_database, tmp_path
):
    await wait_healthy(rasa_stack.settings)
    tg, vk = fakes
    log = tmp_path / "djinn.log"
    djinn = await start_djinn(rasa_stack, tg, vk, log)
    try:
        chat = int(new_citizen())
        before = quarantine_count(refusing_database)
        await tg.wait_for_request("getUpdates", timeout=120)
        anna = tg.citizen(chat, FIRST, last_name=LAST, username=USERNAME)
        anna.send_text(f"Здравствуйте, мой телефон {PHONE}, почта {EMAIL}, живу: {ADDRESS}")
        await replies(tg, chat, 1)
        await fill_the_appeal_form(tg, chat)
        tg.inject_raw(  # an update aiogram cannot read, full of personal data
            {"message": {"text": f"{PHONE} {ADDRESS}", "from": {"first_name": LAST}}}
        )
        seen = len(tg.messages(chat))
        refused = anna.send_text(f"Всё {MARKER}, перезвоните на {PHONE}, {ADDRESS}")
        await vk.wait_until(lambda: bool(vk.calls("longpoll")), guard=60)
        peer = int(new_citizen())
        vk.users[peer] = (FIRST, LAST)
        vk.send_text(peer, f"Телефон {PHONE}, адрес {ADDRESS}, {EMAIL}")
        await vk.wait_sent(peer, guard=90)
        await quarantined(refusing_database, before)
        assert len(tg.messages(chat)) == seen  # no apology could be stored either
    finally:
        if djinn.returncode is None:
            djinn.send_signal(2)
            await asyncio.wait_for(djinn.wait(), 60)
    lines = log.read_text(encoding="utf-8").splitlines()
    assert any('"conversation_id"' in line for line in lines)
    for line in lines:
        if line.startswith("{"):
            json.loads(line)  # every record is one JSON object
    quarantine = f"update id={refused['update_id']} quarantined"  # ids are not masked
    assert any(quarantine in line for line in lines), "the failure path was logged"
    logs = {"djinn": "\n".join(lines)}
    for name in ("actions.log", "rasa.log"):
        logs[name] = (rasa_stack.settings.logs_dir / name).read_text(errors="replace")
    found = {
        (name, secret)
        for name, content in logs.items()
        for secret in SECRETS
        if secret in content or any(secret in phone for phone in phones(content))
    }
    assert found == set(), f"personal data in the logs: {sorted(found)}"


def phones(content: str) -> list[str]:
    """The digits of everything in ``content`` written like a phone number."""
    return [re.sub(r"\D", "", m) for m in re.findall(r"\+?\d[\d\s()\-]{8,}\d", content)]


def quarantine_count(database: Path) -> int:
    with sqlite3.connect(database) as db:
        query = "SELECT count(*) FROM inbox_updates WHERE status = 'quarantined'"
        return int(db.execute(query).fetchone()[0])


async def quarantined(database: Path, before: int) -> None:
    """Until the refused turn was set aside after its last attempt."""
    async with asyncio.timeout(90):
        while quarantine_count(database) <= before:
            await asyncio.sleep(0.2)
