"""A recording aiogram session for the Telegram unit tests."""

from __future__ import annotations

import json
from collections import defaultdict, deque
from collections.abc import AsyncGenerator
from itertools import count
from typing import Any

from aiogram import Bot
from aiogram.client.session.base import BaseSession
from aiogram.exceptions import TelegramNetworkError
from aiogram.methods import SendMessage, TelegramMethod

from tests.factories import TG_BOT_ID, TG_DATE

NETWORK_DOWN = object()


def ok(result: Any = True) -> tuple[int, dict[str, Any]]:
    return 200, {"ok": True, "result": result}


def api_error(code: int, description: str, retry_after: int | None = None) -> tuple[int, dict]:
    body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if retry_after is not None:
        body["parameters"] = {"retry_after": retry_after}
    return code, body


class RecordingSession(BaseSession):
    """Records every method the bot calls and answers with queued (status, body) pairs,
    passed through aiogram's own `check_response`, so errors raise aiogram's real
    exceptions. Methods without a queued answer succeed."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[TelegramMethod[Any]] = []
        self._answers: dict[str, deque[Any]] = defaultdict(deque)
        self._message_ids = count(100)

    def queue(self, api_method: str, *answers: Any) -> None:
        self._answers[api_method].extend(answers)

    def called(self, api_method: str) -> list[Any]:
        return [call for call in self.calls if call.__api_method__ == api_method]

    def sent(self) -> list[SendMessage]:
        return self.called("sendMessage")

    async def make_request(
        self, bot: Bot, method: TelegramMethod[Any], timeout: int | None = None
    ) -> Any:
        self.calls.append(method)
        answers = self._answers[method.__api_method__]
        answer = answers.popleft() if answers else self._success(method)
        if answer is NETWORK_DOWN:
            raise TelegramNetworkError(method=method, message="ClientConnectorError: refused")
        status, body = answer
        return self.check_response(bot, method, status, json.dumps(body)).result

    def _success(self, method: TelegramMethod[Any]) -> tuple[int, dict[str, Any]]:
        if isinstance(method, SendMessage):
            return ok(
                {
                    "message_id": next(self._message_ids),
                    "date": TG_DATE,
                    "chat": {"id": method.chat_id, "type": "private"},
                    "from": {"id": TG_BOT_ID, "is_bot": True, "first_name": "Джинн"},
                    "text": method.text,
                }
            )
        return ok(True)

    async def close(self) -> None:
        pass

    async def stream_content(self, *args: Any, **kwargs: Any) -> AsyncGenerator[bytes, None]:
        raise AssertionError("the bot under test downloads no files")
        yield b""  # makes this an async generator, as the base class declares
