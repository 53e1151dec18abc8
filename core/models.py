"""SQLAlchemy 2 ORM models. Portable between SQLite and PostgreSQL: enums are
stored as strings and structured data as JSON."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy import text as sql_text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# The most of an error's text kept in a row (``last_error``, ``delivery_error``).
ERROR_LIMIT = 2000


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """A stored time as an aware UTC datetime (SQLite gives them back naive)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: DateTime(timezone=True),
        dict[str, Any]: JSON,
        list[Any]: JSON,
    }


class Citizen(Base):
    """A person; one citizen may later own identities on several channels."""

    __tablename__ = "citizens"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    identities: Mapped[list[Identity]] = relationship(back_populates="citizen")


class Identity(Base):
    """A citizen's account on one channel."""

    __tablename__ = "identities"
    __table_args__ = (UniqueConstraint("channel", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(64))
    chat_id: Mapped[str] = mapped_column(String(64))
    display_name: Mapped[str | None] = mapped_column(String(256))
    username: Mapped[str | None] = mapped_column(String(64))
    language_code: Mapped[str | None] = mapped_column(String(16))
    blocked_at: Mapped[datetime | None]
    # Banned by an operator (spam): messages are stored, nothing is answered or relayed.
    banned_at: Mapped[datetime | None]
    banned_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    citizen: Mapped[Citizen] = relationship(back_populates="identities")


class Conversation(Base):
    """A conversation of one identity; at most one is open (not closed) at a time."""

    __tablename__ = "conversations"
    __table_args__ = (Index("ix_conversations_identity_status", "identity_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    identity_id: Mapped[int] = mapped_column(ForeignKey("identities.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), index=True)
    status_reason: Mapped[str | None] = mapped_column(String(64))
    priority: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    waiting_since: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]


class Message(Base):
    """Every message in and out. Inbound rows are unique on (channel, dedup_key) and
    carry ``handled_at`` once their turn committed; outbound rows double as the outbox
    until delivered (``claimed_by``/``claimed_until`` lease a row to one sender,
    ``next_attempt_at`` paces retries, ``parts_sent`` counts the parts of a long reply
    already delivered)."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("channel", "dedup_key"),
        Index("ix_messages_conversation_created", "conversation_id", "created_at"),
        Index("ix_messages_delivery", "channel", "delivery_status", "chat_id"),
        # The dashboard's messages per day and channel (`admin.dashboard`).
        Index(
            "ix_messages_channel_direction_created",
            "channel",
            "direction",
            "created_at",
            "conversation_id",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE")
    )
    channel: Mapped[str] = mapped_column(String(16))
    direction: Mapped[str] = mapped_column(String(8))
    kind: Mapped[str] = mapped_column(String(16))
    dedup_key: Mapped[str | None] = mapped_column(String(128))
    external_id: Mapped[str | None] = mapped_column(String(64))
    chat_id: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text, default="")
    payload: Mapped[str | None] = mapped_column(String(255))
    buttons: Mapped[list[Any] | None]
    attachments: Mapped[list[Any] | None]
    delivery_status: Mapped[str | None] = mapped_column(String(16))
    delivery_error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    parts_sent: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_until: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None]
    handled_at: Mapped[datetime | None]
    # Who wrote an outbound message: None for the bot, ``operator:<Telegram user id>``.
    author: Mapped[str | None] = mapped_column(String(64))


class FaqEntry(Base):
    """A question and its answer; searchable only while published."""

    __tablename__ = "faq_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str | None] = mapped_column(String(64), unique=True)
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    category: Mapped[str | None] = mapped_column(String(128), index=True)
    status: Mapped[str] = mapped_column(String(16), default="published", index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    phrasings: Mapped[list[FaqPhrasing]] = relationship(
        back_populates="entry",
        cascade="all, delete-orphan",
        order_by="FaqPhrasing.position",
        lazy="selectin",
    )


class FaqPhrasing(Base):
    """An alternative way citizens ask an entry's question."""

    __tablename__ = "faq_phrasings"

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(
        ForeignKey("faq_entries.id", ondelete="CASCADE"), index=True
    )
    text: Mapped[str] = mapped_column(Text)
    position: Mapped[int] = mapped_column(Integer, default=0)
    entry: Mapped[FaqEntry] = relationship(back_populates="phrasings")


