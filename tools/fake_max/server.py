"""`FakeMax`: the MAX Bot API on 127.0.0.1 for tests, benchmarks and local demos.

The API lives at the root of ``fake.url`` as it does at ``https://platform-api2.max.ru``;
point maxapi at it with ``bot.set_api_url(fake.url)``. Besides it the fake serves an upload
server (``/_upload/...``), the files of citizens and uploads (``/_files/...``) and control
endpoints (``/_control/...``, see `tools.fake_max.control`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote

from aiohttp import ClientSession, web

from tools.fake_max import api, errors
from tools.fake_max.citizens import Citizen
from tools.fake_max.control import add_control_routes
from tools.fake_max.errors import MaxError
from tools.fake_max.limits import (
    MAX_LIMITS,
    UPDATES_MAX_HOLD,
    UPDATES_RETENTION,
    Clock,
    RateLimits,
    SlidingWindow,
)
from tools.fake_max.webhook import push_updates
from tools.fake_max.world import (
    CallbackAnswer,
    ChatMessage,
    Fault,
    MaxState,
    RecordedRequest,
    StoredUpdate,
    Subscription,
    Upload,
    WebhookAttempt,
)
from tools.images import image_size

DEFAULT_TOKEN = "djinn-fake-max-token"
DEFAULT_BOT_ID = 9_000_100
UPLOAD_LIMIT = 60 * 1024**2  # enough for tests; MAX takes images up to 50 MB
IMAGE_SIDE_LIMIT = 7680
LONG_POLL = "GET /updates"


class FakeMax:
    """A MAX bot and the citizens writing to it, served over HTTP.

    ``async with FakeMax() as fake:`` starts it on a free port of ``host``. With
    ``token=None`` any ``Authorization`` value is accepted (handy for demos).
    ``rate_limits`` are MAX's limits on a bot (see `RateLimits`), measured by ``clock``;
    ``None`` lifts them. ``longpoll_max_hold`` caps how long ``GET /updates`` waits whatever
    its ``timeout``; ``retention`` is how long (by ``clock``) updates are kept. The webhook
    tries each update ``webhook_tries`` times, pausing ``webhook_retry_delay`` seconds
    and doubling the pause each time. ``require_https`` refuses ``http://`` webhook URLs
    as MAX does (off, so a test's server on 127.0.0.1 can subscribe).
    """

    def __init__(
        self,
        token: str | None = DEFAULT_TOKEN,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        bot_id: int = DEFAULT_BOT_ID,
        bot_name: str = "Джинн",
        bot_username: str = "djinn_test_bot",
        rate_limits: RateLimits | None = MAX_LIMITS,
        clock: Clock = time.monotonic,
        retention: float = UPDATES_RETENTION,
        longpoll_max_hold: float = UPDATES_MAX_HOLD,
        webhook_tries: int = 5,
        webhook_retry_delay: float = 0.02,
        require_https: bool = False,
    ) -> None:
        self.token = token
        self.host = host
        self.port = port
        self.rate_limits = rate_limits
        self.longpoll_max_hold = longpoll_max_hold
        self.webhook_tries = webhook_tries
        self.webhook_retry_delay = webhook_retry_delay
        self.state = MaxState(
            bot_id=bot_id,
            bot_name=bot_name,
            bot_username=bot_username,
            clock=clock,
            retention=retention,
        )
        self.state.require_https = require_https
        self._windows: dict[str, SlidingWindow] = {}
        if rate_limits is not None:
            self._windows = {
                "requests": SlidingWindow(rate_limits.requests, rate_limits.window, clock),
                "updates": SlidingWindow(rate_limits.updates, rate_limits.updates_window, clock),
            }
        self._runner: web.AppRunner | None = None
        self._client: ClientSession | None = None
        self._pusher: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        """The API's base URL (``bot.set_api_url(fake.url)``)."""
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        app = web.Application(client_max_size=UPLOAD_LIMIT)
        add_control_routes(app, self)
        app.router.add_post("/_upload/{kind}/{upload_id}", self._upload)
        app.router.add_get("/_files/{name}", self._file)
        app.router.add_route("*", "/{path:.*}", self._api)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()
        self.port = self._runner.addresses[0][1]
        self.state.base_url = self.url
        self._client = ClientSession()
        self._pusher = asyncio.create_task(
            push_updates(
                self.state,
                self._client,
                attempts=self.webhook_tries,
                retry_delay=self.webhook_retry_delay,
            )
        )

    async def close(self) -> None:
        self.state.closing = True
        self.state.notify()
        if self._pusher is not None:
            self._pusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pusher
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

    # --- driving the fake: citizens and updates ------------------------------------------

    def citizen(
        self,
        user_id: int,
        first_name: str | None = None,
        last_name: str | None = None,
        username: str | None = None,
        *,
        chat_id: int | None = None,
        locale: str | None = None,
    ) -> Citizen:
        """The citizen ``user_id``, created on first use (the dialog's ``chat_id`` is
        derived from the user id unless given); see `Citizen` for what they can do."""
        person = self.state.person(
            user_id, first_name, last_name, username, chat_id=chat_id, locale=locale
        )
        return Citizen(self.state, person)

    def deliver(self, update: Any) -> int:
        """Queue any JSON value as the next update, exactly as given: an update built with
        ``deliver=False``, one delivered before (a duplicate), or garbage. Returns its
        place in the log (what a marker counts)."""
        return self.state.add_update(update).seq

    def redeliver(self, seq: int) -> int:
        """Deliver the update at ``seq`` once more, unchanged, after everything queued."""
        return self.deliver(self.state.updates[seq].payload)

    @property
    def updates(self) -> list[StoredUpdate]:
        """Every update queued so far, in delivery order."""
        return list(self.state.updates)

    @property
    def pending_updates(self) -> int:
        """Updates not yet committed by a marker or pushed to a webhook."""
        return self.state.pending

    # --- faults and limits ---------------------------------------------------------------

    def fail_next(
        self, operation: str = "*", times: int = 1, *, status: int = 429, body: Any = None
    ) -> None:
        """Answer the next ``times`` calls of ``operation`` ("POST /messages", "GET /updates",
        "upload", ... or "*" for any) with ``status`` and MAX's error body for it, or
        ``body`` (a str goes out as is, for a broken answer)."""
        self.state.add_fault(operation, Fault(times, status, body))

    def drop_next(self, operation: str = "*", times: int = 1) -> None:
        """Close the connection without an answer on the next ``times`` calls."""
        self.state.add_fault(operation, Fault(times, None))

    def attachments_not_ready(self, times: int = 1) -> None:
        """The next ``times`` sends or edits with an uploaded attachment answer 400
        ``attachment.not.ready``, as MAX does while it processes the file."""
        self.state.not_ready += times

    def outage(self, status: int = 502) -> None:
        """Answer every API call with ``status`` (an HTML page, as MAX's front servers do)
        until `restore`; updates keep queueing and are delivered afterwards."""
        if not 400 <= status < 600:
            raise ValueError(f"an outage answers an HTTP error status, not {status}")
        self.state.outage = status
        self.state.notify()

    def restore(self) -> None:
        self.state.outage = None
        self.state.notify()

    def block(self, user_id: int) -> None:
        """The citizen stops the bot without a ``bot_stopped`` update being queued."""
        self.state.person(user_id).blocked = True
        self.state.notify()

    def unblock(self, user_id: int) -> None:
        self.state.person(user_id).blocked = False
        self.state.notify()

    # --- what the bot did ---------------------------------------------------------------

    def sent(self, user_id: int | None = None, *, chat_id: int | None = None) -> list[ChatMessage]:
        """The bot's messages (with edits applied; deleted ones marked), oldest first."""
        return self.state.sent(user_id, chat_id)

    def message(self, mid: str) -> ChatMessage:
        return self.state.message(mid)

    @property
    def answers(self) -> list[CallbackAnswer]:
        return list(self.state.answers)

    @property
    def actions(self) -> list[tuple[int, str]]:
        """``(chat_id, action)`` the bot sent with ``POST /chats/{chatId}/actions``."""
        return list(self.state.actions)

    @property
    def uploads(self) -> list[Upload]:
        return list(self.state.uploads.values())

    @property
    def subscriptions(self) -> list[Subscription]:
        return list(self.state.subscriptions.values())

    @property
    def webhook_attempts(self) -> list[WebhookAttempt]:
        return list(self.state.webhook_attempts)

    def requests(self, operation: str | None = None) -> list[RecordedRequest]:
        return [r for r in self.state.requests if operation is None or r.operation == operation]

    async def wait_for_messages(
        self, user_id: int, count: int = 1, timeout: float = 5.0
    ) -> list[ChatMessage]:
        await self.wait_until(
            lambda: len(self.state.sent(user_id)) >= count,
            timeout,
            f"{count} message(s) from the bot to {user_id}",
        )
        return self.sent(user_id)

    async def webhook_settled(self, timeout: float = 5.0) -> None:
        """Wait until every queued update has been pushed to the webhook (or given up on)."""
        # A pushed update is committed, so nothing is left once everything is committed.
        await self.wait_until(
            lambda: (
                not self.state.subscriptions or self.state.committed >= len(self.state.updates)
            ),
            timeout,
            "the webhook to push every update",
        )

    async def wait_until(
        self, condition: Callable[[], bool], timeout: float = 5.0, what: str = "the condition"
    ) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"waited {timeout} s for {what}")
            await self.state.changed.wait(remaining)

    # --- HTTP -------------------------------------------------------------------------

    async def _api(self, request: web.Request) -> web.StreamResponse:
        query = dict(request.query)
        body, body_error = await _json_body(request)
        try:
            operation, method, params = api.resolve(request.method, request.path)
            route_error = None
        except MaxError as error:
            operation, method, params = f"{request.method} {request.path}", None, {}
            route_error = error
        record = self.state.record(operation, query, body)
        response = await self._answer(
            request, operation, method, api.ApiCall(query, body, params), route_error or body_error
        )
        record.status = response.status
        self.state.notify()
        return response

    async def _answer(
        self,
        request: web.Request,
        operation: str,
        method: api.Method | None,
        call: api.ApiCall,
        early_error: MaxError | None,
    ) -> web.StreamResponse:
        if self.state.outage is not None:
            return _down(self.state.outage)
        try:
            self._authorize(request)
            fault = self.state.take_fault(operation)
            if fault is not None:
                return _fault(request, fault)
            self._limit(operation)
            if early_error is not None:
                raise early_error
            if method is None:
                return await self._long_poll(call.query)
            return _json_response(method(self.state, call))
        except MaxError as error:
            return _error(error)

    def _authorize(self, request: web.Request) -> None:
        header = request.headers.get("Authorization", "").strip()
        if not header:
            if "access_token" in request.query:
                raise errors.deprecated_token()
            raise errors.no_token()
        if header.lower().startswith("bearer "):
            raise errors.malformed_token()
        if self.token is not None and header != self.token:
            raise errors.invalid_token()

    def _limit(self, operation: str) -> None:
        window = self._windows.get("updates" if operation == LONG_POLL else "requests")
        if window is not None and not window.admit():
            raise errors.too_many_requests()

    async def _long_poll(self, query: dict[str, str]) -> web.StreamResponse:
        if self.state.subscriptions:
            # "Both methods cannot be used simultaneously": the schema lists 405 for this.
            raise errors.method_not_allowed(
                "Long polling is not available while a WebHook subscription is active"
            )
        limit = _bounded(query, "limit", 100, 1, 1000)
        timeout = _bounded(query, "timeout", 30, 0, 90)
        marker_text = query.get("marker", "")
        marker = None if marker_text in ("", "null") else _bounded(query, "marker", 0, 0, None)
        types = {t for t in query.get("types", "").split(",") if t} or None
        start = self.state.committed if marker is None else marker
        if marker is not None:
            self.state.commit(marker)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + min(timeout, self.longpoll_max_hold)
        while True:
            if self.state.outage is not None:
                return _down(self.state.outage)
            found, next_marker = self.state.poll(start, limit, types)
            remaining = deadline - loop.time()
            if found or remaining <= 0 or self.state.closing:
                return _json_response({"updates": found, "marker": next_marker})
            await self.state.changed.wait(remaining)

    async def _upload(self, request: web.Request) -> web.StreamResponse:
        """The upload server a ``POST /uploads`` URL points at: one file in a multipart form
        (maxapi names the field ``data``)."""
        kind, upload_id = request.match_info["kind"], request.match_info["upload_id"]
        record = self.state.record("upload", {"kind": kind, "upload_id": upload_id}, None)
        response = await self._take_upload(request, kind, upload_id)
        record.status = response.status
        self.state.notify()
        return response

    async def _take_upload(
        self, request: web.Request, kind: str, upload_id: str
    ) -> web.StreamResponse:
        if self.state.outage is not None:
            return _down(self.state.outage)
        fault = self.state.take_fault("upload")
        if fault is not None:
            return _fault(request, fault)
        upload = self.state.uploads.get(upload_id)
        if upload is None or upload.kind != kind:
            return _json_response({"error": "Upload URL is unknown or expired"}, status=404)
        if request.content_type != "multipart/form-data":
            return _json_response(
                {"error": "Only multipart uploads are supported by the fake"}, status=400
            )
        form = await request.post()
        files = [v for v in form.values() if isinstance(v, web.FileField)]
        if len(files) != 1:
            return _json_response({"error": "Exactly one file is expected"}, status=400)
        data = files[0].file.read()
        size = image_size(data) if kind == "image" else None
        if size is not None and max(size) > IMAGE_SIDE_LIMIT:
            return _json_response(
                {"error": f"Image is larger than {IMAGE_SIDE_LIMIT} px"}, status=400
            )
        upload.data = data
        upload.filename = files[0].filename
        upload.content_type = files[0].content_type
        upload.file_url = self.state.serve(data, upload.filename, upload.content_type)
        if kind == "image":
            upload.photo_id = self.state.next_photo_id()
            return _json_response({"photos": {str(upload.photo_id): {"token": upload.token}}})
        if kind == "file":
            return _json_response({"fileId": self.state.next_photo_id(), "token": upload.token})
        # Video and audio got their token with the upload URL; the server just says done.
        return web.Response(text="<retval>1</retval>", content_type="text/html")

    async def _file(self, request: web.Request) -> web.StreamResponse:
        found = self.state.files.get(request.match_info["name"])
        if found is None:
            return web.Response(status=404, text="<html><h1>404 Not Found</h1></html>")
        disposition = f"attachment; filename*=UTF-8''{quote(found.filename)}"
        return web.Response(
            body=found.data,
            content_type=found.content_type,
            headers={"Content-Disposition": disposition},
        )


