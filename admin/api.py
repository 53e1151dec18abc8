"""The HTTP API for the administration's other systems: FAQ entries at /api/faq and
the bot's decision for a question at /api/check. Clients send an API token an admin
issued (``Authorization: Bearer …``); the token's role decides what it may do, as for
people. The schema is at /api/openapi.json."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field

from admin.accounts import Principal
from admin.dashboard import dashboard
from admin.faq_pages import publisher
from admin.web import EDIT_FAQ, READ_FAQ, SEE_FIGURES, allow, context
from core.models import FaqEntry, FaqRevision
from knowledge_base.drafts import EntryDraft, EntryStatus
from knowledge_base.repository import EditConflict, EntryInvalid, EntryNotFound, SavedEntry

_bearer = HTTPBearer(auto_error=False, description="API-токен: djinn admin create-token")


async def client(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    """The API token's principal; 401 for a missing, unknown or revoked token."""
    token = credentials.credentials if credentials else ""
    principal = await context(request).accounts.token(token) if token else None
    if principal is None:
        raise HTTPException(
            401,
            "Нужен действующий API-токен в заголовке Authorization: Bearer <токен>.",
            headers={"WWW-Authenticate": 'Bearer realm="djinn"'},
        )
    return principal


Client = Annotated[Principal, Depends(client)]
Status = Literal["published", "draft", "archived"]


class EntryIn(BaseModel):
    """An FAQ entry as a client sends it."""

    question: str = Field(min_length=1, max_length=500, description="Основной вопрос")
    answer: str = Field("", max_length=4000, description="Ответ гражданину (текст)")
    category: str | None = Field(None, max_length=128)
    phrasings: list[str] = Field(default_factory=list, description="Другие формулировки")
    key: str | None = Field(None, max_length=64, description="Постоянный ключ, напр. zhkh-oplata")
    status: Status = "published"


class EntryUpdate(EntryIn):
    version: int | None = Field(
        None,
        description="Версия записи, которую клиент менял; если запись с тех пор изменили, "
        "ответ 409 вместо затирания чужой правки",
    )


class EntryOut(EntryIn):
    id: int
    version: int
    updated_at: datetime
    kb_version: int | None = Field(None, description="Версия базы знаний после изменения")


class RevisionOut(BaseModel):
    version: int
    question: str
    answer: str
    category: str | None
    phrasings: list[str]
    key: str | None
    status: str
    author: str | None
    reason: str | None
    created_at: datetime


class HitOut(BaseModel):
    entry_id: int
    question: str
    score: float
    dense: float
    lexical: float


class CheckOut(BaseModel):
    query: str
    decision: Literal["answer", "clarify", "handoff"]
    kb_version: int
    hits: list[HitOut]


def _out(entry: FaqEntry, kb_version: int | None = None) -> EntryOut:
    return EntryOut(
        id=entry.id,
        version=entry.version,
        updated_at=entry.updated_at,
        question=entry.question,
        answer=entry.answer,
        category=entry.category,
        phrasings=[p.text for p in entry.phrasings],
        key=entry.key,
        status=entry.status,  # type: ignore[arg-type]
        kb_version=kb_version,
    )


def _draft(body: EntryIn) -> EntryDraft:
    return EntryDraft(
        question=body.question,
        answer=body.answer,
        category=body.category,
        phrasings=tuple(body.phrasings),
        key=body.key,
        status=EntryStatus(body.status),
    )