class LearnedPhrasing(Base):
    """A citizens' phrasing of an entry's question learned from use (`knowledge_base.
    learning`): searched like the editors' phrasings while active; an editor may reject
    it, and a rejected phrasing is never learned again."""

    __tablename__ = "faq_learned"
    __table_args__ = (UniqueConstraint("entry_id", "text"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(
        ForeignKey("faq_entries.id", ondelete="CASCADE"), index=True
    )
    # The question as searched (cleaned), the form the index embeds.
    text: Mapped[str] = mapped_column(Text)
    # Distinct citizens (an operator's answer counts as enough on its own) whose similar
    # questions confirmed the entry, and those whose similar questions rejected it.
    citizens: Mapped[int] = mapped_column(Integer, default=0)
    opposed: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default="active", index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class FaqRevision(Base):
    """A snapshot of an entry after each change."""

    __tablename__ = "faq_revisions"
    __table_args__ = (UniqueConstraint("entry_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("faq_entries.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    key: Mapped[str | None] = mapped_column(String(64))
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    category: Mapped[str | None] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16))
    phrasings: Mapped[list[Any]]
    author: Mapped[str | None] = mapped_column(String(128))
    reason: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class KbVersion(Base):
    """One row per change of the published knowledge base; the newest id is current."""

    __tablename__ = "kb_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    reason: Mapped[str] = mapped_column(String(255))
    entries: Mapped[int] = mapped_column(Integer)
    # The answer margin measured on citizens' verdicts when this version was made by
    # learning from use (`knowledge_base.learning`); None when too few verdicts.
    use_margin: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SearchLog(Base):
    """One knowledge-base search: what was asked, what was found, what the bot did,
    and what the citizen thought of it."""

    __tablename__ = "search_log"
    # The dashboard's questions of a period and the next question of a conversation
    # (`admin.dashboard`), read from the indexes alone.
    __table_args__ = (
        Index(
            "ix_search_log_created_outcome",
            "created_at",
            "conversation_id",
            "message_id",
            "decision",
            "chosen_entry_id",
            "feedback",
            "top_entry_id",
            "came_back",
        ),
        Index(
            "ix_search_log_conversation_outcome",
            "conversation_id",
            "created_at",
            "message_id",
            "decision",
            "chosen_entry_id",
            "feedback",
            "top_entry_id",
            "came_back",
        ),
        # The questions whose comeback is still to be settled (`admin.comebacks`).
        Index(
            "ix_search_log_unsettled",
            "created_at",
            sqlite_where=sql_text("came_back IS NULL"),
            postgresql_where=sql_text("came_back IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="SET NULL"), index=True
    )
    message_id: Mapped[int | None] = mapped_column(
        ForeignKey("messages.id", ondelete="SET NULL"), index=True
    )
    # Which question of the message: 0 for the whole message, 1… for each of several
    # questions answered separately (`nlu.retrieval.plan_reply`).
    part: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    channel: Mapped[str | None] = mapped_column(String(16))
    query: Mapped[str] = mapped_column(Text)
    normalized_query: Mapped[str] = mapped_column(Text)
    hits: Mapped[list[Any]]
    # The first hit's entry and score, kept apart from ``hits`` so that the dashboard
    # counts topics over a year of questions without reading JSON.
    top_entry_id: Mapped[int | None] = mapped_column(Integer)
    top_score: Mapped[float | None] = mapped_column(Float)
    decision: Mapped[str] = mapped_column(String(16), index=True)
    kb_version: Mapped[int | None] = mapped_column(Integer)
    feedback: Mapped[str | None] = mapped_column(String(16), index=True)
    feedback_at: Mapped[datetime | None]
    chosen_entry_id: Mapped[int | None] = mapped_column(
        ForeignKey("faq_entries.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    # A new question or an operator request in the conversation within 72 hours after
    # this one; NULL until those hours have passed and `admin.comebacks` settled it.
    came_back: Mapped[bool | None] = mapped_column(Boolean)


class InboxUpdate(Base):
    """A raw update made durable before the channel is told we have it.

    ``status`` is ``pending`` until handled (``done``), found to need no handling
    (``ignored``: malformed, or of a kind the bot does not serve) or set aside after
    its last attempt (``quarantined``, with ``last_error``). A pending update is leased
    to one worker at a time (``claimed_by``/``claimed_until``) and retried no sooner
    than ``next_attempt_at``.
    """

    __tablename__ = "inbox_updates"
    __table_args__ = (
        UniqueConstraint("channel", "update_key"),
        Index("ix_inbox_updates_channel_status", "channel", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    update_key: Mapped[str] = mapped_column(String(128))
    payload: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(16), default="pending", server_default="pending")
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)


class DialogueButton(Base):
    """A button the dialogue engine offered; channels carry only its short id
    (Telegram allows 64 bytes of callback data), the payload stays here."""

    __tablename__ = "dialogue_buttons"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    title: Mapped[str] = mapped_column(String(255))
    payload: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Appeal(Base):
    """A problem a citizen reported through the bot's appeal form.

    Not an official appeal under 59-FZ (those arrive through channels that identify
    the citizen); a registered request the administration works on.
    """

    __tablename__ = "appeals"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    citizen_id: Mapped[int] = mapped_column(
        ForeignKey("citizens.id", ondelete="CASCADE"), index=True
    )
    conversation_id: Mapped[int | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="SET NULL")
    )
    channel: Mapped[str] = mapped_column(String(16))
    category: Mapped[str] = mapped_column(String(128))
    address: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text)
    photos: Mapped[list[Any] | None]
    phone: Mapped[str] = mapped_column(String(16))
    consent_at: Mapped[datetime]
    consent_text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="registered", index=True)
    # The same draft submitted again (a retried or rewound turn) finds this appeal.
    idempotency_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class WebVisitor(Base):
    """A visitor of the website's chat widget, known by the id in their signed token
    (``bots.web``); the token is honoured only while this row exists. Sending the first
    message after the personal-data notice is consent (152-FZ): when, and which notice
    (its link), are kept."""

    __tablename__ = "web_visitors"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    notice_accepted_at: Mapped[datetime | None]
    notice_url: Mapped[str | None] = mapped_column(String(512))


class HandoffEvent(Base):
    """Something the operators must learn about a conversation (it asks for an operator,
    the citizen wrote, the citizen withdrew the request…), stored in the transaction
    that caused it: the transactional outbox of the handoff queue.

    A relay copies it onto the Redis stream (``stream_epoch`` names the stream's
    lifetime it went onto, so a Redis that lost its data gets it again, and one still
    unapplied long after ``published_at`` is published again); a consumer
    applies the events of a conversation in ``id`` order and sets ``applied_at``.
    """

    __tablename__ = "handoff_events"
    __table_args__ = (
        Index("ix_handoff_events_conversation_applied", "conversation_id", "applied_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE")
    )
    kind: Mapped[str] = mapped_column(String(32))
    priority: Mapped[int] = mapped_column(Integer, default=0)
    payload: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    stream_epoch: Mapped[str | None] = mapped_column(String(36))
    published_at: Mapped[datetime | None]
    applied_at: Mapped[datetime | None] = mapped_column(index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)


class OperatorTopic(Base):
    """The operator group's forum topic of a conversation (one per conversation; a topic
    deleted by hand is replaced, and this row then names the new one)."""

    __tablename__ = "operator_topics"
    __table_args__ = (Index("ix_operator_topics_thread", "group_chat_id", "thread_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), unique=True
    )
    group_chat_id: Mapped[str] = mapped_column(String(32))
    thread_id: Mapped[int] = mapped_column(BigInteger)
    name: Mapped[str] = mapped_column(String(128))
    card_message_id: Mapped[int | None] = mapped_column(BigInteger)
    # The request event whose card is posted (a new request after closing gets a new card).
    card_event_id: Mapped[int | None] = mapped_column(Integer)
    # The topic was closed (the conversation closed or went back to the bot).
    closed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class HandoffCase(Base):
    """One stay of a conversation with the operators, from the request to «Закрыть» or
    «Вернуть боту»: who took it and when, the first response, the SLA and the citizen's
    rating. The figures of the dashboard are read from these rows."""

    __tablename__ = "handoff_cases"
    __table_args__ = (
        Index("ix_handoff_cases_conversation", "conversation_id", "ended_at"),
        Index("ix_handoff_cases_sla", "first_response_at", "sla_due_at"),
        # The dashboard: operator requests after a question (`admin.dashboard`).
        Index("ix_handoff_cases_conversation_requested", "conversation_id", "requested_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE")
    )
    reason: Mapped[str | None] = mapped_column(String(64))
    priority: Mapped[int] = mapped_column(Integer, default=0)
    group_chat_id: Mapped[str | None] = mapped_column(String(32), index=True)
    requested_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    sla_due_at: Mapped[datetime | None]
    sla_reminded_at: Mapped[datetime | None]
    sla_missed_at: Mapped[datetime | None]
    operator_id: Mapped[str | None] = mapped_column(String(64), index=True)
    operator_name: Mapped[str | None] = mapped_column(String(256))
    taken_at: Mapped[datetime | None]
    first_response_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(16))  # closed, returned, cancelled
    reopenings: Mapped[int] = mapped_column(Integer, default=0)
    csat_score: Mapped[int | None] = mapped_column(Integer)
    csat_comment: Mapped[str | None] = mapped_column(Text)
    csat_at: Mapped[datetime | None]


class AuditEntry(Base):
    """Who did what and when: assignments, bans, returns and closings by operators;
    users and API tokens of the web admin created, locked, revoked."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(64))
    actor_name: Mapped[str | None] = mapped_column(String(256))
    action: Mapped[str] = mapped_column(String(32), index=True)
    conversation_id: Mapped[int | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="SET NULL")
    )
    details: Mapped[dict[str, Any] | None]


class AdminUser(Base):
    """A person who signs in to the web admin. ``password_hash`` is a scrypt hash
    (`admin.security`); ``failed_logins`` counts wrong passwords in a row, and reaching
    the limit sets ``locked_until``."""

    __tablename__ = "admin_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    login: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    failed_logins: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    locked_until: Mapped[datetime | None]
    disabled_at: Mapped[datetime | None]
    last_login_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class AdminSession(Base):
    """A signed-in browser: the cookie carries a random token, the row only its SHA-256
    (a stolen database gives no usable cookie), with the session's CSRF token."""

    __tablename__ = "admin_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("admin_users.id", ondelete="CASCADE"), index=True
    )
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class ApiToken(Base):
    """A bearer token for the HTTP API, issued by an admin to another system; only its
    SHA-256 is kept (the token is shown once)."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class ReplyTemplate(Base):
    """An operator's canned reply (``/t name``); ``{name}`` and ``{number}`` are replaced
    by the citizen's name and the conversation number."""

    __tablename__ = "reply_templates"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
