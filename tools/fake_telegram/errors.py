"""Telegram-shaped API errors."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An error answered the way the Bot API answers it."""

    def __init__(
        self, code: int, description: str, parameters: dict[str, Any] | None = None
    ) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.code,
            "description": self.description,
        }
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def bad_request(reason: str) -> ApiError:
    return ApiError(400, f"Bad Request: {reason}")


def blocked_by_user() -> ApiError:
    return ApiError(403, "Forbidden: bot was blocked by the user")


def too_many_requests(retry_after: int) -> ApiError:
    return ApiError(
        429,
        f"Too Many Requests: retry after {retry_after}",
        {"retry_after": retry_after},
    )


_SERVER_ERRORS = {
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def server_error(code: int) -> ApiError:
    return ApiError(code, _SERVER_ERRORS.get(code, "Internal Server Error"))


def status_error(status: int, retry_after: int = 1) -> ApiError:
    """The error body Telegram sends with ``status``, for injected faults and outages."""
    if status == 429:
        return too_many_requests(retry_after)
    if status == 403:
        return blocked_by_user()
    if status >= 500:
        return server_error(status)
    error = bad_request("injected failure")
    error.code = status
    return error
