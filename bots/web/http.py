"""The widget over HTTP, served by the web admin's server: the script and the demo page,
the WebSocket at ``/widget/ws`` and the long-polling fallback under ``/widget/api/``.

Every request names the page it comes from (``Origin``): only the allowed sites and
this server's own pages are served; a token travels in the socket's first frame or in
the ``Authorization`` header, never in a URL.
"""

from __future__ import annotations

import html
import json
import logging
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request, WebSocket
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.datastructures import URL, Headers

from bots.web import frames
from bots.web.channel import Refusal, WebChannel
from bots.web.photos import PHOTO_LIMIT, TYPES
from bots.web.sockets import ORIGIN_CLOSE, SocketSession
from bots.web.texts import ORIGIN_REFUSED
from core.settings import normalize_origin

log = logging.getLogger(__name__)

STATIC = Path(__file__).with_name("static")
POLL_HOLD = 25.0
CORS_HEADERS = {
    "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
    "Access-Control-Allow-Headers": "Authorization, Content-Type",
    "Access-Control-Max-Age": "600",
}


def router(channel: WebChannel) -> APIRouter:
    routes = APIRouter(include_in_schema=False)
    _static_routes(routes)
    _api_routes(routes, channel)

    @routes.websocket("/widget/ws")
    async def socket(websocket: WebSocket) -> None:
        own = own_origin(websocket.url)
        if not channel.allowed(websocket.headers.get("origin"), own):
            await websocket.close(code=ORIGIN_CLOSE)
            return
        await websocket.accept()
        await SocketSession(channel, websocket).run()

    return routes


def own_origin(url: URL) -> str | None:
    """This server's origin as the browser sees it (what a page of its own sends)."""
    scheme = {"ws": "http", "wss": "https"}.get(url.scheme, url.scheme)
    return normalize_origin(f"{scheme}://{url.netloc}")


def page_origin(headers: Headers, own: str | None) -> str | None:
    """The origin of the page a request comes from: ``Origin``, or this server's own for
    a same-origin GET (browsers send no ``Origin`` with one)."""
    origin = headers.get("origin")
    if origin is not None:
        return normalize_origin(origin)
    if headers.get("sec-fetch-site") == "same-origin":
        return own
    return None


def _static_routes(routes: APIRouter) -> None:
    @routes.get("/widget/widget.js")
    async def script() -> Response:
        return _asset("widget.js", "text/javascript; charset=utf-8")

    @routes.get("/widget/widget.css")
    async def styles() -> Response:
        return _asset("widget.css", "text/css; charset=utf-8")

    @routes.get("/widget/demo.css")
    async def demo_styles() -> Response:
        return _asset("demo.css", "text/css; charset=utf-8")

    @routes.get("/widget/demo")
    async def demo(request: Request) -> Response:
        base = str(request.base_url).rstrip("/")
        page = (STATIC / "demo.html").read_text(encoding="utf-8")
        return HTMLResponse(page.replace("{{BASE}}", html.escape(base)))


def _asset(name: str, media_type: str) -> Response:
    return FileResponse(
        STATIC / name,
        media_type=media_type,
        headers={"Cache-Control": "public, max-age=300",
                 "Cross-Origin-Resource-Policy": "cross-origin"},
    )  # fmt: skip


class _Api:
    """What the long-polling endpoints share: the page's origin and the answer to it."""

    def __init__(self, channel: WebChannel, request: Request) -> None:
        self.channel = channel
        self.request = request
        self.origin = page_origin(request.headers, own_origin(request.url))
        self.address = request.client.host if request.client else "?"

    @property
    def allowed(self) -> bool:
        return self.channel.allowed(self.origin, own_origin(self.request.url))

    def answer(self, body: dict[str, Any], status: int = 200) -> JSONResponse:
        response = JSONResponse(body, status_code=status)
        if self.origin is not None:
            response.headers["Access-Control-Allow-Origin"] = self.origin
            response.headers["Vary"] = "Origin"
        return response

    def refused(self, refusal: Refusal, client_id: str | None = None) -> JSONResponse:
        response = self.answer(refusal.frame(client_id), refusal.status)
        if refusal.retry_after is not None:
            response.headers["Retry-After"] = str(max(1, round(refusal.retry_after)))
        return response

    def forbidden(self) -> JSONResponse:
        # Answered with CORS for the page itself, so that the widget can say why.
        return self.answer(frames.error("origin", ORIGIN_REFUSED), 403)

    def visitor(self) -> str:
        scheme, _, token = self.request.headers.get("authorization", "").partition(" ")
        return self.channel.visitor_of(token.strip() if scheme.lower() == "bearer" else None)

    async def json(self) -> dict[str, Any]:
        body = await read_body(self.request, frames.FRAME_LIMIT * 4)
        if body is None:
            raise Refusal("too_large", frames.TOO_LONG, 413)
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            data = None
        if not isinstance(data, dict):
            raise Refusal("bad_json", frames.UNREADABLE, 400)
        return data


