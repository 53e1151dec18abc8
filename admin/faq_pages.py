"""The FAQ editor's pages: the list with search and a category filter, an entry's form,
its history with a diff and rollback, «Проверить вопрос», import with a preview and
export. Every change makes a new knowledge-base version; `Publisher` builds its index
in the background and then tells the bots, which load it within seconds."""

from __future__ import annotations

import asyncio
import difflib
import logging
import secrets
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, Response
from markupsafe import Markup, escape
from starlette.background import BackgroundTask
from starlette.datastructures import UploadFile

from admin.accounts import SessionInfo
from admin.web import (
    EDIT_FAQ,
    READ_FAQ,
    AdminContext,
    Pages,
    SignedIn,
    allow,
    checked_form,
    context,
    field_text,
    redirect,
)
from core.domain import Decision
from knowledge_base.drafts import EntryDraft, EntryStatus
from knowledge_base.io import ImportFileError, read_entries, write_entries
from knowledge_base.repository import (
    EditConflict,
    EntryInvalid,
    EntryNotFound,
    ImportPlan,
    entry_fields,
)

log = logging.getLogger(__name__)

LIST_PAGE = 100
STALE = "Запись изменили, пока вы её смотрели: обновите страницу."
NO_CATEGORY = "-"  # the category filter's value for entries without one
MAX_UPLOAD = 20 * 1024 * 1024
PREVIEW_LIFETIME = 30 * 60  # seconds an uploaded file waits to be applied
EXPORT_FORMATS = {"csv": ".csv", "xlsx": ".xlsx", "yaml": ".yaml"}
IMPORT_SUFFIXES = (".csv", ".tsv", ".txt", ".xlsx", ".xlsm", ".yaml", ".yml")

DECISIONS = {
    Decision.ANSWER: "ответит этой записью",
    Decision.CLARIFY: "предложит выбрать из похожих вопросов",
    Decision.HANDOFF: "не найдёт ответа и предложит оператора",
}
STATUSES = {
    EntryStatus.PUBLISHED: "опубликована",
    EntryStatus.DRAFT: "черновик",
    EntryStatus.ARCHIVED: "в архиве",
}
FIELDS = {
    "question": "Вопрос",
    "answer": "Ответ",
    "category": "Категория",
    "phrasings": "Другие формулировки",
    "status": "Состояние",
    "key": "Ключ",
}


@dataclass
class Job:
    """Publishing a knowledge-base version: its index is built, then the bots are told."""

    version: int
    done: int = 0
    total: int = 0
    state: str = "building"  # building, published, failed
    error: str | None = None


@dataclass
class Upload:
    """A file read and previewed, waiting for «Применить»."""

    name: str
    drafts: list[EntryDraft]
    replace: bool
    plan: ImportPlan
    at: float = field(default_factory=time.monotonic)


