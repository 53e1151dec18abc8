"""The action server's composition root: settings, database, knowledge-base search,
handoff and appeals built once, the actions registered as instances holding them, and
rasa-sdk's HTTP app served on this process's event loop.

Run it with ``python -m nlu.actions`` (``--port 5055`` by default).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from rasa_sdk import Action
from rasa_sdk.endpoint import create_app
from rasa_sdk.executor import ActionExecutor

from core.appeals import AppealRepository
from core.db import SessionFactory, create_engine, create_session_factory
from core.logs import configure_logging, conversation_scope
from core.redis import open_redis
from core.settings import Settings
from handoff.service import HandoffService
from knowledge_base.decision import load_thresholds
from knowledge_base.embedder import Embedder, create_embedder
from knowledge_base.embedding_cache import EmbeddingCache
from knowledge_base.notify import listen_versions
from knowledge_base.repository import FaqRepository
from knowledge_base.search import FaqSearchService
from knowledge_base.store import IndexStore
from nlu.actions.appeal import (
    ActionAppealSummary,
    ActionCancelAppeal,
    ActionCorrectField,
    ActionDecline,
    ActionSubmitAppeal,
)
from nlu.actions.faq import ActionAnswerFaq, ActionFallback, ActionHandleMedia
from nlu.actions.form import ValidateAppealForm, ask_actions
from nlu.actions.handoff import ActionEmergency, ActionRequestOperator
from nlu.actions.status import ActionAppealStatus
from nlu.retrieval import FaqResponder

log = logging.getLogger("djinn.actions")
DEFAULT_PORT = 5055


@dataclass
class ActionServices:
    """What the actions need, built once per process."""

    settings: Settings
    sessions: SessionFactory
    faq: FaqSearchService
    handoff: HandoffService
    appeals: AppealRepository


def build_actions(services: ActionServices) -> list[Action]:
    """Every custom action of the domain, holding the process's services."""
    sessions = services.sessions
    return [
        ActionAnswerFaq(FaqResponder(services.faq, sessions)),
        ActionHandleMedia(),
        ActionFallback(),
        ActionRequestOperator(sessions, services.handoff),
        ActionEmergency(sessions, services.handoff),
        ActionAppealStatus(services.appeals),
        ValidateAppealForm(),
        *ask_actions(services.settings.org_name),
        ActionAppealSummary(),
        ActionSubmitAppeal(services.appeals, services.settings.org_name),
        ActionDecline(),
        ActionCancelAppeal(),
        ActionCorrectField(),
    ]


class ConversationExecutor(ActionExecutor):
    """Runs each action call inside its conversation's logging scope: Rasa's sender id
    is our conversation id (`nlu.rasa`)."""

    async def run(self, action_call: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        sender = action_call.get("sender_id")
        conversation = int(sender) if isinstance(sender, str) and sender.isdigit() else sender
        with conversation_scope(conversation):
            return await super().run(action_call, *args, **kwargs)


def build_executor(services: ActionServices) -> ActionExecutor:
    executor = ConversationExecutor()
    for action in build_actions(services):
        executor.register_action(action)
    return executor


@contextlib.asynccontextmanager
async def open_action_services(
    settings: Settings, embedder: Embedder | None = None
) -> AsyncIterator[ActionServices]:
    """The services over the database the bot process migrates (this one does not)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = create_engine(settings.resolved_database_url, synchronous=settings.sqlite_synchronous)
    try:
        sessions = create_session_factory(engine)
        embedder = embedder or create_embedder(
            settings.embedder, settings.embedder_model, settings.embedder_threads
        )
        thresholds = load_thresholds(
            embedder.name, answer=settings.answer_threshold, clarify=settings.clarify_threshold
        )
        faq = FaqSearchService(
            FaqRepository(sessions),
            IndexStore(settings.index_dir, embedder),
            embedder,
            thresholds,
            EmbeddingCache(settings.index_dir / "embeddings.sqlite3"),
            calibrate=settings.calibrate_margin,
        )
        yield ActionServices(settings, sessions, faq, HandoffService(), AppealRepository(sessions))
    finally:
        await engine.dispose()


async def serve(settings: Settings, host: str, port: int, stop: asyncio.Event) -> None:
    """Serve the actions until ``stop``; the knowledge base reloads as the bots' does."""
    async with contextlib.AsyncExitStack() as stack:
        services = await stack.enter_async_context(open_action_services(settings))
        try:
            await services.faq.refresh()
        except Exception:  # the database may not be migrated yet; the watcher retries
            log.exception("knowledge base not loaded yet; retrying in the background")
        wake = asyncio.Event()
        tasks = [asyncio.create_task(services.faq.watch(stop, settings.kb_reload_interval, wake))]
        if settings.redis_url:
            redis = await stack.enter_async_context(
                open_redis(settings.redis_url, settings.data_dir)
            )
            tasks.append(asyncio.create_task(listen_versions(redis, wake, stop)))
        app = create_app(build_executor(services))
        server = await app.create_server(host=host, port=port, return_asyncio_server=True)
        assert server is not None
        await server.startup()
        await server.start_serving()
        log.info(
            "action server on http://%s:%s (knowledge base v%s)", host, port, services.faq.version
        )
        await stop.wait()
        server.close()
        await server.wait_closed()
        await asyncio.gather(*tasks, return_exceptions=True)


def main(argv: list[str] | None = None) -> None:
    """``python -m nlu.actions [--host H] [--port P]``."""
    parser = argparse.ArgumentParser(prog="python -m nlu.actions", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    args = parser.parse_args(argv)
    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await serve(settings, args.host, args.port, stop)

    asyncio.run(run())