async def read_body(request: Request, limit: int) -> bytes | None:
    """The request's body, None when it is longer than ``limit`` bytes (unread then)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _api_routes(routes: APIRouter, channel: WebChannel) -> None:
    @routes.options("/widget/api/{path:path}")
    async def preflight(request: Request, path: str) -> Response:
        api = _Api(channel, request)
        if not api.allowed:
            return Response(status_code=403)
        response = Response(status_code=204, headers=CORS_HEADERS)
        response.headers["Access-Control-Allow-Origin"] = api.origin or ""
        response.headers["Vary"] = "Origin"
        return response

    @routes.get("/widget/api/config")
    async def config(request: Request) -> Response:
        api = _Api(channel, request)
        if not api.allowed:
            return api.forbidden()
        return api.answer(channel.config())

    @routes.post("/widget/api/session")
    async def session(request: Request) -> Response:
        api = _Api(channel, request)
        if not api.allowed:
            return api.forbidden()
        try:
            token = (await api.json()).get("token")
            opened = await channel.open(token if isinstance(token, str) and token else None,
                                        api.address)  # fmt: skip
            return api.answer((await channel.history(opened)).frame())
        except Refusal as refusal:
            return api.refused(refusal)

    @routes.post("/widget/api/messages")
    async def message(request: Request) -> Response:
        api = _Api(channel, request)
        if not api.allowed:
            return api.forbidden()
        client_id = None
        try:
            visitor = api.visitor()
            frame = frames.frame_of(await api.json())
            if not isinstance(frame, frames.Outgoing):
                raise frames.FrameError("bad_frame", frames.UNKNOWN)
            client_id = frame.client_id
            await channel.receive(visitor, frame, api.address, str(request.base_url))
        except frames.FrameError as error:
            return api.answer(frames.error(error.code, error.message, error.client_id), 400)
        except Refusal as refusal:
            return api.refused(refusal, client_id)
        return api.answer({"type": "ack", "client_id": client_id})

    @routes.get("/widget/api/events")
    async def events(request: Request) -> Response:
        api = _Api(channel, request)
        if not api.allowed:
            return api.forbidden()
        after = request.query_params.get("after", "0")
        try:
            visitor = api.visitor()
            found = await channel.events(visitor, int(after) if after.isdigit() else 0,
                                         POLL_HOLD)  # fmt: skip
        except Refusal as refusal:
            return api.refused(refusal)
        return api.answer({"type": "messages", "messages": found})

    @routes.post("/widget/api/photos")
    async def photo(request: Request) -> Response:
        api = _Api(channel, request)
        if not api.allowed:
            return api.forbidden()
        try:
            visitor = api.visitor()
            data = await read_body(request, PHOTO_LIMIT)
            if data is None:
                raise Refusal("photo_size", _too_big(), 413)
            name = await channel.upload(
                visitor, data, request.headers.get("content-type"), api.address
            )
        except Refusal as refusal:
            return api.refused(refusal)
        return api.answer({"type": "photo", "file": name})

    @routes.get("/widget/files/{name}")
    async def file(name: str) -> Response:
        path = channel.photos.path(name)
        if path is None:
            return Response(status_code=404)
        return FileResponse(
            path,
            media_type=TYPES[path.suffix.lstrip(".")],
            headers={"Cache-Control": "private, max-age=86400", "X-Robots-Tag": "noindex",
                     "Cross-Origin-Resource-Policy": "cross-origin"},
        )  # fmt: skip


def _too_big() -> str:
    return f"Фото слишком большое: не больше {PHOTO_LIMIT // 1024**2} МБ."
