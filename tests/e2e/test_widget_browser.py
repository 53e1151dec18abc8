"""The website's chat widget in headless Chromium (Debian's, driven by Playwright): a page
of the administration's site (served on another origin, with hostile styles of its own)
embeds the widget with one script tag. A visitor asks and gets the FAQ's answer, presses
«Не помогло», reloads and sees the history, asks for an operator, and the operator's
answer in the Telegram group (the fake Bot API, the real aiogram client) arrives live;
photos pass both ways.
`djinn admin` alone serves the widget end to end, long polling takes over where
WebSockets are blocked, a page of another site and a void token are refused, and the
chat fits a 320-pixel phone. Screenshots are saved to build/screenshots/."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from playwright.async_api import Browser, Page, async_playwright, expect
from sqlalchemy import select

from bots.app import open_database
from core.models import WebVisitor
from nlu import texts
from tests.conftest import faq_answer, make_settings
from tests.e2e.test_admin_browser import CHROMIUM, SCREENSHOTS, shot, start, stop
from tests.e2e.test_operators import GROUP, button, running_desk
from tests.rasa_fixtures import free_port
from tools.fake_telegram.files import add_photo, file_bytes
from tools.images import png

pytestmark = pytest.mark.slow
QUESTION = "Как оплатить коммунальные услуги?"
PAY_KEY = "zhkh-pay-utilities"
PRIVACY = "https://city.example.ru/privacy"
TITLE = "Вопрос администрации"
# The site's own styles, as careless as real ones: none may reach the chat.
HOSTILE_STYLES = """
* { color: #ff00ff !important; font-family: monospace !important; }
button { background: #00ff00 !important; border-radius: 0 !important; }
div { padding: 40px !important; }
"""
SITE_PAGE = """<!doctype html>
<html lang="ru"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Администрация города</title><style>{styles}</style></head>
<body><h1>Администрация города</h1><p>Новости, услуги, контакты.</p>
<script src="{widget}/widget/widget.js" async></script>
</body></html>"""
BLOCK_SOCKETS = "window.WebSocket = function () { throw new Error('blocked by a proxy'); };"


@pytest.fixture
async def chromium() -> AsyncIterator[Browser]:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--headless"]
        )
        yield launched
        await launched.close()


@contextlib.asynccontextmanager
async def site(widget_url: str) -> AsyncIterator[int]:
    """The administration's site on a port of its own; its port."""

    async def page(_: web.Request) -> web.Response:
        body = SITE_PAGE.format(styles=HOSTILE_STYLES, widget=widget_url)
        return web.Response(text=body, content_type="text/html")

    app = web.Application()
    app.router.add_get("/", page)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield port
    finally:
        await runner.cleanup()


async def wait_port(port: int) -> None:
    async with asyncio.timeout(60):
        while True:
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
                return
            except OSError:
                await asyncio.sleep(0.1)


async def open_chat(page: Page) -> None:
    await page.get_by_role("button", name=TITLE).click()
    await expect(page.get_by_role("dialog", name=TITLE)).to_be_visible()
    await expect(page.get_by_role("textbox", name="Ваше сообщение")).to_be_focused()


async def ask(page: Page, text: str) -> None:
    box = page.get_by_role("textbox", name="Ваше сообщение")
    await box.fill(text)
    await box.press("Enter")


def chat_log(page: Page) -> Any:
    return page.get_by_role("log", name="Сообщения чата")


async def test_a_visitor_asks_reloads_and_hears_an_operator_live(
    demo_settings, embedder, tmp_path, chromium: Browser
):
    admin_port = free_port()
    async with site(f"http://127.0.0.1:{admin_port}") as site_port:
        origin = f"http://127.0.0.1:{site_port}"
        async with running_desk(
            demo_settings,
            embedder,
            tmp_path,
            admin_port=admin_port,
            widget_origins=origin,
            widget_privacy_url=PRIVACY,
        ) as desk:
            await wait_port(admin_port)
            answer = await faq_answer(desk.services, PAY_KEY)
            context = await chromium.new_context(viewport={"width": 1280, "height": 860})
            page = await context.new_page()
            await page.goto(f"{origin}/")

            # The site's styles do not reach the chat.
            launcher = page.get_by_role("button", name=TITLE)
            await expect(launcher).to_be_visible()
            await expect(launcher).to_have_css("background-color", "rgb(31, 95, 168)")
            await expect(launcher).not_to_have_css("font-family", "monospace")
            await open_chat(page)
            dialog = page.get_by_role("dialog", name=TITLE)
            notice = dialog.get_by_role("note")
            await expect(notice).to_contain_text("обработку персональных данных")
            link = notice.get_by_role("link", name="Политика обработки персональных данных")
            await expect(link).to_have_attribute("href", PRIVACY)
            await expect(chat_log(page)).to_have_attribute("aria-live", "polite")
            await shot(page, "14-widget-notice")

            await ask(page, QUESTION)
            log = chat_log(page)
            await expect(log).to_contain_text(answer[:80])
            await expect(notice).to_be_hidden()  # sent: the notice was accepted
            await shot(page, "15-widget-answer")
            await log.get_by_role("button", name=texts.BUTTON_NOT_HELPED).last.click()
            await expect(log).to_contain_text(texts.NOT_HELPED[:40])
            await shot(page, "16-widget-not-helped")

            async with desk.services.sessions() as session:
                [visitor] = (await session.scalars(select(WebVisitor))).all()
            assert visitor.notice_accepted_at is not None and visitor.notice_url == PRIVACY

            # A reload: the same conversation, from the server's history.
            await page.reload()
            await open_chat(page)
            log = chat_log(page)
            await expect(log).to_contain_text(QUESTION)
            await expect(log).to_contain_text(answer[:80])
            await expect(log).to_contain_text(texts.NOT_HELPED[:40])
            await expect(page.get_by_role("note")).to_be_hidden()
            await shot(page, "17-widget-after-reload")

            await log.get_by_role("button", name=texts.BUTTON_OPERATOR).last.click()
            await expect(log).to_contain_text(texts.OPERATOR_REQUESTED[:40])
            await desk.wait_topic_text("Обращение №")
            card = desk.card()
            assert "Канал: Сайт" in card["text"]
            assert " · Сайт" in desk.tg.topics(GROUP)[0].name

            # The operator answers in the Telegram group: live in the open page, and in a
            # second tab of the same browser (same token, same conversation).
            second = await context.new_page()
            await second.goto(f"{origin}/")
            await open_chat(second)
            await expect(chat_log(second)).to_contain_text(texts.OPERATOR_REQUESTED[:40])
            olga = desk.tg.operator(9001, "Ольга", GROUP)
            olga.press_button(card, button(card, "ot:"))
            await expect(log).to_contain_text(texts.OPERATOR_JOINED)
            olga.write(desk.thread(), "Здравствуйте! Проверю начисления и отвечу здесь.")
            reply = log.locator(".from-operator", has_text="Проверю начисления")
            await expect(reply).to_be_visible()
            await expect(reply).to_contain_text("Оператор")
            await expect(chat_log(second)).to_contain_text("Проверю начисления")
            await shot(page, "18-widget-operator-live")

            # Photos both ways: the visitor's, from the widget into the topic (Telegram
            # fetches it from the widget's server); the operator's, from the Bot API into
            # the chat.
            receipt = png(320, 240, label="квитанция")
            await page.get_by_role("textbox", name="Ваше сообщение").fill("Вот квитанция")
            await page.locator("input[type=file]").set_input_files(
                files=[{"name": "квитанция.png", "mimeType": "image/png", "buffer": receipt}]
            )
            await expect(log.locator(".from-visitor img")).to_be_visible()
            await desk.wait_topic_text("Гражданин: [фото] Вот квитанция")
            tg = desk.tg
            posted = [
                m
                for m in tg.topic_messages(GROUP, desk.thread())
                if m.get("photo") and m["from"]["id"] == tg.state.bot_user["id"]
            ]
            assert file_bytes(tg.state, posted[-1]["photo"][-1]["file_id"]) == receipt
            sample = add_photo(tg.state, width=640, height=480)
            olga.write_media(desk.thread(), photo=sample, caption="Образец заполнения")
            shown = log.locator(".from-operator", has_text="Образец заполнения").locator("img")
            await expect(shown).to_be_visible()
            served = await page.request.get(await shown.get_attribute("src") or "")
            assert served.ok
            assert await served.body() == file_bytes(tg.state, sample[-1]["file_id"])
            await shot(page, "24-widget-photos")

            # The visitor's answer reaches the topic.
            await ask(second, "Спасибо, жду.")
            await desk.wait_topic_text("Гражданин: Спасибо, жду.")
            await expect(log).to_contain_text("Спасибо, жду.")
            await context.close()


async def test_djinn_admin_alone_serves_the_widget_and_refuses_what_it_must(
    demo_data_dir, chromium: Browser
):
    admin_port = free_port()
    async with site(f"http://127.0.0.1:{admin_port}") as site_port:
        allowed = f"http://127.0.0.1:{site_port}"
        djinn = await start(
            ["admin", "--port", str(admin_port)],
            {
                "DJINN_DATA_DIR": str(demo_data_dir),
                "DJINN_WIDGET_ORIGINS": allowed,
                "DJINN_WIDGET_PRIVACY_URL": PRIVACY,
                "DJINN_WIDGET_COLOR": "#2e5e1e",
            },
            "Виджет для сайта: http://",
            admin_port,
        )
        try:
            assert any(f"разрешённые сайты: {allowed}" in line for line in djinn.output)
            await _the_demo_page_answers(chromium, djinn.url)
            await _another_site_is_refused(chromium, f"http://localhost:{site_port}")
            await _a_void_token_starts_anew(chromium, allowed)
            await _long_polling_where_sockets_are_blocked(chromium, allowed)
            await _a_phone_and_the_keyboard(chromium, allowed)
        finally:
            await stop(djinn)
    async with open_database(make_settings(demo_data_dir)) as (_, sessions):
        async with sessions() as session:
            visitors = (await session.scalars(select(WebVisitor))).all()
    # The demo page's visitor, the long-polling one and the new one after the void token.
    assert len([v for v in visitors if v.notice_accepted_at is not None]) == 3


async def _the_demo_page_answers(browser: Browser, url: str) -> None:
    page = await browser.new_page()
    await page.goto(f"{url}/widget/demo")
    await expect(page.get_by_role("heading", name="Чат на сайте администрации")).to_be_visible()
    await expect(page.get_by_role("button", name=TITLE)).to_have_css(
        "background-color", "rgb(46, 94, 30)"
    )  # DJINN_WIDGET_COLOR
    await open_chat(page)
    await ask(page, "как записаться к врачу")
    log = chat_log(page)
    await expect(log.get_by_role("button", name=texts.BUTTON_HELPED)).to_be_visible()
    await log.get_by_role("button", name=texts.BUTTON_HELPED).click()
    await expect(log).to_contain_text(texts.HELPED[:30])
    await shot(page, "19-widget-demo-page")
    await page.close()


async def _another_site_is_refused(browser: Browser, origin: str) -> None:
    page = await browser.new_page()
    await page.goto(f"{origin}/")
    await page.get_by_role("button").first.click()
    dialog = page.get_by_role("dialog")
    await expect(dialog.get_by_role("status")).to_have_text(
        "Чат не подключён на этом сайте: адрес сайта не указан в настройках Djinn."
    )
    await expect(dialog.get_by_role("textbox", name="Ваше сообщение")).to_be_disabled()
    await shot(page, "20-widget-other-site-refused")
    await page.close()


async def _a_void_token_starts_anew(browser: Browser, origin: str) -> None:
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(f"{origin}/")
    await page.evaluate(
        "([base, token]) => localStorage.setItem('djinn-widget-token:' + base, token)",
        [await _widget_base(page), "w1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA"],
    )
    await page.reload()
    await open_chat(page)
    log = chat_log(page)
    await expect(log).to_contain_text("Прежний разговор продолжить нельзя")
    await expect(page.get_by_role("note")).to_be_visible()  # a new visitor: the notice again
    await ask(page, "Где получить справку о составе семьи?")
    await expect(log.locator(".from-bot").nth(1)).to_be_visible()
    token = await page.evaluate(
        "base => localStorage.getItem('djinn-widget-token:' + base)", await _widget_base(page)
    )
    assert token and not token.startswith("w1.AAAA")
    await shot(page, "21-widget-void-token")
    await context.close()


async def _widget_base(page: Page) -> str:
    return await page.evaluate(
        "document.querySelector('script[src*=\"/widget/widget.js\"]').src"
        ".replace(/\\/widget\\/widget\\.js$/, '')"
    )


async def _long_polling_where_sockets_are_blocked(browser: Browser, origin: str) -> None:
    context = await browser.new_context()
    await context.add_init_script(BLOCK_SOCKETS)
    page = await context.new_page()
    polls: list[str] = []
    page.on("request", lambda r: polls.append(r.url) if "/widget/api/" in r.url else None)
    await page.goto(f"{origin}/")
    await open_chat(page)
    await ask(page, QUESTION)
    log = chat_log(page)
    await expect(log.get_by_role("button", name=texts.BUTTON_NOT_HELPED)).to_be_visible()
    assert any(url.endswith("/widget/api/session") for url in polls)
    assert any("/widget/api/events?after=" in url for url in polls)
    await page.reload()
    await open_chat(page)
    await expect(chat_log(page)).to_contain_text(QUESTION)
    await shot(page, "22-widget-long-polling")
    await context.close()


async def _a_phone_and_the_keyboard(browser: Browser, origin: str) -> None:
    context = await browser.new_context(
        viewport={"width": 320, "height": 640}, is_mobile=True, has_touch=True
    )
    page = await context.new_page()
    await page.goto(f"{origin}/")
    await open_chat(page)
    dialog = page.get_by_role("dialog", name=TITLE)
    box = await dialog.bounding_box()
    assert box is not None and (box["x"], box["width"]) == (0, 320)
    send = dialog.get_by_role("button", name="Отправить")
    send_box = await send.bounding_box()
    assert send_box is not None and send_box["x"] + send_box["width"] <= 320
    assert send_box["height"] >= 44  # a finger's target
    await shot(page, "23-widget-phone")
    # The keyboard: Tab reaches the controls, Escape closes and gives focus back.
    await page.keyboard.press("Tab")
    await expect(dialog.get_by_role("button", name="Прикрепить фото")).to_be_focused()
    await page.keyboard.press("Escape")
    await expect(dialog).to_be_hidden()
    launcher = page.get_by_role("button", name=TITLE)
    await expect(launcher).to_be_focused()
    await expect(launcher).to_have_attribute("aria-expanded", "false")
    await page.keyboard.press("Enter")
    await expect(dialog).to_be_visible()
    await context.close()
