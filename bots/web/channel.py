"""The widget's channel: what a visitor's socket or long poll may ask for (open a
session, send, upload a photo, wait for news), with its checks — the token, the
allowed sites, the limits, the personal-data notice — and the loops that answer."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter

from bots.conversation import ConversationHandler
from bots.inbox import InboxPolicy, InboxWorker
from bots.loops import running_channel
from bots.operator_files import operator_downloads
from bots.outbox import OutboxPolicy, Senders
from bots.web import frames
from bots.web.config import warn_about_contrast, widget_config, widget_problem
from bots.web.hub import Connection, VisitorHub
from bots.web.limits import Refused, WidgetLimits
from bots.web.mappers import payload_of, update_key
from bots.web.photos import FILES_PATH, PhotoRefused, PhotoStore, check
from bots.web.processing import CHANNEL, WebEvents
from bots.web.texts import BAD_TOKEN, CONSENT_REQUIRED, PHOTO_MISSING, UNAVAILABLE
from bots.web.tokens import VisitorTokens, signing_key
from bots.web.transport import WebTransport
from bots.web.visitors import VisitorRepository
from core.db import SessionFactory
from core.inbox import InboxRepository
from core.metrics import Metrics
from core.models import utcnow
from core.outbox import OutboxRepository
from core.settings import Settings

log = logging.getLogger(__name__)

DAY = 86400.0
# Replies go to sockets, not to a platform with a flood limit: the pace only keeps a
# runaway loop from flooding the visitors.
SEND_RATE = 500.0
SEND_LANES = 64
# Thousands of open sockets keep many objects alive, which the garbage collector walks
# at every full collection (up to 0.7 s each, every second or two under load with the
# default thresholds). Collecting the youngest generation every 50,000 allocations
# instead of 700 lets a turn's objects die young, so few reach the oldest generation and
# full collections become rare. The middle generation is collected every 5 of those
# (Python: 10): a burst of new sockets (the widgets of every open page
# reconnecting after a restart) then reaches the oldest generation in collections of
# about 0.15 s instead of one of 0.6 s (bench/README.md, «Website widget»).
GC_THRESHOLDS = (50_000, 5, 100)


class Refusal(Exception):
    """What the widget refuses, with what the visitor reads and the HTTP status."""

    def __init__(
        self, code: str, message: str, status: int, retry_after: float | None = None
    ) -> None:
        super().__init__(code)
        self.code = code
        self.message = message
        self.status = status
        self.retry_after = retry_after

    @classmethod
    def limited(cls, refused: Refused) -> Refusal:
        return cls("rate_limited", refused.message, 429, refused.retry_after)

    def frame(self, client_id: str | None = None) -> dict[str, Any]:
        return frames.error(self.code, self.message, client_id, self.retry_after)


@dataclass(frozen=True, slots=True)
class Opened:
    """A visitor's session: a fresh token, whether they accepted the notice, the history
    (when it was read)."""

    visitor: str
    token: str
    consent: bool
    messages: list[dict[str, Any]]

    def frame(self) -> dict[str, Any]:
        return {"type": "ready", "token": self.token, "consent": self.consent,
                "messages": self.messages}  # fmt: skip


class WebChannel:
    """The widget's side of the conversation service.

    Args:
        settings: The process's settings (``DJINN_WIDGET_*``).
        sessions: The database.
        conversation: The conversation service.
        inbox: Visitors' messages are made durable here before they are acknowledged.
        outbox: Replies wait here until pushed.
        key: The signing key of visitors' tokens (`tokens.signing_key`).
        metrics: The process's metrics.
        senders: The process's senders (an operator's answer wakes this channel's).
    """

    def __init__(
        self,
        settings: Settings,
        sessions: SessionFactory,
        conversation: ConversationHandler,
        inbox: InboxRepository,
        outbox: OutboxRepository,
        *,
        key: bytes,
        metrics: Metrics | None = None,
        senders: Senders | None = None,
    ) -> None:
        self.settings = settings
        self.origins = frozenset(settings.widget_origin_list())
        self.tokens = VisitorTokens(key, settings.widget_token_days * DAY)
        self.limits = WidgetLimits.from_settings(settings)
        self.hub = VisitorHub()
        self.photos = PhotoStore(settings.data_dir / "widget" / "photos", key)
        self.visitors = VisitorRepository(sessions, self.photos)
        self._sessions = sessions
        self._conversation = conversation
        self._inbox = inbox
        self._outbox = outbox
        self._metrics = metrics
        self._senders = senders
        self._worker: InboxWorker | None = None

    @classmethod
    def build(
        cls,
        settings: Settings,
        sessions: SessionFactory,
        conversation: ConversationHandler,
        inbox: InboxRepository,
        outbox: OutboxRepository,
        *,
        metrics: Metrics | None = None,
        senders: Senders | None = None,
    ) -> WebChannel | None:
        """The channel as the settings describe it; None when it is off or cannot run
        (the log says why)."""
        problem = widget_problem(settings)
        if problem is not None:
            log.warning("widget: off — %s", problem)
            return None
        key = signing_key(settings)
        assert key is not None
        warn_about_contrast(settings)
        return cls(settings, sessions, conversation, inbox, outbox, key=key,
                   metrics=metrics, senders=senders)  # fmt: skip

    def router(self) -> APIRouter:
        """The widget's pages, API and socket, for the web admin's server."""
        from bots.web.http import router

        return router(self)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """The inbox worker and the outbox sender of the widget, from entry to exit."""
        async with contextlib.AsyncExitStack() as stack:
            download = await stack.enter_async_context(operator_downloads(self.settings))
            transport = WebTransport(self.hub, self._sessions, self.photos, download=download)
            running = await stack.enter_async_context(
                running_channel(
                    CHANNEL,
                    transport,
                    lambda sender: WebEvents(self._conversation, sender.wake),
                    self._conversation,
                    self._inbox,
                    self._outbox,
                    # Four turns at a time, as every channel: turns wait for the CPU (the
                    # search) and the database, and more at once only queue there
                    # (bench/README.md, «Durability»).
                    inbox_policy=InboxPolicy.from_settings(self.settings),
                    outbox_policy=dataclasses.replace(
                        OutboxPolicy.from_settings(self.settings),
                        rate=SEND_RATE,
                        lanes=SEND_LANES,
                    ),
                    metrics=self._metrics,
                    senders=self._senders,
                )
            )
            thresholds = gc.get_threshold()
            gc.set_threshold(*GC_THRESHOLDS)
            # What the process holds at this point (the libraries, the knowledge base)
            # lives as long as it does: out of the collector's sight, a full collection
            # walks only what came since (bench/README.md, «Website widget»).
            gc.freeze()
            self._worker = running.worker
            try:
                yield
            finally:
                self._worker = None
                gc.unfreeze()
                gc.set_threshold(*thresholds)

    def config(self) -> dict[str, Any]:
        """What the widget shows before it connects (`config.widget_config`)."""
        return widget_config(self.settings)

    def allowed(self, origin: str | None, own: str | None) -> bool:
        """Whether a page of ``origin`` may use the widget: a site of
        ``DJINN_WIDGET_ORIGINS`` or this server's own (``own``: the demo page)."""
        if origin is None:
            return False
        return origin in self.origins or (own is not None and origin == own)

    async def open(self, token: str | None, address: str) -> Opened:
        """A session for the visitor ``token`` names, or for a new one without a token;
        its history is read with `history` (after the socket listens for news).

        Raises:
            Refusal: The token is not good (``bad_token``), or the address starts new
                conversations too often.
        """
        if token is None:
            refused = self.limits.new_token(address)
            if refused is not None:
                raise Refusal.limited(refused)
            new = self.tokens.new_visitor()
            await self.visitors.create(new)
            return Opened(new, self.tokens.issue(new), False, [])
        visitor = self.tokens.visitor(token)
        state = await self.visitors.get(visitor) if visitor is not None else None
        if state is None:
            raise Refusal("bad_token", BAD_TOKEN, 401)
        return Opened(
            state.id, self.tokens.issue(state.id), state.notice_accepted_at is not None, []
        )

    async def history(self, opened: Opened) -> Opened:
        """The session with the visitor's latest messages."""
        messages = await self.visitors.history(opened.visitor)
        return dataclasses.replace(opened, messages=messages)

    def visitor_of(self, token: str | None) -> str:
        """The visitor of a long poll's token.

        Raises:
            Refusal: It is not good.
        """
        visitor = self.tokens.visitor(token)
        if visitor is None:
            raise Refusal("bad_token", BAD_TOKEN, 401)
        return visitor

    async def receive(
        self,
        visitor: str,
        frame: frames.Outgoing,
        address: str,
        base_url: str,
        source: Connection | None = None,
        consented: bool = False,
    ) -> None:
        """Take the visitor's message: once it returns, the message is stored and will be
        answered; the visitor's other tabs see it at once. ``consented``: the caller
        knows the visitor accepted the notice (a socket learns it at its hello), so
        their record need not be read again.

        Raises:
            Refusal: Over a limit, without consent to the notice, a photo that is not
                theirs, or the database cannot store it now.
        """
        worker = self._worker
        if worker is None:
            raise Refusal("unavailable", UNAVAILABLE, 503)
        refused = self.limits.message(visitor, address)
        if refused is not None:
            raise Refusal.limited(refused)
        if not consented:
            await self._consent(visitor, frame)
        photo = None
        if frame.file is not None:
            if not self.photos.owned(frame.file, visitor):
                raise Refusal("photo_missing", PHOTO_MISSING, 400)
            photo = FILES_PATH + frame.file
        at = utcnow()
        base = (self.settings.widget_public_url or base_url).rstrip("/")
        payload = payload_of(visitor, frame, base + photo if photo else None, at)
        try:
            await worker.accept([(update_key(visitor, frame.client_id), payload)])
        except Exception as error:
            log.warning("widget: a message not stored: %s", type(error).__name__)
            raise Refusal("unavailable", UNAVAILABLE, 503) from error
        echo = frames.message(id=None, sender="visitor", text=frame.text, at=at,
                              client_id=frame.client_id, photo=photo)  # fmt: skip
        self.hub.push(visitor, echo, skip=source)

    async def _consent(self, visitor: str, frame: frames.Outgoing) -> None:
        """Make sure the visitor accepted the notice: now, with this message, when they
        had not before and the message says they saw it."""
        state = await self.visitors.get(visitor)
        if state is None:
            raise Refusal("bad_token", BAD_TOKEN, 401)
        if state.notice_accepted_at is None:
            if not frame.consent:
                raise Refusal("consent_required", CONSENT_REQUIRED, 403)
            await self.visitors.accept_notice(visitor, self.settings.widget_privacy_url)

    async def upload(self, visitor: str, data: bytes, declared: str | None, address: str) -> str:
        """Keep a visitor's photo for a ``photo`` frame to send; its name.

        Raises:
            Refusal: Over a limit, or not a photo the widget takes.
        """
        refused = self.limits.message(visitor, address)
        if refused is not None:
            raise Refusal.limited(refused)
        try:
            extension = check(data, declared)
        except PhotoRefused as error:
            raise Refusal(error.code, error.message, error.status) from None
        return await self.photos.save(visitor, data, extension)

    async def events(self, visitor: str, after: int, hold: float) -> list[dict[str, Any]]:
        """The visitor's messages after ``after``; when there are none yet, waits up to
        ``hold`` seconds for one (a long poll)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + hold
        with self.hub.waiting(visitor) as pushed:
            while True:
                pushed.clear()  # before the look: a push during it is not missed
                found = await self.visitors.history(visitor, after)
                remaining = deadline - loop.time()
                if found or remaining <= 0:
                    return found
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(remaining):
                        await pushed.wait()
