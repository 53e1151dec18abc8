"""The editors' page «Пробелы базы знаний»: what citizens asked that the knowledge base
did not answer, grouped by meaning (`admin.gaps`); a group becomes a draft entry, with
the operators' answer when they gave one, or phrasings of the entry it already asks."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response

from admin.faq_pages import publisher
from admin.gaps import GapCluster, Why, draft_from_cluster, find_cluster, knowledge_gaps
from admin.web import EDIT_FAQ, Pages, SignedIn, allow, checked_form, context, field_text, redirect
from core.models import utcnow
from knowledge_base.drafts import EntryDraft, EntryStatus
from knowledge_base.repository import EditConflict, EntryInvalid

PERIODS = {7: "неделя", 30: "месяц", 90: "три месяца", 365: "год"}
REASONS = {
    Why.UNANSWERED: "бот не нашёл ответа",
    Why.NOT_HELPED: "«Не помогло»",
    Why.OPERATOR: "ответил оператор",
}


async def _clusters(request: Request, days: int, covered: bool) -> list[GapCluster]:
    admin = context(request)
    return await knowledge_gaps(
        admin.sessions,
        admin.faq.embedder,
        since=utcnow() - timedelta(days=days),
        include_covered=covered,
        cache=admin.faq.cache,
    )


def _period(value: str | int | None) -> int:
    try:
        days = int(value or 30)
    except ValueError:
        days = 30
    return days if days in PERIODS else 30


def router(pages: Pages) -> APIRouter:
    routes = APIRouter(include_in_schema=False)

    @routes.get("/gaps")
    async def gaps(
        request: Request, info: SignedIn, days: int = 30, covered: bool = False
    ) -> Response:
        allow(info, *EDIT_FAQ)
        days = _period(days)
        clusters = await _clusters(request, days, covered)
        return pages.render(
            request,
            "gaps.html",
            clusters=clusters,
            days=days,
            covered=covered,
            periods=PERIODS,
            reasons=REASONS,
            categories=await context(request).repository.categories(),
        )

    @routes.post("/gaps/{key}/draft")
    async def to_draft(key: int, request: Request, info: SignedIn) -> Response:
        principal = allow(info, *EDIT_FAQ)
        form = await checked_form(request, info)
        cluster = await _cluster(request, key, form)
        draft = draft_from_cluster(cluster, field_text(form, "category") or None)
        try:
            saved = await context(request).repository.save_entry(
                draft, author=principal.actor, reason=f"из пробела «{cluster.title[:80]}»"
            )
        except EntryInvalid as error:
            raise HTTPException(400, str(error)) from None
        return redirect(f"/faq/{saved.entry_id}?drafted=1")

    @routes.post("/gaps/{key}/phrasings")
    async def to_phrasings(key: int, request: Request, info: SignedIn) -> Response:
        principal = allow(info, *EDIT_FAQ)
        form = await checked_form(request, info)
        cluster = await _cluster(request, key, form)
        if cluster.nearest_entry is None:
            raise HTTPException(400, "Рядом с этой группой нет записи.")
        repository = context(request).repository
        entry = await repository.entry(cluster.nearest_entry.id)
        if entry is None:
            raise HTTPException(404, "Такой записи нет.")
        draft = EntryDraft(
            question=entry.question,
            answer=entry.answer,
            category=entry.category,
            phrasings=(*(p.text for p in entry.phrasings), *cluster.phrasings, cluster.title),
            key=entry.key,
            status=EntryStatus(entry.status),
        )
        try:
            saved = await repository.save_entry(
                draft,
                entry_id=entry.id,
                expected_version=entry.version,
                author=principal.actor,
                reason="формулировки из пробела",
            )
        except (EntryInvalid, EditConflict) as error:
            raise HTTPException(409, f"Запись не изменена: {error}") from None
        if saved.changed:
            publisher(request).publish(saved.kb_version)
        return redirect(f"/faq/{entry.id}?saved={saved.kb_version}")

    return routes


async def _cluster(request: Request, key: int, form: object) -> GapCluster:
    days = _period(field_text(form, "days"))  # type: ignore[arg-type]
    covered = field_text(form, "covered") == "1"  # type: ignore[arg-type]
    cluster = find_cluster(await _clusters(request, days, covered), key)
    if cluster is None:
        raise HTTPException(404, "Этой группы уже нет: обновите страницу.")
    return cluster
