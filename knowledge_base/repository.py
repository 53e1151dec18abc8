"""FAQ entries, their revisions and the knowledge-base version in the database."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import SessionFactory
from core.domain import LearnedStatus
from core.models import FaqEntry, FaqPhrasing, FaqRevision, KbVersion, LearnedPhrasing
from knowledge_base.drafts import EntryDraft, EntryStatus
from knowledge_base.index import IndexedEntry
from knowledge_base.normalize import fold, strip_invisible


def question_key(text: str) -> str:
    """What makes two questions the same question: case, ё/е and spacing aside."""
    return " ".join(fold(strip_invisible(text)).split())


@dataclass
class ImportReport:
    """What an import changed."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    archived: int = 0
    version: int = 0
    changed_keys: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.archived)


def _snapshot(entry: FaqEntry) -> tuple[object, ...]:
    return (
        entry.key,
        entry.question,
        entry.answer,
        entry.category,
        entry.status,
        tuple(p.text for p in entry.phrasings),
    )


def _draft_snapshot(draft: EntryDraft, key: str | None) -> tuple[object, ...]:
    return (
        key,
        draft.question,
        draft.answer,
        draft.category,
        str(draft.status),
        tuple(draft.phrasings),
    )


class FaqRepository:
    """Reads and changes the knowledge base; every change bumps its version."""

    def __init__(self, sessions: SessionFactory) -> None:
        self._sessions = sessions

    @property
    def sessions(self) -> SessionFactory:
        return self._sessions

    async def current_version(self) -> int:
        """The newest knowledge-base version (0 before the first import)."""
        async with self._sessions() as session:
            return int(await session.scalar(select(func.max(KbVersion.id))) or 0)

    async def count(self, status: EntryStatus = EntryStatus.PUBLISHED) -> int:
        async with self._sessions() as session:
            return int(
                await session.scalar(
                    select(func.count()).select_from(FaqEntry).where(FaqEntry.status == status)
                )
                or 0
            )

    async def published(self) -> tuple[int, list[IndexedEntry]]:
        """The current version and its published entries, read in one transaction."""
        async with self._sessions() as session:
            version = int(await session.scalar(select(func.max(KbVersion.id))) or 0)
            rows = (
                await session.scalars(
                    select(FaqEntry)
                    .where(FaqEntry.status == EntryStatus.PUBLISHED)
                    .order_by(FaqEntry.id)
                )
            ).all()
            learned: dict[int, list[str]] = {}
            for entry_id, text in await session.execute(
                select(LearnedPhrasing.entry_id, LearnedPhrasing.text)
                .where(LearnedPhrasing.status == LearnedStatus.ACTIVE)
                .order_by(LearnedPhrasing.id)
            ):
                learned.setdefault(entry_id, []).append(text)
            return version, [
                IndexedEntry(
                    id=e.id,
                    question=e.question,
                    answer=e.answer,
                    category=e.category,
                    key=e.key,
                    phrasings=tuple(p.text for p in e.phrasings),
                    learned=tuple(learned.get(e.id, ())),
                )
                for e in rows
            ]

    async def use_margin(self) -> float | None:
        """The answer margin last measured on citizens' verdicts (`knowledge_base.
        learning`), None while there were too few."""
        async with self._sessions() as session:
            return await session.scalar(
                select(KbVersion.use_margin)
                .where(KbVersion.use_margin.is_not(None))
                .order_by(KbVersion.id.desc())
                .limit(1)
            )

    async def export(self, include_archived: bool = False) -> list[EntryDraft]:
        """Every entry as a draft, for writing to a file."""
        async with self._sessions() as session:
            query = select(FaqEntry).order_by(FaqEntry.id)
            if not include_archived:
                query = query.where(FaqEntry.status != EntryStatus.ARCHIVED)
            return [
                EntryDraft(
                    question=e.question,
                    answer=e.answer,
                    category=e.category,
                    phrasings=tuple(p.text for p in e.phrasings),
                    key=e.key,
                    status=EntryStatus(e.status),
                )
                for e in (await session.scalars(query)).all()
            ]

    async def apply_import(
        self,
        drafts: Sequence[EntryDraft],
        *,
        replace: bool = False,
        author: str | None = None,
        source: str = "import",
    ) -> ImportReport:
        """Apply an import in one transaction: all of it or nothing.

        Entries are matched by key, else by question. Changed entries get a new
        revision; with ``replace``, entries missing from the import are archived
        (their history stays).
        """
        report = ImportReport()
        async with self._sessions.begin() as session:
            existing = (await session.scalars(select(FaqEntry))).all()
            by_key = {e.key: e for e in existing if e.key}
            by_question = {question_key(e.question): e for e in existing}
            matched: set[int] = set()
            for draft in drafts:
                entry = by_key.get(draft.key) if draft.key else None
                entry = entry or by_question.get(question_key(draft.question))
                if entry is None:
                    entry = self._create(session, draft)
                    report.created += 1
                elif _snapshot(entry) != _draft_snapshot(draft, draft.key or entry.key):
                    self._update(entry, draft)
                    report.updated += 1
                else:
                    report.unchanged += 1
                    matched.add(entry.id)
                    continue
                await session.flush()
                matched.add(entry.id)
                session.add(_revision(entry, author, source))
                report.changed_keys.append(entry.key or str(entry.id))
            if replace:
                for entry in existing:
                    if entry.id not in matched and entry.status != EntryStatus.ARCHIVED:
                        entry.status = EntryStatus.ARCHIVED
                        entry.version += 1
                        session.add(_revision(entry, author, f"{source} (replace)"))
                        report.archived += 1
            if report.changed:
                await session.flush()
                published = await session.scalar(
                    select(func.count())
                    .select_from(FaqEntry)
                    .where(FaqEntry.status == EntryStatus.PUBLISHED)
                )
                version = KbVersion(reason=source[:255], entries=int(published or 0))
                session.add(version)
                await session.flush()
                report.version = version.id
            else:
                report.version = int(await session.scalar(select(func.max(KbVersion.id))) or 0)
        return report

    @staticmethod
    def _create(session: AsyncSession, draft: EntryDraft) -> FaqEntry:
        entry = FaqEntry(
            key=draft.key,
            question=draft.question,
            answer=draft.answer,
            category=draft.category,
            status=str(draft.status),
            version=1,
            phrasings=[FaqPhrasing(text=t, position=i) for i, t in enumerate(draft.phrasings)],
        )
        session.add(entry)
        return entry

    @staticmethod
    def _update(entry: FaqEntry, draft: EntryDraft) -> None:
        entry.key = draft.key or entry.key
        entry.question = draft.question
        entry.answer = draft.answer
        entry.category = draft.category
        entry.status = str(draft.status)
        entry.phrasings = [FaqPhrasing(text=t, position=i) for i, t in enumerate(draft.phrasings)]
        entry.version += 1


def _revision(entry: FaqEntry, author: str | None, reason: str) -> FaqRevision:
    return FaqRevision(
        entry_id=entry.id,
        version=entry.version,
        key=entry.key,
        question=entry.question,
        answer=entry.answer,
        category=entry.category,
        status=entry.status,
        phrasings=[p.text for p in entry.phrasings],
        author=author,
        reason=reason[:255],
    )
