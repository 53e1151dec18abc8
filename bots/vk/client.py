"""vkbottle's `API` pointed at the configured VK API URL."""

from __future__ import annotations

from typing import Any

from aiohttp import ClientTimeout
from vkbottle import API
from vkbottle.api import ABCAPI
from vkbottle.api.request_rescheduler import ABCRequestRescheduler
from vkbottle.http import AiohttpClient

REQUEST_TIMEOUT = 30


class VkUnavailable(Exception):
    """VK answered with something that is not JSON (a 5xx page, an empty body)."""


class FailingRescheduler(ABCRequestRescheduler):
    """vkbottle's default retries a non-JSON answer forever, blocking its caller; we raise
    instead so that the sender's bounded backoff decides."""

    async def reschedule(
        self, ctx_api: ABCAPI | API, method: str, data: dict[str, Any], recent_response: Any
    ) -> dict[str, Any]:
        # Not the answer itself: it may echo the message sent to a citizen.
        kind = type(recent_response).__name__
        size = f", {len(recent_response)} characters" if isinstance(recent_response, str) else ""
        raise VkUnavailable(f"{method}: VK answered no JSON ({kind}{size})")


def build_api(token: str, api_url: str) -> API:
    """An `API` with its own HTTP session (close it with ``api.http_client.close()``)."""
    api = API(
        token,
        http_client=AiohttpClient(timeout=ClientTimeout(total=REQUEST_TIMEOUT)),
        request_rescheduler=FailingRescheduler(),
    )
    api.API_URL = api_url if api_url.endswith("/") else api_url + "/"
    return api
