"""Shared pieces of the handoff fault tests: the bot as a real ``djinn`` process (see
`tests.e2e.faults.handoff_bot`), citizens who ask for an operator through the fake Bot
API exactly as people do (a question, then «Связаться с оператором» under the answer),
and the operator group counted conversation by conversation: topics, cards, and topics
created more than once."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import ClientSession, web
from redis.asyncio import Redis
from sqlalchemy import text

from core.db import create_engine
from nlu import texts
from nlu.payloads import Action, decode
from tests.e2e.faults.bot import BotProcess, bot_environment
from tools.fake_telegram import DEFAULT_TOKEN, FakeTelegram
from tools.fake_telegram.limits import RateLimits

GROUP = -1001777000001
QUESTION = "Как оплатить коммунальные услуги?"
MACHINE_REDIS = "redis://127.0.0.1:6379/0"
# The tests' «minute»: the fake answers 429 past 20 messages into the group within it,
# and the bot paces its 19 a window over the same span (see handoff_bot.py).
WINDOW = 2.0
SCALED_LIMITS = RateLimits(per_group=20, group_window=WINDOW)
QUIET = 4.0  # after the last card: nothing more may appear in the group for this long

_TOPIC = re.compile(r"^№(\d+) ")
_CARD = re.compile(r"^Обращение №(\d+)$")
_CITIZEN = "Гражданин: "


class HandoffBot(BotProcess):
    """`BotProcess` running ``djinn`` through `tests.e2e.faults.handoff_bot`."""

    module = "tests.e2e.faults.handoff_bot"


def handoff_environment(
    data_dir: Path, redis_url: str, namespace: str, fake: FakeTelegram, **extra: str
) -> dict[str, str]:
    """What a bot process of these tests gets: the fake, the group, its own namespace, and
    an empty knowledge base (every question is answered «не нашёл ответа» with the
    operator button, which is all these tests need, without indexing the demo FAQ)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    return bot_environment(
        data_dir,
        redis_url,
        TELEGRAM_BOT_TOKEN=DEFAULT_TOKEN,
        TELEGRAM_API_URL=fake.api_url,
        OPERATOR_CHAT_ID=str(GROUP),
        DJINN_REDIS_NAMESPACE=namespace,
        DJINN_BUSINESS_HOURS="24/7",
        DJINN_TEST_GROUP_WINDOW=str(WINDOW),
        DJINN_DEMO_FAQ="0",
        **extra,
    )


@contextlib.asynccontextmanager
async def redis_namespace(url: str = MACHINE_REDIS) -> AsyncIterator[str]:
    """A namespace of the test's own in ``url``'s Redis; its keys are deleted afterwards."""
    namespace = f"test-handoff-{uuid.uuid4().hex[:12]}"
    try:
        yield namespace
    finally:
        client = Redis.from_url(url, socket_connect_timeout=2)
        try:
            keys = [key async for key in client.scan_iter(f"{namespace}:*")]
            if keys:
                await client.delete(*keys)
        finally:
            await client.aclose()


@contextlib.asynccontextmanager
async def running_fake(limits: RateLimits | None = SCALED_LIMITS) -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(rate_limits=limits) as fake:
        fake.operator_group(GROUP)
        yield fake


# --- citizens ---


def name_of(user_id: int) -> str:
    return f"Житель {user_id}"


def operator_button(message: dict[str, Any]) -> str | None:
    """The callback data of «Связаться с оператором» under a bot message, if any."""
    for row in message.get("reply_markup", {}).get("inline_keyboard", []):
        for button in row:
            data = button.get("callback_data")
            payload = decode(data) if data else None
            if payload is not None and payload.action == Action.OPERATOR:
                return str(data)
    return None


async def ask_questions(
    fake: FakeTelegram, user_ids: Iterable[int], timeout: float = 90.0, question: str = QUESTION
) -> dict[int, dict[str, Any]]:
    """Each citizen asks ``question``; the bot's answers carrying the operator button."""
    ids = list(user_ids)
    for user_id in ids:
        fake.citizen(user_id, name_of(user_id)).send_text(question)

    def answers() -> dict[int, dict[str, Any]]:
        found = {}
        for user_id in ids:
            answer = next((m for m in fake.messages(user_id) if operator_button(m)), None)
            if answer is not None:
                found[user_id] = answer
        return found

    await fake.wait_until(
        lambda: len(answers()) == len(ids), timeout, f"answers with an operator button to {ids}"
    )
    return answers()


def press_operator_buttons(fake: FakeTelegram, answers: dict[int, dict[str, Any]]) -> None:
    """Every citizen presses «Связаться с оператором» at once."""
    for user_id, answer in answers.items():
        data = operator_button(answer)
        assert data is not None
        fake.citizen(user_id, name_of(user_id)).press_button(answer, data)


