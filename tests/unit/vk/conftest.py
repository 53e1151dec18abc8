import json
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from vkbottle import API
from vkbottle.http import ABCHTTPClient

from bots.vk.client import FailingRescheduler
from tools.fake_vk import FakeVk


class QueuedVkHttp(ABCHTTPClient):
    """vkbottle's HTTP client seam: answers with queued bodies, records each request.

    A queued dict is sent as JSON, a str as is, an exception is raised. vkbottle's own
    validators then turn ``{"error": ...}`` into its real ``VKAPIError`` classes.
    """

    def __init__(self) -> None:
        self.answers: deque[Any] = deque()
        self.requests: list[tuple[str, dict[str, Any]]] = []

    def queue(self, *answers: Any) -> None:
        self.answers.extend(answers)

    def sent(self, method: str) -> list[dict[str, Any]]:
        return [data for url, data in self.requests if url.endswith("/" + method)]

    async def request_text(self, url: str, method: str = "GET", data=None, **kwargs: Any) -> str:
        self.requests.append((url, dict(data or {})))
        answer = self.answers.popleft()
        if isinstance(answer, BaseException):
            raise answer
        return answer if isinstance(answer, str) else json.dumps(answer)

    async def request_json(self, url: str, method: str = "GET", data=None, **kwargs: Any):
        return json.loads(await self.request_text(url, method, data, **kwargs))

    async def request_raw(self, url: str, method: str = "GET", data=None, **kwargs: Any):
        raise AssertionError(f"QueuedVkHttp does not serve request_raw ({method} {url})")

    async def request_content(self, url: str, method: str = "GET", data=None, **kwargs: Any):
        raise AssertionError(f"QueuedVkHttp does not serve request_content ({method} {url})")

    async def close(self) -> None:
        pass


@pytest.fixture
def http() -> QueuedVkHttp:
    return QueuedVkHttp()


@pytest.fixture
def api(http: QueuedVkHttp) -> API:
    api = API("unit-token", http_client=http, request_rescheduler=FailingRescheduler())
    api.API_URL = "http://vk.invalid/method/"
    return api


@pytest.fixture
async def vk() -> AsyncIterator[FakeVk]:
    async with FakeVk(token="t0ken", group_id=1000) as fake:
        yield fake


@pytest.fixture
async def client() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def call(vk: FakeVk, client: aiohttp.ClientSession) -> Callable[..., Awaitable[dict]]:
    """Call a fake VK method over HTTP: the token in the query, arguments as a form."""

    async def call(method: str, **params: Any) -> dict:
        form = {k: v if isinstance(v, str) else json.dumps(v) for k, v in params.items()}
        query = {"access_token": "t0ken", "v": "5.199"}
        async with client.post(vk.api_url + method, params=query, data=form) as response:
            return await response.json()

    return call
