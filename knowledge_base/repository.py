"""FAQ entries, their revisions and the knowledge-base version in the database."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import SessionFactory
from core.domain import LearnedStatus
from core.models import (
    AuditEntry,
    FaqEntry,
    FaqPhrasing,
    FaqRevision,
    KbVersion,
    LearnedPhrasing,
)
from knowledge_base.drafts import EntryDraft, EntryStatus
from knowledge_base.index import IndexedEntry
from knowledge_base.io.records import MAX_ANSWER, MAX_QUESTION
from knowledge_base.io.validation import KEY_PATTERN, MAX_KEY
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


class EntryNotFound(LookupError):
    """No entry with that id."""


class EditConflict(RuntimeError):
    """The entry changed since the editor opened it; saving would undo that change."""

    def __init__(self, current: int) -> None:
        super().__init__(f"entry changed meanwhile (now version {current})")
        self.current = current


class EntryInvalid(ValueError):
    """An entry the editor cannot save; the message is for the person (Russian)."""


@dataclass(frozen=True, slots=True)
class SavedEntry:
    """What saving one entry did."""

    entry_id: int
    version: int  # the entry's version after the save
    kb_version: int  # the knowledge base's version after the save
    changed: bool


@dataclass(frozen=True, slots=True)
class EntryRow:
    """An entry as the editor's list shows it."""

    id: int
    key: str | None
    question: str
    answer: str
    category: str | None
    status: str
    version: int
    phrasings: int
    updated_at: Any


def entry_fields(entry: FaqEntry | FaqRevision) -> dict[str, Any]:
    """An entry or a revision as plain fields: what the audit log keeps as before/after
    and what a diff compares."""
    phrasings = (
        [p.text for p in entry.phrasings]
        if isinstance(entry, FaqEntry)
        else list(entry.phrasings or [])
    )
    return {
        "key": entry.key,
        "question": entry.question,
        "answer": entry.answer,
        "category": entry.category,
        "status": entry.status,
        "phrasings": phrasings,
    }


@dataclass
class ImportPlan:
    """What an import would change: new entries, changed ones (id, fields before, the
    draft), how many stay as they are, and those ``replace`` would archive."""

    created: list[EntryDraft] = field(default_factory=list)
    updated: list[tuple[int, dict[str, Any], EntryDraft]] = field(default_factory=list)
    unchanged: int = 0
    archived: list[tuple[int, dict[str, Any]]] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.archived)


