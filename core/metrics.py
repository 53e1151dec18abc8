"""Prometheus metrics of a bot process and the HTTP endpoint that serves them.

The composition root builds one `Metrics` per process; the code that stores messages,
runs turns and delivers replies updates its counters and histograms. What the database
holds (replies waiting or given up, updates pending or quarantined) is read afresh on
every scrape, so the gauges stay true across restarts and across several processes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from core.db import SessionFactory
from core.domain import Channel, DeliveryStatus, Direction
from core.models import InboxUpdate, Message

log = logging.getLogger(__name__)

DELIVERY_OUTCOMES = ("sent", "blocked", "failed")
RETRY_REASONS = ("rate_limited", "unavailable")
# A turn answered from the knowledge base takes tens of milliseconds; one waiting for
# Rasa up to its timeout and then the fallback; past 30 s something is stuck.
TURN_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0)
# Deliveries include the pauses a 429 or an outage imposes, so the range goes further.
DELIVERY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0)
# Which gauge counts outbound messages / inbox updates of each status.
_REPLY_GAUGES: dict[str, str] = {
    DeliveryStatus.PENDING: "replies_pending",
    DeliveryStatus.FAILED: "replies_given_up",
    DeliveryStatus.BLOCKED: "replies_blocked",
}
_INBOX_GAUGES: dict[str, str] = {"pending": "inbox_backlog", "quarantined": "inbox_quarantined"}


@dataclass(frozen=True, slots=True)
class Backlog:
    """What the database holds at one moment, per channel; each field is the gauge
    ``djinn_<field>``. A channel without such rows is absent from a field.

    Attributes:
        replies_pending: Outbound messages with delivery status ``pending``.
        replies_given_up: Outbound messages with delivery status ``failed``.
        replies_blocked: Outbound messages with delivery status ``blocked``.
        inbox_backlog: Inbox updates with status ``pending``.
        inbox_quarantined: Inbox updates with status ``quarantined``.
        inbox_oldest_pending_seconds: The age of the oldest pending inbox update.
    """

    replies_pending: dict[str, float] = field(default_factory=dict)
    replies_given_up: dict[str, float] = field(default_factory=dict)
    replies_blocked: dict[str, float] = field(default_factory=dict)
    inbox_backlog: dict[str, float] = field(default_factory=dict)
    inbox_quarantined: dict[str, float] = field(default_factory=dict)
    inbox_oldest_pending_seconds: dict[str, float] = field(default_factory=dict)


_BACKLOG_HELP = {
    "replies_pending": "Replies stored and not yet delivered.",
    "replies_given_up": "Replies given up after their last delivery attempt.",
    "replies_blocked": "Replies not delivered because the citizen blocked the bot.",
    "inbox_backlog": "Citizens' updates received and not yet handled.",
    "inbox_quarantined": "Citizens' updates set aside after their last attempt.",
    "inbox_oldest_pending_seconds": "Age of the oldest update not yet handled; 0 if none.",
}


async def read_backlog(sessions: SessionFactory, *, now: datetime | None = None) -> Backlog:
    """Count the outbox and the inbox, one grouped query per table.

    Args:
        sessions: The database.
        now: The moment ages are measured from; the current time by default.
    """
    now = now or datetime.now(UTC)
    replies = (
        select(Message.channel, Message.delivery_status, func.count())
        .where(
            Message.direction == Direction.OUT, Message.delivery_status.in_(list(_REPLY_GAUGES))
        )
        .group_by(Message.channel, Message.delivery_status)
    )
    inbox = (
        select(
            InboxUpdate.channel,
            InboxUpdate.status,
            func.count(),
            func.min(InboxUpdate.received_at),
        )
        .where(InboxUpdate.status.in_(list(_INBOX_GAUGES)))
        .group_by(InboxUpdate.channel, InboxUpdate.status)
    )
    async with sessions() as session:
        reply_rows = (await session.execute(replies)).all()
        inbox_rows = (await session.execute(inbox)).all()
    backlog = Backlog()
    for channel, delivery_status, count in reply_rows:
        getattr(backlog, _REPLY_GAUGES[str(delivery_status)])[channel] = count
    for channel, status, count, oldest in inbox_rows:
        getattr(backlog, _INBOX_GAUGES[status])[channel] = count
        if status == "pending" and oldest is not None:
            # SQLite hands back the stored UTC time without its zone.
            oldest = oldest if oldest.tzinfo else oldest.replace(tzinfo=UTC)
            age = max((now - oldest).total_seconds(), 0.0)
            backlog.inbox_oldest_pending_seconds[channel] = age
    return backlog


class SearchCounts(Protocol):
    """Running totals of the knowledge-base searches (`knowledge_base.search.SearchStats`)."""

    searches: int
    cpu_seconds: float
    seconds: float


class _SearchCollector(Collector):
    """The knowledge base's search counters, read from its running totals at scrape time."""

    def __init__(self, counts: SearchCounts) -> None:
        self._counts = counts

    def collect(self) -> Iterator[Metric]:
        counts = self._counts
        yield CounterMetricFamily(
            "djinn_searches", "Knowledge-base searches done.", value=counts.searches
        )
        yield CounterMetricFamily(
            "djinn_search_cpu_seconds",
            "CPU seconds the knowledge-base searches took (cleaning, query embedding, FAISS, "
            "lexical scores): its rate is the cores citizens' questions keep busy.",
            value=counts.cpu_seconds,
        )
        yield CounterMetricFamily(
            "djinn_search_seconds",
            "Wall seconds of the knowledge-base searches, waiting for a free thread included.",
            value=counts.seconds,
        )


