"""Logging of every Djinn process: one root handler, text or JSON lines, the current
conversation on each record, and citizens' phone numbers and e-mail addresses masked
(152-FZ) as the last step of formatting, so tracebacks and third-party loggers are
covered too.

Each process calls `configure_logging` once from its composition root; code that
handles one conversation wraps the work in `conversation_scope`.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, TextIO

from core.settings import LogFormat

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# Chatty at INFO (httpx puts the bot token into every URL it logs); vkbottle logs each
# request with its data, i.e. the text sent to a citizen, at DEBUG.
_QUIET = {
    "aiogram.event": logging.WARNING,
    "httpx": logging.WARNING,
    "faiss.loader": logging.WARNING,
    "alembic.runtime.migration": logging.WARNING,
    "vkbottle": logging.INFO,
}
# Libraries that attach a handler of their own at import; their records must reach
# ours (and be masked) instead. A NullHandler in place keeps vkbottle from adding its
# handler when it is imported after `configure_logging`.
_OWN_HANDLERS = ("vkbottle",)

_conversation: contextvars.ContextVar[int | str | None] = contextvars.ContextVar(
    "djinn_conversation_id", default=None
)


def current_conversation_id() -> int | str | None:
    """The conversation the running code works for, or None outside any."""
    return _conversation.get()


@contextlib.contextmanager
def conversation_scope(conversation_id: int | str | None) -> Iterator[None]:
    """Tag every log record made inside the block (and inside asyncio tasks created
    there, which copy the context) with ``conversation_id``.

    Args:
        conversation_id: The conversation's id; None clears an outer scope.
    """
    token = _conversation.set(conversation_id)
    try:
        yield
    finally:
        _conversation.reset(token)


# --- masking ---------------------------------------------------------------------------

_EMAIL = re.compile(r"[\w.+-]+@(?P<domain>[\w-]+(?:\.[\w-]+)+)")

# What people type between digit groups: up to three spaces or dashes (never a newline).
_S = r"[ \t\u00a0-]{0,3}"
_PHONE = re.compile(
    rf"""
    (?:(?<=\\[nrt])|(?<=\\x[0-9a-f]{{2}})|(?<![0-9A-Za-z_+/]))  # "\n" in a repr is no letter
    (?<![0-9][.:/-])                        # not the tail of a decimal, date, time, path
    (?:
        (?P<ru>                             # +7 916 123-45-67, 8 (495) 1234567, 79161234567
            (?:\+[ ]?7|8){_S}\(?{_S}[3489]\d\d{_S}\)?
          | 7{_S}\(?{_S}9\d\d{_S}\)?
          | \(9\d\d\)                       # (916) 123-45-67
          | 9\d\d                           # 916 123 45 67, 9161234567
        )
        {_S}\d{{3}}{_S}\d{{2}}{_S}\d{{2}}
      | (?P<intl>\+[ ]?[1-9]\d{{0,3}}(?:[ -]?\(?\d{{1,4}}\)?){{2,6}})   # +44 20 7946 0958
      | \(\d{{3,5}}\){_S}\d{{1,3}}{_S}\d{{2}}{_S}\d{{2}}     # (8452) 12-34-56
      | \d{{3}}-\d{{2}}-\d{{2}}                              # 123-45-67
    )
    (?![0-9A-Za-z_])(?![.:/-][0-9])
    """,
    re.VERBOSE,
)
# An id printed right before a number (``update id=9…``, ``"chat_id": 9…``) makes it no phone.
_ID_LABEL = re.compile(r"(?:\b|_)id['\"]?\s*[:=]?\s*['\"]?\Z", re.IGNORECASE)


def _mask_phone(match: re.Match[str]) -> str:
    text = match.group()
    before = match.string[max(0, match.start() - 16) : match.start()]
    if not text.startswith("+") and _ID_LABEL.search(before):
        return text
    digits = re.sub(r"\D", "", text)
    if match.group("intl") is not None and not 8 <= len(digits) <= 15:
        return text
    hidden = "*" * (len(digits) - 2)
    if match.group("ru") is not None:
        return "+7********" + digits[-2:]
    return ("+" if text.startswith("+") else "") + hidden + digits[-2:]


def mask(text: str) -> str:
    """``text`` with phone numbers and e-mail addresses masked.

    A Russian number in any common spelling becomes ``+7********67`` (only the last two
    digits kept); another country's number ``+**********58``; a city number
    ``(8452) 12-34-56`` or ``123-45-67`` keeps its last two digits too. An e-mail address
    keeps its domain: ``***@mail.ru``. Numbers that are no phones stay: ids (a bare
    number right after ``id=`` or ``"…_id":``), timestamps, durations, ports, IP
    addresses, decimals, appeal numbers like ``2026-000123``.
    """
    text = _EMAIL.sub(lambda m: "***@" + m.group("domain"), text)
    return _PHONE.sub(_mask_phone, text)


# --- records and formatters ------------------------------------------------------------


class ConversationFilter(logging.Filter):
    """Puts the current conversation on each record as ``conversation_id`` (an explicit
    ``extra={"conversation_id": …}`` wins)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "conversation_id", None) is None:
            record.conversation_id = _conversation.get()
        return True


