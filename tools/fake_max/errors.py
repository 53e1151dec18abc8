"""MAX's error answers: an HTTP status with ``{"code": ..., "message": ...}`` (the schema's
``Error`` object).

The schema names only a few codes; the others are what MAX is seen to answer in the wild
(``verify.token``, ``deprecated.token``, ``chat.denied`` with ``error.dialog.suspended``,
``attachment.not.ready``, ``too.many.requests``) or, where nothing is known, our choice
(``proto.payload`` for a malformed request, ``not.found``, ``method.not.allowed``).
"""

from __future__ import annotations

from typing import Any


class MaxError(Exception):
    """An error answer of the Bot API."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(status, code, message)
        self.status = status
        self.code = code
        self.message = message

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message}


def no_token() -> MaxError:
    return MaxError(401, "verify.token", "No access token")


def invalid_token() -> MaxError:
    return MaxError(401, "verify.token", "Invalid access_token")


def malformed_token() -> MaxError:
    # What MAX answers to ``Authorization: Bearer <token>``: it wants the bare token.
    return MaxError(401, "verify.token", "Malformed access token")


def deprecated_token() -> MaxError:
    return MaxError(
        403,
        "deprecated.token",
        "Query parameter access_token is deprecated, use Authorization header",
    )


def too_many_requests() -> MaxError:
    return MaxError(429, "too.many.requests", "Too many requests")


def dialog_suspended() -> MaxError:
    """Sending to a citizen who stopped (blocked) the bot."""
    return MaxError(403, "chat.denied", "error.dialog.suspended")


def attachment_not_ready() -> MaxError:
    return MaxError(
        400, "attachment.not.ready", "Key: errors.process.attachment.file.not.processed"
    )


def bad_request(message: str) -> MaxError:
    return MaxError(400, "proto.payload", message)


def not_found(message: str) -> MaxError:
    return MaxError(404, "not.found", message)


def chat_not_found(chat_id: int) -> MaxError:
    return MaxError(404, "chat.not.found", f"Chat {chat_id} not found")


def method_not_allowed(message: str) -> MaxError:
    return MaxError(405, "method.not.allowed", message)


def for_status(status: int) -> MaxError:
    """The body a forced fault of ``status`` answers with when the test gave none."""
    known = {
        400: bad_request("Invalid request"),
        401: invalid_token(),
        403: dialog_suspended(),
        404: not_found("Not found"),
        429: too_many_requests(),
        500: MaxError(500, "internal.error", "Internal server error"),
        503: MaxError(503, "service.unavailable", "Service unavailable"),
    }
    return known.get(status, MaxError(status, "error", f"HTTP {status}"))
