"""Knowledge-base imports on SQLite and PostgreSQL: versions, revisions, all or nothing."""

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from core.db import SessionFactory
from core.models import FaqEntry, FaqRevision, KbVersion
from knowledge_base.drafts import EntryDraft, EntryStatus
from knowledge_base.repository import FaqRepository

PAY = EntryDraft(
    "Как оплатить ЖКУ?",
    "На Госуслугах или в банке.",
    "ЖКХ",
    ("Где платить за квартиру",),
    key="pay",
)
MFC = EntryDraft("Как записаться в МФЦ?", "Через сайт МФЦ или по телефону.", "МФЦ", key="mfc")
SNOW = EntryDraft("Кто убирает снег во дворе?", "Управляющая компания.", "Благоустройство")


async def count(sessions: SessionFactory, model: type) -> int:
    async with sessions() as session:
        return await session.scalar(select(func.count()).select_from(model))


async def test_import_creates_entries_with_revisions_and_a_version(sessions):
    repository = FaqRepository(sessions)
    assert await repository.current_version() == 0
    report = await repository.apply_import([PAY, MFC], source="test")
    assert (report.created, report.updated, report.version) == (2, 0, 1)
    version, entries = await repository.published()
    assert version == 1
    assert [(e.key, e.phrasings) for e in entries] == [("pay", PAY.phrasings), ("mfc", ())]
    assert await count(sessions, FaqRevision) == 2


async def test_unchanged_import_keeps_the_version(sessions):
    repository = FaqRepository(sessions)
    await repository.apply_import([PAY, MFC])
    report = await repository.apply_import([PAY, MFC])
    assert (report.unchanged, report.changed, report.version) == (2, False, 1)
    assert await count(sessions, KbVersion) == 1


async def test_changed_answer_is_a_new_revision_matched_by_key_or_question(sessions):
    repository = FaqRepository(sessions)
    await repository.apply_import([PAY, SNOW])
    new_pay = EntryDraft("Как оплатить коммунальные услуги?", "Новый ответ.", "ЖКХ", key="pay")
    new_snow = EntryDraft("кто  убирает снег во дворе?", "Дворник.", "Благоустройство")
    report = await repository.apply_import([new_pay, new_snow])
    assert (report.created, report.updated, report.version) == (0, 2, 2)
    async with sessions() as session:
        revisions = (
            await session.execute(
                select(FaqRevision.version, FaqRevision.answer).order_by(FaqRevision.id)
            )
        ).all()
    assert [tuple(r) for r in revisions] == [
        (1, PAY.answer),
        (1, SNOW.answer),
        (2, "Новый ответ."),
        (2, "Дворник."),
    ]


async def test_replace_archives_what_the_file_no_longer_has(sessions):
    repository = FaqRepository(sessions)
    await repository.apply_import([PAY, MFC, SNOW])
    report = await repository.apply_import([MFC], replace=True)
    assert report.archived == 2
    _, entries = await repository.published()
    assert [e.key for e in entries] == ["mfc"]
    exported = await repository.export(include_archived=True)
    assert sorted(e.status for e in exported) == [
        EntryStatus.ARCHIVED,
        EntryStatus.ARCHIVED,
        EntryStatus.PUBLISHED,
    ]


async def test_drafts_are_stored_but_not_searchable(sessions):
    repository = FaqRepository(sessions)
    await repository.apply_import(
        [PAY, EntryDraft("Черновик?", "Ещё не готово.", status=EntryStatus.DRAFT)]
    )
    _, entries = await repository.published()
    assert [e.key for e in entries] == ["pay"]
    assert await repository.count(EntryStatus.DRAFT) == 1


async def test_failing_import_leaves_the_knowledge_base_untouched(sessions):
    repository = FaqRepository(sessions)
    await repository.apply_import([PAY])
    first = EntryDraft("Первый вопрос?", "Ответ.", key="same")
    clash = EntryDraft("Второй вопрос?", "Ответ.", key="same")  # unique key violated
    with pytest.raises(IntegrityError):
        await repository.apply_import([MFC, SNOW, first, clash])
    assert await count(sessions, FaqEntry) == 1
    assert await repository.current_version() == 1
