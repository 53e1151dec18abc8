"""A running bot picks up a changed knowledge base without a restart."""

import asyncio
import contextlib

from bots.app import open_services
from knowledge_base.drafts import EntryDraft
from knowledge_base.notify import listen_versions, publish_version
from tests.conftest import make_settings

DOG = EntryDraft(
    question="Что делать, если во дворе бегает стая бездомных собак и они кидаются на детей?",
    answer="Сообщите об опасных собаках в отдел по отлову животных без владельцев.",
    category="Благоустройство",
    phrasings=("Бездомные собаки кидаются на детей во дворе",),
    key="test-stray-dogs-attack",
)
QUESTION = "бездомные собаки кидаются на детей во дворе"


async def test_bot_reloads_after_a_redis_notice(demo_data_dir, embedder):
    settings = make_settings(demo_data_dir, kb_reload_interval=3600)  # only notices can wake it
    async with (
        open_services(settings, embedder=embedder) as bot,
        open_services(settings, embedder=embedder, with_redis=False) as editor,
    ):
        await bot.faq.refresh()
        before = await bot.faq.search(QUESTION)
        assert before.hits[0].entry.key != DOG.key

        stop, wake = asyncio.Event(), asyncio.Event()
        tasks = [
            asyncio.create_task(bot.faq.watch(stop, settings.kb_reload_interval, wake)),
            asyncio.create_task(listen_versions(bot.redis, wake, stop)),
        ]
        try:
            await asyncio.sleep(0.2)  # subscribed
            report = await editor.faq_repository.apply_import([DOG], source="editor")
            await editor.faq.refresh()  # the editor's process builds and publishes the snapshot
            await publish_version(bot.redis, report.version)
            async with asyncio.timeout(30):
                while bot.faq.version != report.version:
                    await asyncio.sleep(0.05)
        finally:
            stop.set()
            with contextlib.suppress(Exception):
                await asyncio.gather(*tasks)
        after = await bot.faq.search(QUESTION)
        assert after.hits[0].entry.key == DOG.key
        assert after.kb_version == report.version


async def test_bot_notices_a_change_on_its_own_without_redis(demo_data_dir, embedder):
    settings = make_settings(demo_data_dir, kb_reload_interval=0.1)
    async with (
        open_services(settings, embedder=embedder, with_redis=False) as bot,
        open_services(settings, embedder=embedder, with_redis=False) as editor,
    ):
        await bot.faq.refresh()
        stop = asyncio.Event()
        watcher = asyncio.create_task(bot.faq.watch(stop, settings.kb_reload_interval))
        try:
            report = await editor.faq_repository.apply_import([DOG], source="editor")
            async with asyncio.timeout(60):  # the bot builds the new snapshot itself
                while bot.faq.version != report.version:
                    await asyncio.sleep(0.05)
        finally:
            stop.set()
            await watcher
        assert (await bot.faq.search(QUESTION)).hits[0].entry.key == DOG.key