def _matcher(existing: Sequence[FaqEntry]) -> Any:
    """The existing entry an imported one replaces: the same key, else the same
    question."""
    by_key = {e.key: e for e in existing if e.key}
    by_question = {question_key(e.question): e for e in existing}

    def match(draft: EntryDraft) -> FaqEntry | None:
        entry = by_key.get(draft.key) if draft.key else None
        return entry or by_question.get(question_key(draft.question))

    return match


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
            match = _matcher(existing)
            matched: set[int] = set()
            for draft in drafts:
                entry = match(draft)
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
                session.add(
                    AuditEntry(
                        actor=(author or "shell")[:64],
                        action="faq.imported",
                        details={
                            "source": source,
                            "created": report.created,
                            "updated": report.updated,
                            "archived": report.archived,
                            "keys": report.changed_keys[:200],
                        },
                    )
                )
                await session.flush()
                report.version = version.id
            else:
                report.version = int(await session.scalar(select(func.max(KbVersion.id))) or 0)
        return report

    # --- One entry at a time: the web admin's editor ------------------------------------

    async def find(
        self,
        *,
        query: str = "",
        category: str | None = None,
        status: str | None = None,
    ) -> list[FaqEntry]:
        """Entries for the editor's list and the API, newest change first. ``query``
        matches words of the question, the answer, the phrasings or the key regardless
        of case and ё; ``category`` "" means entries without one. Filtered here rather
        than with SQL LIKE, which folds only Latin case in SQLite; a knowledge base
        holds thousands of entries, not millions."""
        needle = question_key(query).split()
        async with self._sessions() as session:
            rows = (
                await session.scalars(
                    select(FaqEntry).order_by(FaqEntry.updated_at.desc(), FaqEntry.id.desc())
                )
            ).all()
        found: list[FaqEntry] = []
        for e in rows:
            if status and e.status != status:
                continue
            if category is not None and (e.category or "") != category:
                continue
            if needle:
                haystack = question_key(
                    " ".join([e.key or "", e.question, e.answer, *(p.text for p in e.phrasings)])
                )
                if not all(word in haystack for word in needle):
                    continue
            found.append(e)
        return found

    async def entries(
        self,
        *,
        query: str = "",
        category: str | None = None,
        status: str | None = None,
    ) -> list[EntryRow]:
        """`find` as the rows of the editor's list."""
        return [
            EntryRow(
                e.id,
                e.key,
                e.question,
                e.answer,
                e.category,
                e.status,
                e.version,
                len(e.phrasings),
                e.updated_at,
            )
            for e in await self.find(query=query, category=category, status=status)
        ]

    async def categories(self) -> list[str]:
        """The categories in use, for the filter and the editor's suggestions."""
        async with self._sessions() as session:
            return sorted(
                c
                for c in await session.scalars(
                    select(FaqEntry.category).where(FaqEntry.category.is_not(None)).distinct()
                )
                if c
            )

    async def entry(self, entry_id: int) -> FaqEntry | None:
        async with self._sessions() as session:
            return await session.get(FaqEntry, entry_id)

    async def revisions(self, entry_id: int) -> list[FaqRevision]:
        """An entry's revisions, newest first."""
        async with self._sessions() as session:
            return list(
                await session.scalars(
                    select(FaqRevision)
                    .where(FaqRevision.entry_id == entry_id)
                    .order_by(FaqRevision.version.desc())
                )
            )

    async def save_entry(
        self,
        draft: EntryDraft,
        *,
        entry_id: int | None = None,
        expected_version: int | None = None,
        author: str,
        reason: str = "правка",
    ) -> SavedEntry:
        """Create an entry (``entry_id`` None) or change one; a change writes a revision,
        an audit record with the fields before and after, and a new knowledge-base
        version that the bots load. ``expected_version`` is the version the editor
        opened: if someone saved since, `EditConflict` rather than a silent overwrite."""
        draft = _checked(draft)
        async with self._sessions.begin() as session:
            await self._check_unique(session, draft, entry_id)
            if entry_id is None:
                entry = self._create(session, draft)
                await session.flush()
                before = None
                action = "faq.created"
            else:
                entry = await self._locked(session, entry_id, expected_version)
                before = entry_fields(entry)
                if _snapshot(entry) == _draft_snapshot(draft, draft.key or entry.key):
                    return SavedEntry(entry.id, entry.version, await _kb_version(session), False)
                self._update(entry, draft)
                await session.flush()
                action = "faq.updated"
            return await self._record(session, entry, author, reason, action, before)

    async def archive(
        self, entry_id: int, *, expected_version: int | None = None, author: str
    ) -> SavedEntry:
        """Take an entry out of the bot's answers; its history stays and it can be
        restored from it."""
        async with self._sessions.begin() as session:
            entry = await self._locked(session, entry_id, expected_version)
            if entry.status == EntryStatus.ARCHIVED:
                return SavedEntry(entry.id, entry.version, await _kb_version(session), False)
            before = entry_fields(entry)
            entry.status = EntryStatus.ARCHIVED
            entry.version += 1
            return await self._record(session, entry, author, "в архив", "faq.archived", before)

    async def rollback(
        self,
        entry_id: int,
        to_version: int,
        *,
        expected_version: int | None = None,
        author: str,
    ) -> SavedEntry:
        """Make an entry what it was at revision ``to_version``, as a new revision."""
        async with self._sessions.begin() as session:
            entry = await self._locked(session, entry_id, expected_version)
            old = await session.scalar(
                select(FaqRevision).where(
                    FaqRevision.entry_id == entry_id, FaqRevision.version == to_version
                )
            )
            if old is None:
                raise EntryNotFound(f"entry {entry_id} has no revision {to_version}")
            draft = EntryDraft(
                question=old.question,
                answer=old.answer,
                category=old.category,
                phrasings=tuple(old.phrasings or ()),
                key=old.key,
                status=EntryStatus(old.status),
            )
            await self._check_unique(session, draft, entry_id)
            before = entry_fields(entry)
            if _snapshot(entry) == _draft_snapshot(draft, draft.key or entry.key):
                return SavedEntry(entry.id, entry.version, await _kb_version(session), False)
            self._update(entry, draft)
            await session.flush()
            return await self._record(
                session, entry, author, f"откат к версии {to_version}", "faq.rolled_back", before
            )

    @staticmethod
    async def _locked(
        session: AsyncSession, entry_id: int, expected_version: int | None
    ) -> FaqEntry:
        entry = await session.get(FaqEntry, entry_id, with_for_update=True)
        if entry is None:
            raise EntryNotFound(f"no entry {entry_id}")
        if expected_version is not None and entry.version != expected_version:
            raise EditConflict(entry.version)
        return entry

    @staticmethod
    async def _check_unique(
        session: AsyncSession, draft: EntryDraft, entry_id: int | None
    ) -> None:
        if draft.key:
            other = await session.scalar(
                select(FaqEntry.id).where(FaqEntry.key == draft.key, FaqEntry.id != entry_id)
            )
            if other is not None:
                raise EntryInvalid(f"ключ «{draft.key}» уже занят записью №{other}")
        if draft.status == EntryStatus.ARCHIVED:
            return
        wanted = question_key(draft.question)
        for other_id, question in await session.execute(
            select(FaqEntry.id, FaqEntry.question).where(
                FaqEntry.status != EntryStatus.ARCHIVED,
                FaqEntry.id != (entry_id if entry_id is not None else -1),
            )
        ):
            if question_key(question) == wanted:
                raise EntryInvalid(f"такой вопрос уже есть: запись №{other_id}")

    @staticmethod
    async def _record(
        session: AsyncSession,
        entry: FaqEntry,
        author: str,
        reason: str,
        action: str,
        before: dict[str, Any] | None,
    ) -> SavedEntry:
        await session.refresh(entry, ["phrasings"])
        session.add(_revision(entry, author, reason))
        session.add(
            AuditEntry(
                actor=author[:64],
                action=action,
                details={"entry_id": entry.id, "before": before, "after": entry_fields(entry)},
            )
        )
        published = await session.scalar(
            select(func.count()).select_from(FaqEntry).where(FaqEntry.status == "published")
        )
        version = KbVersion(reason=f"{action} #{entry.id}"[:255], entries=int(published or 0))
        session.add(version)
        await session.flush()
        return SavedEntry(entry.id, entry.version, version.id, True)

    async def plan_import(
        self, drafts: Sequence[EntryDraft], *, replace: bool = False
    ) -> ImportPlan:
        """What `apply_import` would do with ``drafts`` now, changing nothing: the
        preview an editor sees before applying a file."""
        plan = ImportPlan()
        async with self._sessions() as session:
            existing = (await session.scalars(select(FaqEntry))).all()
            match = _matcher(existing)
            matched: set[int] = set()
            for draft in drafts:
                entry = match(draft)
                if entry is None:
                    plan.created.append(draft)
                    continue
                matched.add(entry.id)
                if _snapshot(entry) == _draft_snapshot(draft, draft.key or entry.key):
                    plan.unchanged += 1
                else:
                    plan.updated.append((entry.id, entry_fields(entry), draft))
            if replace:
                plan.archived = [
                    (e.id, entry_fields(e))
                    for e in existing
                    if e.id not in matched and e.status != EntryStatus.ARCHIVED
                ]
        return plan

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