def requested(fake: FakeTelegram, user_id: int) -> bool:
    """The bot told the citizen that an operator will answer."""
    prefix = texts.OPERATOR_REQUESTED[:30]
    return any((m.get("text") or "").startswith(prefix) for m in fake.messages(user_id))


# --- the operator group ---


@dataclass
class GroupCount:
    """The operator group as the operators see it, per conversation.

    Attributes:
        names: The citizens expected to reach the group (by the name on the card).
        conversations: Each name's conversations, from the cards that name them.
        topics: Topics that exist per conversation (by the «№N» of their name).
        created: createForumTopic calls Telegram answered 200, per conversation.
        cards: Cards per conversation.
        misplaced: Conversations with a card outside their own topic.
        strangers: Topics named for no conversation.
        thread_of: The topic of each conversation (the first one, if several).
    """

    names: list[str]
    conversations: dict[str, list[int]] = field(default_factory=dict)
    topics: Counter[int] = field(default_factory=Counter)
    created: Counter[int] = field(default_factory=Counter)
    cards: Counter[int] = field(default_factory=Counter)
    misplaced: list[int] = field(default_factory=list)
    strangers: list[str] = field(default_factory=list)
    thread_of: dict[int, int] = field(default_factory=dict)

    @property
    def carded(self) -> list[str]:
        return [name for name in self.names if self.conversations.get(name)]

    @property
    def missing(self) -> list[str]:
        return [name for name in self.names if not self.conversations.get(name)]

    @property
    def duplicate_topics(self) -> dict[int, int]:
        return {c: n for c, n in sorted(self.topics.items()) if n > 1}

    @property
    def duplicate_cards(self) -> dict[int, int]:
        return {c: n for c, n in sorted(self.cards.items()) if n > 1}

    @property
    def topicless(self) -> list[int]:
        return sorted(c for c in self.cards if not self.topics.get(c))

    @property
    def shared_names(self) -> dict[str, list[int]]:
        return {n: c for n, c in self.conversations.items() if len(c) > 1}

    def exactly_once(self) -> bool:
        return not (
            self.missing
            or self.duplicate_topics
            or self.duplicate_cards
            or self.topicless
            or self.misplaced
            or self.strangers
            or self.shared_names
            or len(self.topics) != len(self.names)
        )

    def line(self) -> str:
        return (
            f"citizens={len(self.names)} carded={len(self.carded)} "
            f"missing={len(self.missing)} topics={sum(self.topics.values())} "
            f"topic_creations={sum(self.created.values())} "
            f"duplicate_topics={self.duplicate_topics} duplicate_cards={self.duplicate_cards} "
            f"topicless={self.topicless} misplaced={self.misplaced} "
            f"strangers={self.strangers[:5]} shared_names={self.shared_names}"
        )


def count_group(fake: FakeTelegram, names: Sequence[str]) -> GroupCount:
    count = GroupCount(list(names))
    conversation_of_thread: dict[int, int] = {}
    for topic in fake.topics(GROUP):
        match = _TOPIC.match(topic.name)
        if match is None:
            count.strangers.append(topic.name)
            continue
        conversation = int(match.group(1))
        count.topics[conversation] += 1
        conversation_of_thread[topic.thread_id] = conversation
        count.thread_of.setdefault(conversation, topic.thread_id)
    for request in fake.requests("createForumTopic"):
        match = _TOPIC.match(str(request.params.get("name", "")))
        if request.status == 200 and match is not None:
            count.created[int(match.group(1))] += 1
    for message in fake.state.sent.get(GROUP, []):
        lines = (message.get("text") or "").split("\n")
        match = _CARD.match(lines[0])
        if match is None or not message.get("reply_markup"):
            continue
        conversation = int(match.group(1))
        count.cards[conversation] += 1
        if conversation_of_thread.get(message.get("message_thread_id")) != conversation:
            count.misplaced.append(conversation)
        for line in lines[1:]:
            if line.startswith(_CITIZEN):
                owners = count.conversations.setdefault(line.removeprefix(_CITIZEN), [])
                if conversation not in owners:
                    owners.append(conversation)
                break
    return count


def group_activity(fake: FakeTelegram) -> int:
    """Anything the bot did in the group so far (sends and topic calls), for quiet."""
    return len(fake.state.sent.get(GROUP, [])) + len(fake.requests("createForumTopic"))


async def wait_until_carded(
    fake: FakeTelegram, names: Sequence[str], bots: Sequence[BotProcess], timeout: float
) -> float:
    """Wait until every citizen has a card, then until the group stays quiet for QUIET
    seconds (late duplicates would show by then); the seconds it took."""
    started = time.monotonic()
    deadline = started + timeout
    while count_group(fake, names).missing:
        for bot in bots:
            if bot.returncode is not None:
                raise AssertionError(f"the bot exited ({bot.returncode})\n{bot.tail()}")
        if time.monotonic() > deadline:
            return time.monotonic() - started
        await asyncio.sleep(0.2)
    activity, changed = group_activity(fake), time.monotonic()
    while time.monotonic() - changed < QUIET and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        if group_activity(fake) != activity:
            activity, changed = group_activity(fake), time.monotonic()
    return time.monotonic() - started