def router() -> APIRouter:
    api = APIRouter(prefix="/api", tags=["База знаний"])

    async def saved_entry(request: Request, saved: SavedEntry) -> EntryOut:
        if saved.changed:
            publisher(request).publish(saved.kb_version)
        entry = await context(request).repository.entry(saved.entry_id)
        assert entry is not None
        return _out(entry, saved.kb_version)

    @api.get("/faq", summary="Записи базы знаний")
    async def list_entries(
        request: Request,
        principal: Client,
        q: str = "",
        category: str | None = None,
        status: Status | None = None,
    ) -> list[EntryOut]:
        allow(principal, *READ_FAQ)
        found = await context(request).repository.find(query=q, category=category, status=status)
        return [_out(entry) for entry in found]

    @api.post("/faq", status_code=201, summary="Создать запись")
    async def create_entry(body: EntryIn, request: Request, principal: Client) -> EntryOut:
        allow(principal, *EDIT_FAQ)
        try:
            saved = await context(request).repository.save_entry(
                _draft(body), author=principal.actor, reason="API"
            )
        except EntryInvalid as error:
            raise HTTPException(422, str(error)) from None
        return await saved_entry(request, saved)

    @api.get("/faq/{entry_id}", summary="Запись")
    async def get_entry(entry_id: int, request: Request, principal: Client) -> EntryOut:
        allow(principal, *READ_FAQ)
        entry = await context(request).repository.entry(entry_id)
        if entry is None:
            raise HTTPException(404, "Такой записи нет.")
        return _out(entry)

    @api.put("/faq/{entry_id}", summary="Изменить запись")
    async def update_entry(
        entry_id: int,
        body: EntryUpdate,
        request: Request,
        principal: Client,
    ) -> EntryOut:
        allow(principal, *EDIT_FAQ)
        try:
            saved = await context(request).repository.save_entry(
                _draft(body),
                entry_id=entry_id,
                expected_version=body.version,
                author=principal.actor,
                reason="API",
            )
        except EntryNotFound:
            raise HTTPException(404, "Такой записи нет.") from None
        except EditConflict as conflict:
            raise HTTPException(
                409, f"Запись изменили: её версия теперь {conflict.current}."
            ) from None
        except EntryInvalid as error:
            raise HTTPException(422, str(error)) from None
        return await saved_entry(request, saved)

    @api.delete("/faq/{entry_id}", summary="Убрать запись в архив")
    async def archive_entry(
        entry_id: int,
        request: Request,
        principal: Client,
        version: int | None = None,
    ) -> EntryOut:
        allow(principal, *EDIT_FAQ)
        try:
            saved = await context(request).repository.archive(
                entry_id, expected_version=version, author=principal.actor
            )
        except EntryNotFound:
            raise HTTPException(404, "Такой записи нет.") from None
        except EditConflict as conflict:
            raise HTTPException(
                409, f"Запись изменили: её версия теперь {conflict.current}."
            ) from None
        return await saved_entry(request, saved)

    @api.get("/faq/{entry_id}/revisions", summary="История записи")
    async def revisions(entry_id: int, request: Request, principal: Client) -> list[RevisionOut]:
        allow(principal, *READ_FAQ)
        repository = context(request).repository
        if await repository.entry(entry_id) is None:
            raise HTTPException(404, "Такой записи нет.")
        return [_revision(r) for r in await repository.revisions(entry_id)]

    @api.get("/check", summary="Что бот ответит на вопрос")
    async def check(request: Request, q: str, principal: Client) -> CheckOut:
        allow(principal, *READ_FAQ)
        if not q.strip():
            raise HTTPException(422, "Пустой вопрос.")
        faq = context(request).faq
        await faq.refresh()
        result = await faq.search(q[:2000], top_k=5)
        return CheckOut(
            query=result.query,
            decision=result.decision.value,  # type: ignore[arg-type]
            kb_version=result.kb_version,
            hits=[
                HitOut(
                    entry_id=h.entry.id,
                    question=h.entry.question,
                    score=round(h.score, 4),
                    dense=round(h.dense, 4),
                    lexical=round(h.lexical, 4),
                )
                for h in result.hits
            ],
        )

    @api.get("/dashboard", summary="Показатели за период", tags=["Показатели"])
    async def figures(
        request: Request,
        principal: Client,
        start: date,
        end: Annotated[date, Query(description="Последний день периода (включительно)")],
    ) -> dict[str, Any]:
        """The dashboard's figures of the local days ``start``…``end`` (admin.dashboard
        defines each)."""
        allow(principal, *SEE_FIGURES)
        if start > end or (end - start).days >= 366:
            raise HTTPException(422, "Период — от start до end, не больше 366 дней.")
        admin = context(request)
        found = await dashboard(admin.sessions, start, end + timedelta(days=1), tz=admin.tz)
        return dataclasses.asdict(found)

    @api.get("/health", summary="Жив ли сервер", include_in_schema=False)
    async def health() -> Response:
        return Response("ok", media_type="text/plain")

    return api


def _revision(revision: FaqRevision) -> RevisionOut:
    return RevisionOut(
        version=revision.version,
        question=revision.question,
        answer=revision.answer,
        category=revision.category,
        phrasings=list(revision.phrasings or []),
        key=revision.key,
        status=revision.status,
        author=revision.author,
        reason=revision.reason,
        created_at=revision.created_at,
    )
