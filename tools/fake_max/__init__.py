"""A fake MAX Bot API for tests, benchmarks and local demos: the methods a bot calls
(``/me``, ``/messages``, ``/answers``, ``/uploads``, ``/chats``), long polling with markers,
webhook subscriptions that push updates, an upload server and the files it serves, MAX's
limits, and controls to inject citizens' events and faults."""

from tools.fake_max.citizens import Citizen
from tools.fake_max.errors import MaxError
from tools.fake_max.limits import MAX_LIMITS, RateLimits
from tools.fake_max.server import DEFAULT_TOKEN, FakeMax
from tools.fake_max.webhook import SECRET_HEADER
from tools.fake_max.world import (
    CallbackAnswer,
    ChatMessage,
    RecordedRequest,
    StoredUpdate,
    Subscription,
    Upload,
    WebhookAttempt,
)

__all__ = [
    "DEFAULT_TOKEN",
    "MAX_LIMITS",
    "SECRET_HEADER",
    "CallbackAnswer",
    "ChatMessage",
    "Citizen",
    "FakeMax",
    "MaxError",
    "RateLimits",
    "RecordedRequest",
    "StoredUpdate",
    "Subscription",
    "Upload",
    "WebhookAttempt",
]
