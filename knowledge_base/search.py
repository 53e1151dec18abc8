"""The knowledge-base search a running bot uses: the current index snapshot, the
decision on top of it, and reloading when the knowledge base changes."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, replace

from core.domain import Decision
from knowledge_base.calibration import calibrate
from knowledge_base.decision import Thresholds, decide
from knowledge_base.duplicates import NearDuplicate, near_duplicates
from knowledge_base.embedder import Embedder, Progress
from knowledge_base.embedding_cache import EmbeddingCache
from knowledge_base.index import FaissFaqIndex, Hit, IndexedEntry
from knowledge_base.learning import LearningJob
from knowledge_base.repository import FaqRepository
from knowledge_base.store import IndexStore

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SearchResult:
    """A query, what was searched for, the hits and the decision."""

    query: str
    prepared: str
    hits: list[Hit]
    decision: Decision
    kb_version: int


@dataclass(slots=True)
class SearchStats:
    """What this process's searches have cost since it started (the metrics
    ``djinn_searches_total``, ``djinn_search_cpu_seconds_total`` and
    ``djinn_search_seconds_total``).

    Attributes:
        searches: Searches done.
        cpu_seconds: CPU time they took in the thread that ran each: cleaning the
            question, embedding it, FAISS and the lexical scores. The query embedding is
            nearly all of it, so its rate is how many cores citizens' questions keep
            busy (with ``DJINN_EMBEDDER_THREADS`` above 1 the engine's other threads are
            not counted).
        seconds: Their wall time, waiting for a free thread included.
    """

    searches: int = 0
    cpu_seconds: float = 0.0
    seconds: float = 0.0


class FaqSearchService:
    """Searches the current knowledge base and keeps the index in step with it.

    Args:
        repository: The FAQ in the database (the source of truth).
        store: Index snapshots in the data directory.
        embedder: The process's embedder (loaded once).
        thresholds: Decision thresholds (their fusion weight is used too).
        cache: Embedding cache used when a snapshot has to be built.
        calibrate: Calibrate the answer margin on each new version of the knowledge
            base (`knowledge_base.calibration`) as its snapshot is built.
    """

    def __init__(
        self,
        repository: FaqRepository,
        store: IndexStore,
        embedder: Embedder,
        thresholds: Thresholds,
        cache: EmbeddingCache | None = None,
        *,
        calibrate: bool = False,
    ) -> None:
        self._repository = repository
        self._store = store
        self._embedder = embedder
        self.thresholds = thresholds
        self._cache = cache
        self._calibrate = calibrate
        self._index: FaissFaqIndex | None = None
        self._refresh_lock = asyncio.Lock()
        self.stats = SearchStats()

    @property
    def version(self) -> int | None:
        return self._index.version if self._index else None

    @property
    def embedder(self) -> Embedder:
        return self._embedder

    @property
    def cache(self) -> EmbeddingCache | None:
        return self._cache

    async def near_duplicates(self) -> list[NearDuplicate]:
        """Near-duplicate entries of the loaded knowledge base (`knowledge_base.duplicates`)."""
        if self._index is None:
            await self.refresh()
        assert self._index is not None
        entries = self._index.entries
        return await asyncio.to_thread(near_duplicates, entries, self._embedder, self._cache)

    def learning_job(self) -> LearningJob:
        """Learning from use for this knowledge base (`knowledge_base.learning`)."""
        return LearningJob(
            self._repository.sessions, self._embedder, self.thresholds.answer, self._cache
        )

    def entry(self, entry_id: int) -> IndexedEntry | None:
        """A published entry of the loaded snapshot by id."""
        return self._index.entry(entry_id) if self._index else None

    async def search(self, query: str, top_k: int = 5) -> SearchResult:
        """Search for ``query`` and decide what to do with the hits."""
        if self._index is None:
            await self.refresh()
        index = self._index
        assert index is not None
        started = time.perf_counter()
        (prepared, hits), cpu = await asyncio.to_thread(_timed_search, index, query, top_k)
        self.stats.searches += 1
        self.stats.cpu_seconds += cpu
        self.stats.seconds += time.perf_counter() - started
        decision = decide(hits, self.thresholds_for(index))
        return SearchResult(query, prepared, hits, decision, index.version)

    def thresholds_for(self, index: FaissFaqIndex | None = None) -> Thresholds:
        """The thresholds with the margin calibrated on the loaded knowledge base (or
        ``index``): measured on citizens' verdicts once there are enough of them, else
        on the entries' probes and never below the recorded one; the recorded ones when
        this service does not calibrate."""
        if not self._calibrate:
            return self.thresholds
        index = index or self._index
        margin = index.meta.margin if index is not None else None
        if margin is None:
            return self.thresholds
        if index is not None and index.meta.margin_source == "use":
            return replace(self.thresholds, margin=margin)
        if margin <= self.thresholds.margin:
            return self.thresholds
        return replace(self.thresholds, margin=margin)

    async def refresh(self, progress: Progress | None = None) -> bool:
        """Bring the index up to the database's version; True when it changed.

        Loads the snapshot another process already built when there is one, else
        builds it from the database (and publishes it for the others).
        """
        async with self._refresh_lock:
            version = await self._repository.current_version()
            if self._index is not None and self._index.version == version:
                return False
            fusion = self.thresholds.fusion
            if self._store.has(version):
                try:
                    index = await asyncio.to_thread(self._store.load, version, fusion)
                except (OSError, ValueError) as error:
                    log.warning("index snapshot v%s unreadable (%s); rebuilding", version, error)
                    index = await self._build(progress)
            else:
                index = await self._build(progress)
            if self._calibrate and index.meta.margin is None:
                # A snapshot built without calibration (by an older Djinn, or with it
                # off): calibrated here, for this process.
                await self._calibrate_margin(index)
            self._index = index
            log.info("knowledge base v%s loaded: %s entries", index.version, index.meta.entries)
            return True

    async def _build(self, progress: Progress | None) -> FaissFaqIndex:
        version, entries = await self._repository.published()
        index = await asyncio.to_thread(
            FaissFaqIndex.build, entries, self._embedder, version, self._cache, progress
        )
        index.fusion = self.thresholds.fusion
        if self._calibrate:
            await self._calibrate_margin(index)
        await asyncio.to_thread(self._store.publish, index)
        return index

    async def _calibrate_margin(self, index: FaissFaqIndex) -> None:
        use_margin = await self._repository.use_margin()
        if use_margin is not None:
            index.meta.margin, index.meta.margin_source = use_margin, "use"
            log.info(
                "knowledge base v%s: answer margin %.4f measured on citizens' verdicts",
                index.version,
                use_margin,
            )
            return
        calibration = await asyncio.to_thread(
            calibrate, index, self._embedder, self.thresholds, self._cache
        )
        index.meta.margin, index.meta.margin_source = calibration.margin, "probes"
        log.info(
            "knowledge base v%s calibrated on %s probes: answer margin %.4f",
            index.version,
            calibration.probes,
            calibration.margin,
        )

    async def watch(
        self, stop: asyncio.Event, interval: float, wake: asyncio.Event | None = None
    ) -> None:
        """Refresh whenever ``wake`` is set (a change notice) or every ``interval`` s."""
        while not stop.is_set():
            waiters = [asyncio.ensure_future(stop.wait())]
            if wake is not None:
                waiters.append(asyncio.ensure_future(wake.wait()))
            _, pending = await asyncio.wait(
                waiters, timeout=interval, return_when=asyncio.FIRST_COMPLETED
            )
            for waiter in pending:
                waiter.cancel()
            if wake is not None:
                wake.clear()
            if stop.is_set():
                return
            try:
                await self.refresh()
            except Exception:  # a failed reload must not take the bot down
                log.exception("knowledge base reload failed; keeping v%s", self.version)


def _timed_search(
    index: FaissFaqIndex, query: str, top_k: int
) -> tuple[tuple[str, list[Hit]], float]:
    """``index.search`` and the CPU time it took in this thread."""
    started = time.thread_time()
    found = index.search(query, top_k)
    return found, time.thread_time() - started