class Publisher:
    """Builds the index of each new version in this process (so the snapshot is ready
    when the bots look) and then announces the version. Versions are published in
    order; a newer one makes an older pending one moot."""

    def __init__(self, admin: AdminContext) -> None:
        self._admin = admin
        self._lock = asyncio.Lock()
        self.jobs: dict[int, Job] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def publish(self, version: int) -> Job:
        job = self.jobs.get(version)
        if job is None:
            job = self.jobs[version] = Job(version)
            task = asyncio.create_task(self._run(job), name=f"kb-publish-v{version}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        for old in [v for v in self.jobs if v < version - 50]:
            del self.jobs[old]
        return job

    async def _run(self, job: Job) -> None:
        def progress(done: int, total: int) -> None:
            job.done, job.total = done, total

        async with self._lock:
            try:
                await self._admin.faq.refresh(progress=progress)
                await self._admin.announce(job.version)
                job.state = "published"
            except Exception as error:  # the version stays; bots still poll for it
                log.exception("publishing knowledge base v%s failed", job.version)
                job.state, job.error = "failed", str(error)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


def publisher(request: Request) -> Publisher:
    admin = context(request)
    found = admin.extras.get("publisher")
    if found is None:
        found = admin.extras["publisher"] = Publisher(admin)
    return found  # type: ignore[no-any-return]


def _uploads(request: Request) -> dict[str, Upload]:
    uploads: dict[str, Upload] = context(request).extras.setdefault("uploads", {})
    now = time.monotonic()
    for token in [t for t, u in uploads.items() if now - u.at > PREVIEW_LIFETIME]:
        del uploads[token]
    return uploads


def router(pages: Pages) -> APIRouter:
    routes = APIRouter(include_in_schema=False)

    @routes.get("/faq")
    async def faq_list(
        request: Request,
        info: SignedIn,
        q: str = "",
        category: str | None = None,
        status: str = "",
        page: int = 1,
    ) -> Response:
        allow(info, *READ_FAQ)
        repository = context(request).repository
        wanted = "" if category == NO_CATEGORY else (category or None)
        rows = await repository.entries(query=q, category=wanted, status=status or None)
        page = max(1, page)
        shown = rows[(page - 1) * LIST_PAGE : page * LIST_PAGE]
        return pages.render(
            request,
            "faq_list.html",
            rows=shown,
            found=len(rows),
            page=page,
            pages_total=max(1, -(-len(rows) // LIST_PAGE)),
            q=q,
            category=category,
            status=status,
            categories=await repository.categories(),
            statuses=STATUSES,
            can_edit=info.principal.may(*EDIT_FAQ),
            NO_CATEGORY=NO_CATEGORY,
        )

    @routes.get("/faq/check")
    async def check(request: Request, info: SignedIn, q: str = "") -> Response:
        allow(info, *READ_FAQ)
        result = None
        if q.strip():
            faq = context(request).faq
            await faq.refresh()
            result = await faq.search(q[:2000], top_k=5)
        return pages.render(
            request,
            "faq_check.html",
            q=q,
            result=result,
            decisions=DECISIONS,
            thresholds=context(request).faq.thresholds_for(),
        )

    @routes.get("/faq/new")
    async def new_form(request: Request, info: SignedIn) -> Response:
        allow(info, *EDIT_FAQ)
        return await _entry_page(request, pages, None, values=_blank())

    @routes.post("/faq/new")
    async def create(request: Request, info: SignedIn) -> Response:
        principal = allow(info, *EDIT_FAQ)
        form = await checked_form(request, info)
        draft = _draft(form)
        try:
            saved = await context(request).repository.save_entry(
                draft, author=principal.actor, reason="создана в редакторе"
            )
        except EntryInvalid as error:
            return await _entry_page(
                request, pages, None, values=_values(draft), error=str(error), status=400
            )
        publisher(request).publish(saved.kb_version)
        return redirect(f"/faq/{saved.entry_id}?saved={saved.kb_version}")

    @routes.get("/faq/export")
    async def export(
        request: Request,
        info: SignedIn,
        format: str = "xlsx",
        archived: bool = False,
    ) -> Response:
        allow(info, *READ_FAQ)
        suffix = EXPORT_FORMATS.get(format)
        if suffix is None:
            raise HTTPException(400, "Формат выгрузки: csv, xlsx или yaml.")
        drafts = await context(request).repository.export(include_archived=archived)
        folder = Path(tempfile.mkdtemp(prefix="djinn-export-"))
        path = folder / f"faq{suffix}"
        await asyncio.to_thread(write_entries, path, drafts)

        def cleanup() -> None:
            path.unlink(missing_ok=True)
            folder.rmdir()

        return FileResponse(
            path,
            filename=f"djinn-faq{suffix}",
            background=BackgroundTask(cleanup),
        )

    @routes.get("/faq/import")
    async def import_form(request: Request, info: SignedIn) -> Response:
        allow(info, *EDIT_FAQ)
        return pages.render(request, "faq_import.html", upload=None, token=None)

    @routes.post("/faq/import")
    async def import_preview(request: Request, info: SignedIn) -> Response:
        allow(info, *EDIT_FAQ)
        form = await checked_form(request, info)
        upload = form.get("file")
        if not isinstance(upload, UploadFile) or not upload.filename:
            await form.close()
            return _import_error(request, pages, "Выберите файл.")
        name = Path(upload.filename).name
        suffix = Path(name).suffix.lower()
        if suffix not in IMPORT_SUFFIXES:
            await form.close()
            return _import_error(
                request, pages, f"Файлы «{suffix or name}» не читаю: нужен CSV, XLSX или YAML."
            )
        try:
            data = await upload.read(MAX_UPLOAD + 1)
        finally:
            await form.close()
        if len(data) > MAX_UPLOAD:
            return _import_error(request, pages, "Файл больше 20 МБ.")
        try:
            drafts = await asyncio.to_thread(_read_upload, name, data)
        except ImportFileError as error:
            return _import_error(request, pages, str(error))
        replace = field_text(form, "replace") == "1"
        plan = await context(request).repository.plan_import(drafts, replace=replace)
        token = secrets.token_urlsafe(16)
        _uploads(request)[token] = Upload(name, drafts, replace, plan)
        return pages.render(
            request,
            "faq_import.html",
            upload=_uploads(request)[token],
            token=token,
            diffs={
                entry_id: _field_diffs(before, _draft_fields(draft))
                for entry_id, before, draft in plan.updated
            },
        )

    @routes.post("/faq/import/{token}")
    async def import_apply(token: str, request: Request, info: SignedIn) -> Response:
        principal = allow(info, *EDIT_FAQ)
        await checked_form(request, info)
        upload = _uploads(request).pop(token, None)
        if upload is None:
            return _import_error(
                request, pages, "Предпросмотр устарел или уже применён: загрузите файл снова."
            )
        report = await context(request).repository.apply_import(
            upload.drafts,
            replace=upload.replace,
            author=principal.actor,
            source=f"импорт {upload.name}",
        )
        if not report.changed:
            return redirect("/faq?imported=0")
        publisher(request).publish(report.version)
        return redirect(f"/faq/publishing/{report.version}")

    @routes.get("/faq/publishing/{version}")
    async def publishing(version: int, request: Request, info: SignedIn) -> Response:
        allow(info, *READ_FAQ)
        job = publisher(request).jobs.get(version)
        current = context(request).faq.version
        if job is None and current is not None and current >= version:
            job = Job(version, state="published")
        if job is None:
            raise HTTPException(404, "Такой публикации нет.")
        return pages.render(request, "faq_publishing.html", job=job)

    @routes.get("/faq/{entry_id}")
    async def entry_form(
        entry_id: int,
        request: Request,
        info: SignedIn,
        saved: int | None = None,
    ) -> Response:
        allow(info, *READ_FAQ)
        entry = await context(request).repository.entry(entry_id)
        if entry is None:
            raise HTTPException(404, "Такой записи нет.")
        job = publisher(request).jobs.get(saved) if saved else None
        return await _entry_page(
            request, pages, entry_id, values=_values(entry), version=entry.version, job=job
        )

    @routes.post("/faq/{entry_id}")
    async def update(entry_id: int, request: Request, info: SignedIn) -> Response:
        principal = allow(info, *EDIT_FAQ)
        form = await checked_form(request, info)
        draft = _draft(form)
        expected = _int(field_text(form, "version"))
        try:
            saved = await context(request).repository.save_entry(
                draft, entry_id=entry_id, expected_version=expected, author=principal.actor
            )
        except EntryNotFound:
            raise HTTPException(404, "Такой записи нет.") from None
        except EditConflict as conflict:
            return await _entry_page(
                request,
                pages,
                entry_id,
                values=_values(draft),
                version=expected,
                status=409,
                error=(
                    f"Пока вы редактировали, запись изменили (теперь версия {conflict.current}). "
                    "Откройте её заново — ваш текст ниже, скопируйте его перед этим."
                ),
            )
        except EntryInvalid as error:
            return await _entry_page(
                request,
                pages,
                entry_id,
                values=_values(draft),
                version=expected,
                error=str(error),
                status=400,
            )
        if saved.changed:
            publisher(request).publish(saved.kb_version)
            return redirect(f"/faq/{entry_id}?saved={saved.kb_version}")
        return redirect(f"/faq/{entry_id}")

    @routes.post("/faq/{entry_id}/archive")
    async def archive(entry_id: int, request: Request, info: SignedIn) -> Response:
        principal = allow(info, *EDIT_FAQ)
        form = await checked_form(request, info)
        try:
            saved = await context(request).repository.archive(
                entry_id,
                expected_version=_int(field_text(form, "version")),
                author=principal.actor,
            )
        except EntryNotFound:
            raise HTTPException(404, "Такой записи нет.") from None
        except EditConflict:
            raise HTTPException(409, STALE) from None
        if saved.changed:
            publisher(request).publish(saved.kb_version)
        return redirect(f"/faq/{entry_id}?saved={saved.kb_version}")

    @routes.get("/faq/{entry_id}/history")
    async def history(entry_id: int, request: Request, info: SignedIn) -> Response:
        allow(info, *READ_FAQ)
        repository = context(request).repository
        entry = await repository.entry(entry_id)
        if entry is None:
            raise HTTPException(404, "Такой записи нет.")
        revisions = await repository.revisions(entry_id)
        changes = []
        for i, revision in enumerate(revisions):
            previous = revisions[i + 1] if i + 1 < len(revisions) else None
            before = entry_fields(previous) if previous else {}
            changes.append((revision, _field_diffs(before, entry_fields(revision))))
        return pages.render(
            request,
            "faq_history.html",
            entry=entry,
            changes=changes,
            can_edit=info.principal.may(*EDIT_FAQ),
        )

    @routes.post("/faq/{entry_id}/rollback")
    async def rollback(entry_id: int, request: Request, info: SignedIn) -> Response:
        principal = allow(info, *EDIT_FAQ)
        form = await checked_form(request, info)
        target = _int(field_text(form, "to"))
        if target is None:
            raise HTTPException(400, "Не указана версия.")
        try:
            saved = await context(request).repository.rollback(
                entry_id,
                target,
                expected_version=_int(field_text(form, "version")),
                author=principal.actor,
            )
        except EntryNotFound:
            raise HTTPException(404, "Такой записи или версии нет.") from None
        except EditConflict:
            raise HTTPException(409, STALE) from None
        except EntryInvalid as error:
            raise HTTPException(400, str(error)) from None
        if saved.changed:
            publisher(request).publish(saved.kb_version)
        return redirect(f"/faq/{entry_id}?saved={saved.kb_version}")

    return routes


async def _entry_page(
    request: Request,
    pages: Pages,
    entry_id: int | None,
    *,
    values: dict[str, Any],
    version: int | None = None,
    error: str | None = None,
    status: int = 200,
    job: Job | None = None,
) -> Response:
    info: SessionInfo = request.state.session
    return pages.render(
        request,
        "faq_entry.html",
        status,
        entry_id=entry_id,
        values=values,
        version=version,
        error=error,
        job=job,
        statuses=STATUSES,
        categories=await context(request).repository.categories(),
        can_edit=info.principal.may(*EDIT_FAQ),
    )


def _blank() -> dict[str, Any]:
    return {
        "question": "",
        "answer": "",
        "category": "",
        "phrasings": "",
        "key": "",
        "status": EntryStatus.PUBLISHED.value,
    }


def _values(source: Any) -> dict[str, Any]:
    """Form values of an entry or a draft."""
    phrasings = [getattr(p, "text", p) for p in source.phrasings]
    return {
        "question": source.question,
        "answer": source.answer,
        "category": source.category or "",
        "phrasings": "\n".join(phrasings),
        "key": source.key or "",
        "status": str(source.status),
    }


def _draft(form: Any) -> EntryDraft:
    status = field_text(form, "status")
    try:
        chosen = EntryStatus(status)
    except ValueError:
        chosen = EntryStatus.PUBLISHED
    return EntryDraft(
        question=field_text(form, "question"),
        answer=field_text(form, "answer").replace("\r\n", "\n"),
        category=field_text(form, "category") or None,
        phrasings=tuple(
            line.strip() for line in field_text(form, "phrasings").splitlines() if line.strip()
        ),
        key=field_text(form, "key") or None,
        status=chosen,
    )


def _draft_fields(draft: EntryDraft) -> dict[str, Any]:
    return {
        "key": draft.key,
        "question": draft.question,
        "answer": draft.answer,
        "category": draft.category,
        "status": str(draft.status),
        "phrasings": list(draft.phrasings),
    }


def _int(value: str) -> int | None:
    try:
        return int(value)
    except ValueError:
        return None


def _read_upload(name: str, data: bytes) -> list[EntryDraft]:
    with tempfile.TemporaryDirectory(prefix="djinn-import-") as folder:
        path = Path(folder) / name
        path.write_bytes(data)
        return read_entries(path)


def _import_error(request: Request, pages: Pages, message: str) -> Response:
    return pages.render(request, "faq_import.html", 400, upload=None, token=None, error=message)


def _field_diffs(before: dict[str, Any], after: dict[str, Any]) -> list[tuple[str, Markup]]:
    """Each changed field with its words removed and added marked up (``<del>`` and
    ``<ins>``), for the history and the import preview."""
    changes = []
    for name, title in FIELDS.items():
        old, new = before.get(name), after.get(name)
        if old == new:
            continue
        changes.append((title, word_diff(_text(old), _text(new))))
    return changes


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return "\n".join(str(v) for v in value)
    return str(STATUSES.get(value, value)) if isinstance(value, str) else str(value)


def word_diff(old: str, new: str) -> Markup:
    """``old`` → ``new`` by words, escaped, with deletions and insertions marked."""
    a, b = old.split(" "), new.split(" ")
    out: list[str] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            out.append(str(escape(" ".join(a[i1:i2]))))
            continue
        if i2 > i1:
            out.append(f"<del>{escape(' '.join(a[i1:i2]))}</del>")
        if j2 > j1:
            out.append(f"<ins>{escape(' '.join(b[j1:j2]))}</ins>")
    return Markup(" ".join(out))
