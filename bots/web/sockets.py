"""One visitor's WebSocket: the ``hello`` that names the visitor, then their frames until
the browser goes away, and the frames pushed to them (`hub.Connection`) written in order.
A frame the protocol does not allow is answered with an error frame; nothing a browser
sends ends the session but closing it."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from fastapi import WebSocket
from starlette.websockets import WebSocketDisconnect

from bots.web import frames
from bots.web.channel import Opened, Refusal, WebChannel
from bots.web.hub import Connection
from bots.web.texts import ALREADY_OPEN, HELLO_FIRST, INTERNAL

log = logging.getLogger(__name__)

HELLO_TIMEOUT = 10.0
# Close codes of the widget's socket (4000–4999 are the application's).
BAD_TOKEN_CLOSE = 4401
ORIGIN_CLOSE = 4403  # before the handshake completes: the browser sees HTTP 403
NO_HELLO_CLOSE = 4408
LIMITED_CLOSE = 4429
TRY_AGAIN_CLOSE = 1013


class SocketSession:
    """One visitor's socket: the hello, then frames until the browser goes away. A frame
    the protocol does not allow is answered with an error frame; nothing a browser sends
    ends the session but closing it."""

    def __init__(self, channel: WebChannel, websocket: WebSocket) -> None:
        self._channel = channel
        self._socket = websocket
        self._address = websocket.client.host if websocket.client else "?"
        scheme = {"ws": "http", "wss": "https"}.get(websocket.url.scheme, "http")
        self._base_url = f"{scheme}://{websocket.url.netloc}/"
        self._connection = Connection()
        self._consented = False

    async def run(self) -> None:
        try:
            opened = await self._hello()
            if opened is None:
                return
            self._consented = opened.consent
            writer = asyncio.create_task(self._write(), name="widget-socket-writer")
            try:
                with self._channel.hub.attached(opened.visitor, self._connection):
                    # Listening before the history is read: nothing falls in between.
                    self._connection.send((await self._channel.history(opened)).frame())
                    await self._serve(opened.visitor)
            finally:
                writer.cancel()
                await asyncio.gather(writer, return_exceptions=True)
        except WebSocketDisconnect:
            return

    async def _hello(self) -> Opened | None:
        """The visitor's session from the first good ``hello``; None when the socket was
        closed instead."""
        try:
            async with asyncio.timeout(HELLO_TIMEOUT):
                while True:
                    message = await self._socket.receive()
                    if message["type"] == "websocket.disconnect":
                        return None
                    try:
                        frame = frames.parse(_raw(message))
                    except frames.FrameError as error:
                        await self._send_now(frames.error(error.code, error.message))
                        continue
                    if isinstance(frame, frames.Hello):
                        break
                    await self._send_now(frames.error("hello_required", HELLO_FIRST))
        except TimeoutError:
            await self._socket.close(NO_HELLO_CLOSE)
            return None
        try:
            return await self._channel.open(frame.token, self._address)
        except Refusal as refusal:
            await self._send_now(refusal.frame())
            code = {"bad_token": BAD_TOKEN_CLOSE, "rate_limited": LIMITED_CLOSE}
            await self._socket.close(code.get(refusal.code, TRY_AGAIN_CLOSE))
            return None

    async def _serve(self, visitor: str) -> None:
        while True:
            message = await self._socket.receive()
            if message["type"] == "websocket.disconnect":
                return
            try:
                await self._frame(visitor, _raw(message))
            except Exception:  # a bug must not end the visitor's session
                log.exception("widget: a frame failed")
                self._connection.send(frames.error("internal", INTERNAL))

    async def _frame(self, visitor: str, raw: str | bytes | None) -> None:
        try:
            frame = frames.parse(raw)
        except frames.FrameError as error:
            self._connection.send(frames.error(error.code, error.message, error.client_id))
            return
        if isinstance(frame, frames.Ping):
            self._connection.send({"type": "pong"})
        elif isinstance(frame, frames.Hello):
            self._connection.send(frames.error("already_open", ALREADY_OPEN))
        else:
            try:
                await self._channel.receive(
                    visitor, frame, self._address, self._base_url, self._connection,
                    consented=self._consented,
                )  # fmt: skip
            except Refusal as refusal:
                self._connection.send(refusal.frame(frame.client_id))
                return
            self._consented = True  # stored: the notice was accepted, now or before
            self._connection.send({"type": "ack", "client_id": frame.client_id})

    async def _write(self) -> None:
        frames_out, overflowed = self._connection.frames, self._connection.overflowed
        try:
            while True:
                await self._socket.send_text(await frames_out.get())
                if overflowed.is_set():  # too far behind: reconnecting reads the history
                    await self._socket.close(TRY_AGAIN_CLOSE)
                    return
        except (WebSocketDisconnect, RuntimeError, OSError):
            return  # the browser went away; the reader sees it too

    async def _send_now(self, frame: dict[str, Any]) -> None:
        await self._socket.send_text(frames.encode(frame))


def _raw(message: Any) -> str | bytes | None:
    text = message.get("text")
    return text if text is not None else message.get("bytes")
