"""The web admin in headless Chromium (Debian's, driven by Playwright) against the real
processes: `djinn run` with the admin beside the bots and the real aiogram client on the
fake Bot API, or `djinn admin` alone; users created with `djinn admin create-user` from
the shell. Screenshots of each main page are saved to build/screenshots/."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from bots.app import open_database
from tests.conftest import ROOT, make_settings
from tests.dashboard_scenario import seed_world
from tests.gap_scenario import OPERATOR_ANSWER, seed
from tests.rasa_fixtures import free_port
from tools.fake_telegram import DEFAULT_TOKEN, FakeTelegram

pytestmark = pytest.mark.slow
CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = ROOT / "build" / "screenshots"
PASSWORD = "пароль редактора 2026"
PAY_QUESTION = "Как оплатить коммунальные услуги?"


def create_user(data_dir: Path, login: str, role: str) -> None:
    """Through the shell, as a deployment script does: the password on stdin."""
    done = subprocess.run(
        [sys.executable, "-m", "bots.cli", "admin", "create-user", login, "--role", role],
        input=f"{PASSWORD}\n",
        capture_output=True,
        text=True,
        env={**os.environ, "DJINN_DATA_DIR": str(data_dir)},
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert PASSWORD not in done.stdout + done.stderr


@dataclass
class Running:
    process: asyncio.subprocess.Process
    url: str
    output: list[str]


async def start(command: list[str], env: dict[str, str], ready: str, port: int) -> Running:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bots.cli",
        *command,
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert process.stdout is not None
    output: list[str] = []
    async with asyncio.timeout(180):
        while True:
            line = (await process.stdout.readline()).decode()
            assert line, "djinn exited:\n" + "".join(output)
            output.append(line)
            if ready in line:
                break
    url = f"http://127.0.0.1:{port}"
    async with asyncio.timeout(30):  # the admin may start a moment after the bots
        while True:
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
                break
            except OSError:
                await asyncio.sleep(0.1)
    return Running(process, url, output)


async def stop(running: Running) -> None:
    if running.process.returncode is None:
        running.process.terminate()
        try:
            await asyncio.wait_for(running.process.wait(), 30)
        except TimeoutError:
            running.process.kill()
            await running.process.wait()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--headless"]
        )
        yield chromium
        await chromium.close()


async def shot(page: Page, name: str) -> None:
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


async def log_in(page: Page, url: str, login: str) -> None:
    await page.goto(f"{url}/faq")
    await expect(page).to_have_url(f"{url}/login?next=%2Ffaq")
    await page.get_by_label("Логин").fill(login)
    await page.get_by_label("Пароль").fill(PASSWORD)
    await page.get_by_role("button", name="Войти").click()
    await expect(page).to_have_url(f"{url}/faq")


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as fake:
        yield fake


async def test_an_editor_changes_an_answer_and_the_telegram_bot_gives_it(
    tg, demo_data_dir, browser
):
    async with open_database(make_settings(demo_data_dir)) as (_, sessions):
        await seed(sessions)  # knowledge gaps with an operator's answer
    create_user(demo_data_dir, "eva", "editor")
    port = free_port()
    djinn = await start(
        ["run"],
        {
            "DJINN_DATA_DIR": str(demo_data_dir),
            "DJINN_METRICS_PORT": "0",
            "DJINN_ADMIN_PORT": str(port),
            "TELEGRAM_BOT_TOKEN": DEFAULT_TOKEN,
            "TELEGRAM_API_URL": tg.api_url,
        },
        "Djinn работает",
        port,
    )
    try:
        assert any(f"http://127.0.0.1:{port}/login" in line for line in djinn.output)
        page = await browser.new_page()
        await page.goto(f"{djinn.url}/faq")
        await shot(page, "01-login")
        await log_in(page, djinn.url, "eva")
        await shot(page, "02-faq-list")

        await page.get_by_label("Поиск").fill("оплатить коммунальные")
        await page.get_by_role("button", name="Найти").click()
        await page.get_by_role("link", name=PAY_QUESTION).click()
        await shot(page, "03-faq-entry")
        new_answer = (
            "С 1 декабря оплатить ЖКУ можно только через единый платёжный документ: "
            "на портале Госуслуг, в приложении банка по QR-коду или в МФЦ без комиссии."
        )
        await page.get_by_label("Ответ").fill(new_answer)
        await page.get_by_role("button", name="Сохранить и опубликовать").click()
        saved_at = time.monotonic()
        await expect(page.get_by_role("status")).to_contain_text("Сохранено")

        # A citizen asks in Telegram: the bot gives the new text within five seconds
        # of the save (it asks again until then, as people do).
        citizen = tg.citizen(1001, "Анна")
        seen = 0
        reply = ""
        while time.monotonic() - saved_at < 5 and reply != new_answer:
            citizen.send_text("как оплатить коммунальные услуги?")
            seen += 1
            messages = await tg.wait_for_messages(1001, seen, timeout=10)
            reply = messages[-1]["text"]
            if reply != new_answer:
                await asyncio.sleep(0.3)
        late = time.monotonic() - saved_at
        assert reply == new_answer, f"still the old answer {late:.1f} s after the save"

        await page.get_by_role("link", name="История").click()
        await expect(page.locator("ins").first).to_be_visible()
        await shot(page, "04-faq-history")

        await page.get_by_role("link", name="Проверить вопрос").first.click()
        await page.get_by_label("Вопрос, как его написал бы житель").fill(
            "куда платить за квартиру и свет"
        )
        await page.get_by_role("button", name="Проверить").click()
        await expect(page.locator(".decision")).to_contain_text("ответит этой записью")
        await shot(page, "05-check-question")

        # A knowledge gap becomes an entry, with the operator's answer already in it.
        await page.goto(f"{djinn.url}/gaps?days=30&covered=1")
        card = page.locator("article.gap", has_text="паспорт").first
        await expect(card.locator(".gap-citizens")).to_have_text("3")
        await shot(page, "06-knowledge-gaps")
        await card.get_by_label("Категория").fill("Документы")
        await card.get_by_role("button", name="Создать черновик записи").click()
        await expect(page.get_by_label("Ответ")).to_have_value(OPERATOR_ANSWER)
        await page.get_by_label("Состояние").select_option("published")
        await page.get_by_role("button", name="Сохранить и опубликовать").click()
        await expect(page.get_by_role("status").first).to_contain_text("Сохранено")
        await shot(page, "07-entry-from-gap")

        await page.goto(f"{djinn.url}/faq/import")
        await shot(page, "08-import")
        await page.get_by_role("button", name="Выйти").click()
        await expect(page).to_have_url(f"{djinn.url}/login")
        await page.goto(f"{djinn.url}/faq")
        await expect(page).to_have_url(f"{djinn.url}/login?next=%2Ffaq")
    finally:
        await stop(djinn)


async def test_the_dashboard_shows_a_seeded_week_exactly(demo_data_dir, browser):
    """`djinn admin` alone; the week of tests/dashboard_scenario.py, seen long after it
    (so every question is judged: none is younger than 72 hours)."""
    async with open_database(make_settings(demo_data_dir)) as (_, sessions):
        world = await seed_world(sessions)
    create_user(demo_data_dir, "sam", "supervisor")
    create_user(demo_data_dir, "boss", "admin")
    port = free_port()
    admin = await start(
        ["admin", "--port", str(port)],
        {"DJINN_DATA_DIR": str(demo_data_dir), "DJINN_TIMEZONE": "Europe/Moscow"},
        "Веб-интерфейс: http://",
        port,
    )
    try:
        page = await browser.new_page()
        await page.goto(f"{admin.url}/login")
        await page.get_by_label("Логин").fill("sam")
        await page.get_by_label("Пароль").fill(PASSWORD)
        await page.get_by_role("button", name="Войти").click()
        await expect(page).to_have_url(f"{admin.url}/dashboard")
        await page.get_by_label("С", exact=True).fill("2026-03-02")
        await page.get_by_label("По", exact=True).fill("2026-03-08")
        await page.get_by_role("button", name="Показать").click()
        await expect(page).to_have_url(f"{admin.url}/dashboard?start=2026-03-02&end=2026-03-08")
        expected = {
            "#fig-inbound": "13",
            "#fig-questions": "11",
            "#fig-naive": "81,8 %",
            "#fig-honest": "45,5 %",
            "#fig-handoff": "60,0 %",
            "#fig-p50": "12 мин",
            "#fig-sla": "2",
            "#fig-csat": "4,00",
        }
        for selector, text in expected.items():
            await expect(page.locator(selector)).to_have_text(text)
        await expect(page.locator(".card", has_text="решено ботом честно")).to_contain_text(
            "5 из 11"
        )
        operators = page.locator("#by-operator tbody tr")
        await expect(operators).to_have_count(2)
        await expect(operators.nth(0)).to_have_text(
            "Иван 1 1 30 мин 30 мин 1", use_inner_text=True
        )
        await expect(operators.nth(1)).to_have_text(
            "Ольга 1 1 12 мин 12 мин 0", use_inner_text=True
        )
        categories = page.locator("#categories tbody tr")
        await expect(categories.nth(0)).to_have_text("ЖКХ 5 5", use_inner_text=True)
        await expect(categories.nth(1)).to_have_text("Транспорт 4 3", use_inner_text=True)
        rising = page.locator("#rising tbody tr")
        await expect(rising).to_have_count(2)
        await expect(rising.nth(0)).to_contain_text("Вопрос e1")
        await shot(page, "09-dashboard")

        async with page.expect_download() as download:
            await page.get_by_role("link", name="Выгрузить CSV").click()
        path = await (await download.value).path()
        assert "Сводка" in Path(path).read_text(encoding="utf-8-sig")

        # Drill down: the Telegram part of 8 March's bar, then a conversation.
        await page.locator("svg a[href*='channel=telegram&day=2026-03-08']").click()
        await expect(page.locator("h1")).to_have_text("Обращения с сообщениями граждан")
        rows = page.locator("table.list tbody tr")
        await expect(rows).to_have_count(2)  # Vera and Dina wrote that day
        await shot(page, "10-conversations")
        await page.get_by_role("link", name=f"№{world.conversations['Вера']}").click()
        await expect(page.locator("ol.transcript li.from-operator")).to_have_count(1)
        await shot(page, "11-transcript")

        await page.get_by_role("button", name="Выйти").click()
        await page.get_by_label("Логин").fill("boss")
        await page.get_by_label("Пароль").fill(PASSWORD)
        await page.get_by_role("button", name="Войти").click()
        await page.goto(f"{admin.url}/users")
        await expect(page.locator("table.list").first).to_contain_text("sam")
        await shot(page, "12-users")
        await page.goto(f"{admin.url}/audit")
        await expect(page.locator("table.audit")).to_contain_text("пользователь создан")
        await shot(page, "13-audit")
    finally:
        await stop(admin)
