"""Composition root: builds each process's services once from its settings."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from bots.conversation import ConversationService
from bots.outbox import Senders
from core.conversations import ConversationRepository
from core.db import SessionFactory, create_engine, create_session_factory
from core.inbox import InboxRepository
from core.leases import Worker
from core.metrics import Metrics, serve_metrics
from core.migrate import upgrade
from core.outbox import OutboxRepository
from core.redis import open_redis
from core.settings import Settings
from handoff.operators import OperatorService
from handoff.service import HandoffService
from handoff.sla import SlaPolicy
from knowledge_base.decision import load_thresholds
from knowledge_base.embedder import Embedder, create_embedder
from knowledge_base.embedding_cache import EmbeddingCache
from knowledge_base.repository import FaqRepository
from knowledge_base.search import FaqSearchService
from knowledge_base.store import IndexStore
from nlu.engine import DialogueEngine
from nlu.rasa import RasaDialogueEngine, RasaHealth, ResilientDialogueEngine
from nlu.retrieval import FaqResponder, RetrievalEngine

log = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    engine: AsyncEngine
    sessions: SessionFactory
    redis: Redis | None
    embedder: Embedder
    faq_repository: FaqRepository
    faq: FaqSearchService
    inbox: InboxRepository
    outbox: OutboxRepository
    dialogue: DialogueEngine
    conversation: ConversationService
    metrics: Metrics
    handoff: HandoffService
    operators: OperatorService
    senders: Senders


def build_faq(
    settings: Settings, sessions: SessionFactory, embedder: Embedder
) -> tuple[FaqRepository, FaqSearchService]:
    repository = FaqRepository(sessions)
    thresholds = load_thresholds(
        embedder.name, answer=settings.answer_threshold, clarify=settings.clarify_threshold
    )
    search = FaqSearchService(
        repository,
        IndexStore(settings.index_dir, embedder),
        embedder,
        thresholds,
        EmbeddingCache(settings.index_dir / "embeddings.sqlite3"),
        calibrate=settings.calibrate_margin,
    )
    return repository, search


@contextlib.asynccontextmanager
async def open_database(
    settings: Settings, migrate: bool = True
) -> AsyncIterator[tuple[AsyncEngine, SessionFactory]]:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = create_engine(settings.resolved_database_url, synchronous=settings.sqlite_synchronous)
    try:
        if migrate:
            await upgrade(engine)
        yield engine, create_session_factory(engine)
    finally:
        await engine.dispose()


@contextlib.asynccontextmanager
async def open_rasa_dialogue(
    settings: Settings, fallback: DialogueEngine
) -> AsyncIterator[ResilientDialogueEngine]:
    """Rasa, with ``fallback`` answering whenever Rasa or the action server cannot."""
    async with contextlib.AsyncExitStack() as stack:
        rasa = await stack.enter_async_context(
            RasaDialogueEngine(settings.rasa_url, timeout=settings.rasa_timeout)
        )
        health = RasaHealth(
            settings.rasa_url, settings.action_server_url, timeout=settings.rasa_timeout
        )
        stack.push_async_callback(health.aclose)
        yield await stack.enter_async_context(ResilientDialogueEngine(rasa, fallback, health))


@contextlib.asynccontextmanager
async def open_services(
    settings: Settings,
    *,
    with_redis: bool = True,
    embedder: Embedder | None = None,
    with_rasa: bool | None = None,
    metrics: Metrics | None = None,
) -> AsyncIterator[Services]:
    """Everything a bot process needs, closed again on exit. The dialogue goes through
    Rasa when ``with_rasa`` (by default ``settings.rasa``), else the knowledge base.
    ``metrics`` are the process's own when it built them; else new ones."""
    async with contextlib.AsyncExitStack() as stack:
        engine, sessions = await stack.enter_async_context(open_database(settings))
        redis = None
        if with_redis:
            redis = await stack.enter_async_context(
                open_redis(settings.redis_url, settings.data_dir)
            )
        embedder = embedder or create_embedder(
            settings.embedder, settings.embedder_model, settings.embedder_threads
        )
        faq_repository, faq = build_faq(settings, sessions, embedder)
        dialogue: DialogueEngine = RetrievalEngine(FaqResponder(faq, sessions))
        if settings.rasa if with_rasa is None else with_rasa:
            dialogue = await stack.enter_async_context(open_rasa_dialogue(settings, dialogue))
        worker = Worker.current()
        metrics = metrics or Metrics()
        metrics.follow_searches(faq.stats)
        handoff = HandoffService(SlaPolicy.from_settings(settings))
        conversation = ConversationService(
            sessions,
            ConversationRepository(sessions, timedelta(hours=settings.reopen_hours)),
            dialogue,
            faq,
            handoff,
            settings.org_name,
            metrics,
        )
        yield Services(
            settings=settings,
            engine=engine,
            sessions=sessions,
            redis=redis,
            embedder=embedder,
            faq_repository=faq_repository,
            faq=faq,
            inbox=InboxRepository(sessions, worker),
            outbox=OutboxRepository(sessions, worker),
            dialogue=dialogue,
            conversation=conversation,
            metrics=metrics,
            handoff=handoff,
            operators=OperatorService(sessions),
            senders=Senders(),
        )


async def serve_process_metrics(services: Services, stop: asyncio.Event) -> None:
    """Serve the process's metrics where the settings say (``DJINN_METRICS_HOST``,
    ``DJINN_METRICS_PORT``) until ``stop`` is set; ``djinn_rasa_up`` when the dialogue
    goes through Rasa."""
    settings, dialogue = services.settings, services.dialogue
    rasa_up = (
        (lambda: not dialogue.degraded) if isinstance(dialogue, ResilientDialogueEngine) else None
    )
    await serve_metrics(
        services.metrics,
        services.sessions,
        host=settings.metrics_host,
        port=settings.metrics_port,
        stop=stop,
        rasa_up=rasa_up,
    )