@dataclass(frozen=True, slots=True)
class _Scrape:
    backlog: Backlog | None
    rasa_up: bool | None


class _ScrapeCollector(Collector):
    """The gauges read at scrape time; nothing until the first scrape sets them."""

    def __init__(self) -> None:
        self.scrape: _Scrape | None = None

    def collect(self) -> Iterator[Metric]:
        scrape = self.scrape
        if scrape is None:
            return
        yield GaugeMetricFamily(
            "djinn_database_up",
            "1 if the database answered this scrape's queries, else 0 (the gauges read "
            "from it are then absent).",
            value=int(scrape.backlog is not None),
        )
        if scrape.rasa_up is not None:
            yield GaugeMetricFamily(
                "djinn_rasa_up",
                "1 while the dialogue goes through Rasa, 0 while the knowledge base stands in "
                "for it; absent when this process does not use Rasa.",
                value=int(scrape.rasa_up),
            )
        if scrape.backlog is not None:
            yield from _backlog_families(scrape.backlog)


def _backlog_families(backlog: Backlog) -> Iterator[Metric]:
    # Every known channel gets a series, so that "> 0" alerts see a 0 before the first row.
    channels = {str(channel) for channel in Channel}
    for name in _BACKLOG_HELP:
        channels.update(getattr(backlog, name))
    for name, documentation in _BACKLOG_HELP.items():
        values: dict[str, float] = getattr(backlog, name)
        family = GaugeMetricFamily(f"djinn_{name}", documentation, labels=["channel"])
        for channel in sorted(channels):
            family.add_metric([channel], values.get(channel, 0))
        yield family