@dataclass(frozen=True, slots=True)
class Backlog:
    unapplied: int  # handoff events not yet applied
    set_aside: int  # events given up on after their last attempt
    waiting: int  # conversations waiting for an operator

    def line(self) -> str:
        return (
            f"db_unapplied={self.unapplied} db_set_aside={self.set_aside} "
            f"db_waiting={self.waiting}"
        )


async def handoff_backlog(database_url: str) -> Backlog:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:

            async def scalar(sql: str) -> int:
                return int((await connection.execute(text(sql))).scalar() or 0)

            return Backlog(
                await scalar("SELECT count(*) FROM handoff_events WHERE applied_at IS NULL"),
                await scalar(
                    "SELECT count(*) FROM handoff_events WHERE last_error LIKE 'set aside%'"
                ),
                await scalar("SELECT count(*) FROM conversations WHERE status = 'waiting'"),
            )
    finally:
        await engine.dispose()


def sqlite_url(data_dir: Path) -> str:
    return f"sqlite+aiosqlite:///{data_dir / 'djinn.sqlite3'}"


def _first_success(
    fake: FakeTelegram, method: str, conversation: int, pattern: re.Pattern[str]
) -> float | None:
    times = []
    for request in fake.requests(method):
        if request.status != 200 or request.params.get("chat_id") != GROUP:
            continue
        value = str(request.params.get("name" if method == "createForumTopic" else "text", ""))
        match = pattern.match(value.split("\n")[0])
        if match is not None and int(match.group(1)) == conversation:
            times.append(request.at)
    return min(times) if times else None


@dataclass(frozen=True, slots=True)
class Duplicates:
    """Topics and cards that reached the group more than once, split by whether a kill
    of the bot came right after the first of them (the window the desk admits: the call
    went out, the process died before recording it) or not (a bug of its own)."""

    after_kill: list[str]
    unexplained: list[str]

    @property
    def total(self) -> int:
        return len(self.after_kill) + len(self.unexplained)


def classify_duplicates(
    fake: FakeTelegram, count: GroupCount, kills: Sequence[float], window: float = 1.0
) -> Duplicates:
    """``kills`` are the ``time.time()`` of each SIGKILL; a duplicate counts as the
    crash window's when a kill came within ``window`` s after its first call."""
    after_kill, unexplained = [], []
    found = [("topic", "createForumTopic", _TOPIC, c) for c in count.duplicate_topics]
    found += [("card", "sendMessage", _CARD, c) for c in count.duplicate_cards]
    for what, method, pattern, conversation in found:
        first = _first_success(fake, method, conversation, pattern)
        # A kill's time is taken just before the signal is sent: a call already on the
        # wire may reach the fake a few milliseconds after it.
        gaps = [k - first for k in kills if first is not None and -0.2 <= k - first <= window]
        if gaps:
            after_kill.append(
                f"{what} of №{conversation} ({min(gaps, key=abs) * 1000:.0f} ms before a kill)"
            )
        else:
            unexplained.append(f"{what} of №{conversation}")
    return Duplicates(after_kill, unexplained)


def failed_requests(fake: FakeTelegram, status: int) -> int:
    return sum(1 for r in fake.requests() if r.status == status)


class ApiWithoutUpdates:
    """The fake Bot API as a second bot process should see it when only the first one
    receives updates: every method passes through to ``fake`` except getUpdates, which
    answers an empty batch after a short wait. (Telegram ends one of two concurrent
    getUpdates with 409 Conflict, and so does the fake; Djinn has no setting that keeps
    a process from polling.)"""

    def __init__(self, fake: FakeTelegram, empty_poll: float = 1.0) -> None:
        self._fake = fake
        self._empty_poll = empty_poll
        self._runner: web.AppRunner | None = None
        self._client: ClientSession | None = None
        self.port = 0
        self.polls = 0

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def __aenter__(self) -> ApiWithoutUpdates:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._forward)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.port = self._runner.addresses[0][1]
        self._client = ClientSession()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._client is not None:
            await self._client.close()

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["method"].lower() == "getupdates":
            self.polls += 1
            await asyncio.sleep(self._empty_poll)
            return web.json_response({"ok": True, "result": []})
        assert self._client is not None
        headers = {}
        if "Content-Type" in request.headers:
            headers["Content-Type"] = request.headers["Content-Type"]
        async with self._client.request(
            request.method,
            f"{self._fake.api_url}{request.path_qs}",
            data=await request.read(),
            headers=headers,
        ) as answer:
            return web.Response(
                body=await answer.read(),
                status=answer.status,
                content_type=answer.content_type,
            )