class TextFormatter(logging.Formatter):
    """``TEXT_FORMAT`` plus `` [c<id>]`` after the message when a conversation is known."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def formatMessage(self, record: logging.LogRecord) -> str:
        line = super().formatMessage(record)
        conversation = getattr(record, "conversation_id", None)
        return line if conversation is None else f"{line} [c{conversation}]"

    def format(self, record: logging.LogRecord) -> str:
        return mask(super().format(record))


_RECORD_FIELDS = frozenset(
    logging.LogRecord("", 0, "", 0, "", (), None).__dict__.keys()
    | {"message", "asctime", "taskName", "conversation_id"}
)


class JsonFormatter(logging.Formatter):
    """One JSON object a line: ``time`` (ISO-8601, UTC), ``level``, ``logger``,
    ``message``, ``conversation_id`` and ``exception`` when there are any, then the
    record's JSON-serialisable ``extra`` fields. Every string in it is masked."""

    def format(self, record: logging.LogRecord) -> str:
        created = datetime.fromtimestamp(record.created, UTC)
        entry: dict[str, Any] = {
            "time": created.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        conversation = getattr(record, "conversation_id", None)
        if conversation is not None:
            entry["conversation_id"] = conversation
        if record.exc_info:
            entry["exception"] = record.exc_text or self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        for key, value in record.__dict__.items():
            if key not in _RECORD_FIELDS and key not in entry and _serialisable(value):
                entry[key] = value
        return json.dumps(_masked(entry), ensure_ascii=False)


def _serialisable(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


def _masked(value: Any) -> Any:
    # Strings are masked before serialising: in the JSON text a newline is "\n", and
    # the "n" would glue to the digits after it.
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, dict):
        return {key: _masked(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_masked(item) for item in value]
    return value


def configure_logging(level: str, fmt: str, *, stream: TextIO | None = None) -> None:
    """Replace the root logger's handlers with one that writes ``fmt`` to ``stream``.

    Args:
        level: A logging level name (``INFO``, ``debug``…) for the root logger.
        fmt: ``text`` or ``json`` (`LogFormat`).
        stream: Where to write; standard error by default.

    Raises:
        ValueError: An unknown level or format.
    """
    log_format = LogFormat(fmt)
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter() if log_format is LogFormat.JSON else TextFormatter())
    handler.addFilter(ConversationFilter())
    root = logging.getLogger()
    root.setLevel(level.upper())
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(handler)
    # Python warnings (rasa-sdk warns at the first request) as records: one format, masked.
    logging.captureWarnings(True)
    for name, quiet in _QUIET.items():
        logging.getLogger(name).setLevel(quiet)
    for name in _OWN_HANDLERS:
        library = logging.getLogger(name)
        for old in library.handlers[:]:
            library.removeHandler(old)
        library.addHandler(logging.NullHandler())
        library.propagate = True
