"""Appeals citizens report through the bot's form: registration and look-up."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import SessionFactory
from core.models import Appeal, Conversation, Identity, utcnow

# The categories offered on the form's buttons: stored key -> what citizens see.
CATEGORIES: dict[str, str] = {
    "housing": "ЖКХ и дом",
    "roads": "Дороги и транспорт",
    "improvement": "Благоустройство и дворы",
    "waste": "Мусор и свалки",
    "other": "Другое",
}
REGISTERED = "registered"
_NUMBER_ATTEMPTS = 5


@dataclass(frozen=True, slots=True)
class AppealDraft:
    """What the form collected, with the consent the citizen gave for it.

    Attributes:
        conversation_id: The conversation it was filed in (finds the citizen).
        category: A key of `CATEGORIES`.
        address: Where the problem is.
        description: What happened.
        photos: Channel file references of the photo, empty without one.
        phone: The contact phone, normalised to +7XXXXXXXXXX.
        consent_at: When the citizen agreed to the processing of personal data.
        consent_text: The consent text the citizen was shown.
    """

    conversation_id: int
    category: str
    address: str
    description: str
    photos: list[dict[str, Any]]
    phone: str
    consent_at: datetime
    consent_text: str


@dataclass(frozen=True, slots=True)
class AppealRecord:
    """A registered appeal as the dialogue shows it."""

    number: str
    category: str
    address: str
    status: str
    created_at: datetime


class AppealRepository:
    """Registers appeals and finds a citizen's own ones.

    Args:
        sessions: The session factory.
    """

    def __init__(self, sessions: SessionFactory) -> None:
        self._sessions = sessions

    async def register(self, draft: AppealDraft) -> AppealRecord:
        """Store ``draft`` with the next registration number of the year (``2026-000123``).

        Registering the same draft again (a turn the dialogue repeated or rewound after
        the appeal was stored) registers nothing and returns the appeal already stored,
        with its number; see `idempotency_key`.

        Raises:
            LookupError: When the conversation does not exist (any more).
        """
        key = idempotency_key(draft)
        for attempt in range(_NUMBER_ATTEMPTS):
            try:
                return await self._insert(draft, key)
            except IntegrityError:
                # The same draft was registered concurrently, or another appeal took the
                # number between our read and our insert.
                existing = await self._by_key(key)
                if existing is not None:
                    return existing
                if attempt == _NUMBER_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    async def _insert(self, draft: AppealDraft, key: str) -> AppealRecord:
        async with self._sessions.begin() as session:
            existing = await session.scalar(select(Appeal).where(Appeal.idempotency_key == key))
            if existing is not None:
                return _record(existing)
            found = await session.execute(
                select(Identity.citizen_id, Conversation.channel)
                .join(Conversation, Conversation.identity_id == Identity.id)
                .where(Conversation.id == draft.conversation_id)
            )
            row = found.first()
            if row is None:
                raise LookupError(f"conversation {draft.conversation_id} not found")
            now = utcnow()
            appeal = Appeal(
                number=await _next_number(session, now.year),
                citizen_id=row.citizen_id,
                conversation_id=draft.conversation_id,
                channel=row.channel,
                category=draft.category,
                address=draft.address,
                description=draft.description,
                photos=draft.photos or None,
                phone=draft.phone,
                consent_at=draft.consent_at,
                consent_text=draft.consent_text,
                status=REGISTERED,
                idempotency_key=key,
                created_at=now,
            )
            session.add(appeal)
            await session.flush()
            return _record(appeal)

    async def _by_key(self, key: str) -> AppealRecord | None:
        async with self._sessions() as session:
            appeal = await session.scalar(select(Appeal).where(Appeal.idempotency_key == key))
            return None if appeal is None else _record(appeal)

    async def of_conversation_citizen(
        self, conversation_id: int, *, number: str | None = None, limit: int = 5
    ) -> list[AppealRecord]:
        """The newest appeals of the citizen behind a conversation (theirs only).

        The citizen is found from the conversation's identity; a registration number
        alone never identifies anyone.

        Args:
            conversation_id: The conversation the citizen writes in.
            number: Only the appeal with this number, if it is the citizen's.
            limit: At most this many, newest first.
        """
        async with self._sessions() as session:
            citizen_id = await session.scalar(
                select(Identity.citizen_id)
                .join(Conversation, Conversation.identity_id == Identity.id)
                .where(Conversation.id == conversation_id)
            )
            if citizen_id is None:
                return []
            query = select(Appeal).where(Appeal.citizen_id == citizen_id)
            if number is not None:
                query = query.where(Appeal.number == number)
            rows = await session.scalars(
                query.order_by(Appeal.created_at.desc(), Appeal.id.desc()).limit(limit)
            )
            return [_record(a) for a in rows]


def idempotency_key(draft: AppealDraft) -> str:
    """The draft's identity: the conversation, the moment of consent and every collected
    field (sha256, hex). A second submission of one filled form has the same key; a form
    filled again (a new consent) or with any field changed has another."""
    consent_at = draft.consent_at
    if consent_at.tzinfo is not None:
        consent_at = consent_at.astimezone(UTC)
    fields = [
        draft.conversation_id,
        consent_at.isoformat(),
        draft.category,
        draft.address,
        draft.description,
        draft.photos,
        draft.phone,
    ]
    canonical = json.dumps(fields, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


async def _next_number(session: AsyncSession, year: int) -> str:
    prefix = f"{year}-"
    last = await session.scalar(
        select(func.max(Appeal.number)).where(Appeal.number.like(prefix + "%"))
    )
    sequence = int(last.removeprefix(prefix)) + 1 if last else 1
    return f"{prefix}{sequence:06d}"


def _record(appeal: Appeal) -> AppealRecord:
    return AppealRecord(
        number=appeal.number,
        category=appeal.category,
        address=appeal.address,
        status=appeal.status,
        created_at=appeal.created_at,
    )