async def _kb_version(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.max(KbVersion.id))) or 0)


MAX_PHRASINGS = 100


def _checked(draft: EntryDraft) -> EntryDraft:
    """The draft with its text tidied, or `EntryInvalid` saying what to fix."""
    question = " ".join(strip_invisible(draft.question).split())
    answer = strip_invisible(draft.answer).strip()
    category = " ".join(strip_invisible(draft.category or "").split()) or None
    key = (draft.key or "").strip() or None
    if not question:
        raise EntryInvalid("нужен вопрос")
    if not answer and draft.status == EntryStatus.PUBLISHED:
        raise EntryInvalid("нужен ответ: без него запись можно сохранить только черновиком")
    if len(question) > MAX_QUESTION:
        raise EntryInvalid(f"вопрос длиннее {MAX_QUESTION} символов")
    if len(answer) > MAX_ANSWER:
        raise EntryInvalid(
            f"ответ длиннее {MAX_ANSWER} символов: в Telegram одно сообщение вмещает 4096"
        )
    if category and len(category) > 128:
        raise EntryInvalid("название категории длиннее 128 символов")
    if key and (len(key) > MAX_KEY or not KEY_PATTERN.fullmatch(key)):
        raise EntryInvalid(
            "ключ — латинские буквы в нижнем регистре, цифры и дефисы (например, "
            f"zhkh-oplata), не длиннее {MAX_KEY} символов"
        )
    seen = {question_key(question)}
    phrasings: list[str] = []
    for text in draft.phrasings:
        text = " ".join(strip_invisible(text).split())
        if text and question_key(text) not in seen:
            seen.add(question_key(text))
            phrasings.append(text[:MAX_QUESTION])
    if len(phrasings) > MAX_PHRASINGS:
        raise EntryInvalid(f"больше {MAX_PHRASINGS} формулировок")
    return EntryDraft(
        question=question,
        answer=answer,
        category=category,
        phrasings=tuple(phrasings),
        key=key,
        status=draft.status,
        origin=draft.origin,
    )


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