class Metrics:
    """The process's metrics, in a registry of their own (never the global default).

    Counters and histograms are labelled by ``channel`` (``telegram``, ``vk``); use them
    as ``metrics.messages_in.labels(channel="vk").inc()``.

    Attributes:
        registry: The registry `render` and the endpoint serve.
        messages_in: Counter{channel}: citizens' messages stored.
        messages_out: Counter{channel, status}: reply deliveries by outcome, ``sent``,
            ``blocked`` (the citizen blocked the bot) or ``failed`` (given up).
        turn_seconds: Histogram{channel}: from a message being stored to its replies
            committed.
        turn_retries: Counter{channel}: turns attempted again after a failure or crash.
        turns_quarantined: Counter{channel}: updates set aside after their last attempt.
        reply_retries: Counter{channel, reason}: reply attempts that will be retried,
            ``rate_limited`` (429) or ``unavailable`` (network, 5xx).
        reply_latency_seconds: Histogram{channel}: from a reply stored to it delivered.
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        registry = self.registry
        self.messages_in = Counter(
            "djinn_messages_in", "Citizens' messages stored.", ["channel"], registry=registry
        )
        self.messages_out = Counter(
            "djinn_messages_out",
            "Reply deliveries by outcome: sent, blocked (the citizen blocked the bot) or "
            "failed (given up).",
            ["channel", "status"],
            registry=registry,
        )
        self.turn_seconds = Histogram(
            "djinn_turn_seconds",
            "Seconds from a citizen's message being stored to its replies committed.",
            ["channel"],
            buckets=TURN_BUCKETS,
            registry=registry,
        )
        self.turn_retries = Counter(
            "djinn_turn_retries",
            "Turns attempted again after a failure or a crash.",
            ["channel"],
            registry=registry,
        )
        self.turns_quarantined = Counter(
            "djinn_turns_quarantined",
            "Citizens' updates set aside after their last attempt.",
            ["channel"],
            registry=registry,
        )
        self.reply_retries = Counter(
            "djinn_reply_retries",
            "Reply delivery attempts that will be retried, by reason: rate_limited or "
            "unavailable.",
            ["channel", "reason"],
            registry=registry,
        )
        self.reply_latency_seconds = Histogram(
            "djinn_reply_latency_seconds",
            "Seconds from a reply being stored to it being delivered.",
            ["channel"],
            buckets=DELIVERY_BUCKETS,
            registry=registry,
        )
        self._scrape = _ScrapeCollector()
        registry.register(self._scrape)
        self._searches: _SearchCollector | None = None
        self._zero_known_series()

    def follow_searches(self, counts: SearchCounts) -> None:
        """Serve ``counts`` (the process's knowledge-base search totals) as
        ``djinn_searches_total``, ``djinn_search_cpu_seconds_total`` and
        ``djinn_search_seconds_total``; a later call replaces an earlier one."""
        if self._searches is not None:
            self.registry.unregister(self._searches)
        self._searches = _SearchCollector(counts)
        self.registry.register(self._searches)

    def _zero_known_series(self) -> None:
        # A series that exists at 0 lets rate() and alerts see its first increment.
        for channel in Channel:
            for metric in (self.messages_in, self.turn_retries, self.turns_quarantined):
                metric.labels(channel=channel)
            for histogram in (self.turn_seconds, self.reply_latency_seconds):
                histogram.labels(channel=channel)
            for status in DELIVERY_OUTCOMES:
                self.messages_out.labels(channel=channel, status=status)
            for reason in RETRY_REASONS:
                self.reply_retries.labels(channel=channel, reason=reason)

    def render(self, backlog: Backlog | None, rasa_up: bool | None = None) -> bytes:
        """Every metric in the Prometheus text format.

        Args:
            backlog: The database gauges; None when the database did not answer, which
                renders ``djinn_database_up 0`` and leaves those gauges out.
            rasa_up: Whether Rasa answers; None leaves ``djinn_rasa_up`` out.
        """
        self._scrape.scrape = _Scrape(backlog, rasa_up)
        return generate_latest(self.registry)


class MetricsServer:
    """``GET /metrics`` (the Prometheus text format) and ``GET /health`` over HTTP.

    Args:
        metrics: What to serve.
        sessions: The database the backlog gauges are read from on each scrape.
        rasa_up: Tells whether Rasa answers (``lambda: not engine.degraded``); None
            when the process does not use Rasa, which leaves ``djinn_rasa_up`` out.
        query_timeout: Seconds a scrape waits for the database before it answers
            without the database gauges.
    """

    def __init__(
        self,
        metrics: Metrics,
        sessions: SessionFactory,
        *,
        rasa_up: Callable[[], bool] | None = None,
        query_timeout: float = 5.0,
    ) -> None:
        self._metrics = metrics
        self._sessions = sessions
        self._rasa_up = rasa_up
        self._query_timeout = query_timeout
        self._database_up = True

    def application(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/metrics", self._serve_metrics)
        app.router.add_get("/health", self._serve_health)
        return app

    async def serve(self, host: str, port: int, stop: asyncio.Event) -> None:
        """Serve until ``stop`` is set. A port that cannot be bound is logged and the
        method returns: a bot without metrics beats a bot that does not start."""
        runner = web.AppRunner(self.application(), access_log=None)
        await runner.setup()
        try:
            try:
                await web.TCPSite(runner, host, port).start()
            except OSError as error:
                log.warning(
                    "metrics are not served: cannot listen on %s:%s (%s)", host, port, error
                )
                return
            log.info("metrics served at http://%s:%s/metrics", host, port)
            await stop.wait()
        finally:
            await runner.cleanup()

    async def _serve_metrics(self, _request: web.Request) -> web.Response:
        backlog = await self._read_backlog()
        rasa_up = None if self._rasa_up is None else bool(self._rasa_up())
        body = self._metrics.render(backlog, rasa_up)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _serve_health(self, _request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def _read_backlog(self) -> Backlog | None:
        try:
            async with asyncio.timeout(self._query_timeout):
                backlog = await read_backlog(self._sessions)
        except Exception as error:  # whatever the database does, the counters are served
            if self._database_up:
                log.warning("metrics: the database does not answer (%r)", error)
            self._database_up = False
            return None
        if not self._database_up:
            log.info("metrics: the database answers again")
        self._database_up = True
        return backlog


async def serve_metrics(
    metrics: Metrics,
    sessions: SessionFactory,
    *,
    host: str,
    port: int,
    stop: asyncio.Event,
    rasa_up: Callable[[], bool] | None = None,
) -> None:
    """Serve ``metrics`` on ``http://host:port/metrics`` until ``stop`` is set.

    Args:
        metrics: The process's metrics.
        sessions: The database the backlog gauges are read from on each scrape.
        host: The address to listen on.
        port: The port; when it is taken a warning is logged and this returns at once.
        stop: Set to stop serving.
        rasa_up: See `MetricsServer`.
    """
    await MetricsServer(metrics, sessions, rasa_up=rasa_up).serve(host, port, stop)
