"""`FakeTelegram`: a Bot API server on 127.0.0.1 for tests, benchmarks and local demos."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, Self

from aiohttp import ClientSession, web

from tools.fake_telegram.citizens import Citizen
from tools.fake_telegram.control import add_control_routes
from tools.fake_telegram.errors import ApiError, status_error
from tools.fake_telegram.files import add_file_routes
from tools.fake_telegram.forum import Operator, delete_topic, forum_group
from tools.fake_telegram.limits import (
    SENDING_METHODS,
    TELEGRAM_LIMITS,
    Clock,
    FloodControl,
    RateLimits,
)
from tools.fake_telegram.methods import METHODS, Method
from tools.fake_telegram.params import UPLOAD_LIMIT, read_params, recordable
from tools.fake_telegram.state import FakeState, Fault, RecordedRequest, Topic
from tools.fake_telegram.webhook import deliver_updates

DEFAULT_TOKEN = "123456789:AAFakeTelegramTokenForDjinnTests0000"
# A request may carry a file of up to UPLOAD_LIMIT and the other fields of a message.
BODY_LIMIT = UPLOAD_LIMIT + 1024**2


class FakeTelegram:
    """Speaks the part of the Bot API the bot uses at ``<api_url>/bot<token>/<method>``.

    With ``token=None`` any token is accepted (handy for demos). ``first_id`` is where
    update ids and the serials behind file ids and callback query ids start: fakes
    started one after another that feed one database (as one bot's updates would) need
    ids that do not repeat, as Telegram's never do.

    ``rate_limits`` are Telegram's flood limits on sending messages (see `RateLimits`);
    ``None`` lifts them. ``clock`` is what their windows are measured by.
    """

    def __init__(
        self,
        token: str | None = DEFAULT_TOKEN,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        bot_username: str = "djinn_test_bot",
        webhook_retry_delay: float = 0.1,
        first_id: int = 1,
        rate_limits: RateLimits | None = TELEGRAM_LIMITS,
        clock: Clock = time.monotonic,
    ) -> None:
        self.token = token
        self.host = host
        self.port = port
        self.webhook_retry_delay = webhook_retry_delay
        bot_id = int((token or DEFAULT_TOKEN).split(":", 1)[0])
        self.state = FakeState(
            bot_user={
                "id": bot_id,
                "is_bot": True,
                "first_name": "Джинн",
                "username": bot_username,
            },
            _update_ids=itertools.count(first_id),
            _serials=itertools.count(first_id),
        )
        self.rate_limits = rate_limits
        self._flood = (
            FloodControl(rate_limits, self.state.chats, clock) if rate_limits is not None else None
        )
        self._runner: web.AppRunner | None = None
        self._client: ClientSession | None = None
        self._webhook_task: asyncio.Task[None] | None = None

    @property
    def api_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        app = web.Application(client_max_size=BODY_LIMIT)
        app.router.add_route("*", "/bot{token}/{method}", self._api)
        add_file_routes(app, self)
        add_control_routes(app, self)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        self._client = ClientSession()
        self._webhook_task = asyncio.create_task(
            deliver_updates(self.state, self._client, self.webhook_retry_delay)
        )

    async def close(self) -> None:
        self.state.closing = True
        self.state.changed.notify()
        if self._webhook_task is not None:
            self._webhook_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._webhook_task
        if self._runner is not None:
            await self._runner.cleanup()
        if self._client is not None:
            await self._client.close()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def _api(self, request: web.Request) -> web.StreamResponse:
        if self.state.outage is not None:
            return await self._unavailable(request)
        if self.token is not None and request.match_info["token"] != self.token:
            return _error(ApiError(401, "Unauthorized"))
        method = request.match_info["method"]
        try:
            params = await read_params(request)
        except ApiError as error:
            self.state.record(method, {}).status = error.code
            return _error(error)
        record = self.state.record(method, recordable(params))
        fault = self.state.take_fault(method)
        if fault is not None and fault.status is None:
            assert request.transport is not None
            request.transport.close()
            return web.Response()
        implementation = METHODS.get(method.lower())
        try:
            if fault is not None:
                raise status_error(fault.status or 400, fault.retry_after)
            if implementation is None:
                raise ApiError(404, "Not Found")
            result = await self._run(method, implementation, params)
        except ApiError as error:
            record.status = error.code
            return _error(error)
        record.status = 200
        return web.json_response({"ok": True, "result": result})

    async def _run(self, method: str, implementation: Method, params: dict[str, Any]) -> Any:
        flood = self._flood if method.lower() in SENDING_METHODS else None
        if flood is not None:
            flood.check(params.get("chat_id"))
        result = await implementation(self.state, params)
        if flood is not None:
            flood.count(params.get("chat_id"))
        return result

    async def _unavailable(self, request: web.Request) -> web.Response:
        assert self.state.outage is not None
        error = status_error(self.state.outage)
        params: dict[str, Any] = {}
        with contextlib.suppress(ApiError):
            params = await read_params(request)
        self.state.record(request.match_info["method"], recordable(params)).status = error.code
        return _error(error)

    # --- driving the fake from tests ---

    def citizen(self, user_id: int, first_name: str | None = None, **details: Any) -> Citizen:
        """A person who can write to the bot; see `Citizen` for the details accepted."""
        return Citizen(self.state, user_id, first_name or f"Гражданин {user_id}", **details)

    def operator_group(self, chat_id: int, title: str = "Операторы") -> dict[str, Any]:
        """A supergroup with topics where the bot is an administrator."""
        return forum_group(self.state, chat_id, title)

    def operator(
        self, user_id: int, first_name: str, group_id: int, status: str = "member", **details: Any
    ) -> Operator:
        """A member of ``group_id`` (``status`` as getChatMember reports it)."""
        return Operator(self.state, user_id, first_name, group_id, status, **details)

    def topics(self, chat_id: int) -> list[Topic]:
        """The group's topics that exist, oldest first."""
        return [t for t in self.state.topics.get(chat_id, {}).values() if not t.deleted]

    def topic_messages(self, chat_id: int, thread_id: int) -> list[dict[str, Any]]:
        """Messages in a topic (the bot's and people's), oldest first, without the
        service message that created it."""
        return [
            m
            for m in self.state.history.get(chat_id, [])
            if m.get("message_thread_id") == thread_id and "forum_topic_created" not in m
        ]

    def delete_topic_by_hand(self, chat_id: int, thread_id: int) -> None:
        """A group administrator deleted the topic in the app."""
        delete_topic(self.state, chat_id, thread_id)

    def inject_raw(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue any dict as an update; it gets a fresh ``update_id``."""
        return self.state.enqueue(update)

    def redeliver(self, update_id: int) -> None:
        """Send an update again with the same ``update_id``, as after a lost acknowledgement."""
        self.state.redeliver(update_id)

    def fail_next(
        self, method: str, times: int = 1, *, status: int = 429, retry_after: int = 1
    ) -> None:
        """Answer the next ``times`` calls of ``method`` with ``status`` (429 carries
        ``retry_after``)."""
        self.state.add_fault(method, Fault(times, status, retry_after))

    def drop_next(self, method: str, times: int = 1) -> None:
        """Close the connection without an answer on the next ``times`` calls."""
        self.state.add_fault(method, Fault(times, None))

    def outage(self, status: int = 502) -> None:
        """Answer every Bot API method with ``status`` until `restore`; citizens' updates
        keep queueing and are delivered afterwards."""
        if not 400 <= status < 600:
            raise ValueError(f"an outage answers an HTTP error status, not {status}")
        self.state.outage = status
        self.state.changed.notify()

    def restore(self) -> None:
        self.state.outage = None
        self.state.changed.notify()

    def block(self, chat_id: int) -> None:
        self.state.blocked.add(chat_id)

    def unblock(self, chat_id: int) -> None:
        self.state.blocked.discard(chat_id)

    def messages(self, chat_id: int) -> list[dict[str, Any]]:
        """Messages the bot sent to the chat, oldest first."""
        return list(self.state.sent.get(chat_id, []))

    def requests(self, method: str | None = None) -> list[RecordedRequest]:
        return [
            r for r in self.state.requests if method is None or r.method.lower() == method.lower()
        ]

    async def wait_for_messages(
        self,
        chat_id: int,
        count: int = 1,
        timeout: float = 5.0,
    ) -> list[dict[str, Any]]:
        await self.wait_until(
            lambda: len(self.state.sent.get(chat_id, [])) >= count,
            timeout,
            f"{count} message(s) from the bot in chat {chat_id}",
        )
        return self.messages(chat_id)

    async def wait_for_request(
        self,
        method: str,
        where: Callable[[dict[str, Any]], bool] = lambda params: True,
        timeout: float = 5.0,
    ) -> RecordedRequest:
        def matching() -> list[RecordedRequest]:
            return [r for r in self.requests(method) if where(r.params)]

        await self.wait_until(lambda: bool(matching()), timeout, f"a {method} request")
        return matching()[0]

    async def wait_until(
        self,
        condition: Callable[[], bool],
        timeout: float = 5.0,
        what: str = "the condition",
    ) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"waited {timeout} s for {what}")
            await self.state.changed.wait(remaining)


def _error(error: ApiError) -> web.Response:
    return web.json_response(error.body(), status=error.code)