async def _json_body(request: web.Request) -> tuple[Any, MaxError | None]:
    if not request.can_read_body:
        return None, None
    text = await request.text()
    if not text.strip():
        return None, None
    try:
        return json.loads(text), None
    except ValueError:
        return text, errors.bad_request("Request body is not valid JSON")


def _bounded(query: dict[str, str], name: str, default: int, low: int, high: int | None) -> int:
    value = query.get(name)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise errors.bad_request(f"{name}: must be an integer") from None
    if number < low or (high is not None and number > high):
        shown = f"{low} to {high}" if high is not None else f"at least {low}"
        raise errors.bad_request(f"{name}: must be {shown}")
    return number


def _json_response(data: Any, *, status: int = 200) -> web.Response:
    # Russian text stays readable for a person reading the answers with curl; a text
    # with a lone surrogate (which JSON carries escaped) goes out all escaped.
    try:
        body = json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        body = json.dumps(data).encode("ascii")
    return web.Response(body=body, status=status, content_type="application/json")


def _error(error: MaxError) -> web.Response:
    return _json_response(error.body(), status=error.status)


def _fault(request: web.Request, fault: Fault) -> web.StreamResponse:
    if fault.status is None:
        if request.transport is not None:
            request.transport.close()
        return web.Response()
    if fault.body is None:
        return _json_response(errors.for_status(fault.status).body(), status=fault.status)
    if isinstance(fault.body, str):
        return web.Response(text=fault.body, status=fault.status, content_type="application/json")
    return _json_response(fault.body, status=fault.status)


def _down(status: int) -> web.Response:
    # MAX's front servers answer an outage with a bare HTML page, not an Error object.
    return web.Response(
        status=status,
        text=f"<html><body><h1>{status}</h1></body></html>",
        content_type="text/html",
    )
