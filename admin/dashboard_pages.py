"""The supervisors' pages: the dashboard of a period with its charts, the conversations
behind a figure, a conversation's transcript and the figures as CSV."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response
from markupsafe import Markup

from admin.charts import Series, bars, stacked_days
from admin.dashboard import (
    Dashboard,
    DrillDown,
    conversations,
    dashboard,
    dashboard_csv,
    transcript,
)
from admin.web import SEE_FIGURES, Pages, SignedIn, allow, context

MAX_DAYS = 366
DEFAULT_DAYS = 30
CHANNEL_NAMES = {"telegram": "Telegram", "vk": "ВКонтакте", "max": "MAX", "web": "Сайт"}
DRILL_TITLES = {
    DrillDown.MESSAGES: "Обращения с сообщениями граждан",
    DrillDown.HANDOFFS: "Обращения, переданные операторам",
    DrillDown.SLA_MISSED: "Обращения с нарушением срока первого ответа",
    DrillDown.NOT_HELPED: "Обращения с «Не помогло»",
}


def _period(request: Request, start: str, end: str) -> tuple[date, date]:
    """``[start, end)`` from the form's first and last day (inclusive), by default the
    last 30 days up to today in the administration's time zone."""
    today = datetime.now(context(request).tz).date()
    try:
        last = date.fromisoformat(end) if end else today
        first = date.fromisoformat(start) if start else last - timedelta(days=DEFAULT_DAYS - 1)
    except ValueError:
        raise HTTPException(400, "Даты — в виде ГГГГ-ММ-ДД.") from None
    if first > last:
        raise HTTPException(400, "Начало периода позже его конца.")
    if (last - first).days >= MAX_DAYS:
        raise HTTPException(400, f"Период — не больше {MAX_DAYS} дней.")
    return first, last + timedelta(days=1)


async def _figures(request: Request, start: str, end: str) -> tuple[date, date, Dashboard]:
    """The first and last day asked for and the figures of that period."""
    admin = context(request)
    first, after = _period(request, start, end)
    figures = await dashboard(admin.sessions, first, after, tz=admin.tz)
    return first, after - timedelta(days=1), figures


def _rate(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f} %".replace(".", ",")


def _minutes(value: float | None) -> str:
    if value is None:
        return "—"
    if value < 60:
        return f"{value:.0f} мин"
    return f"{value / 60:.1f} ч".replace(".", ",")


def router(pages: Pages) -> APIRouter:
    routes = APIRouter(include_in_schema=False)
    env = pages.templates.env
    env.filters["rate"] = _rate
    env.filters["minutes"] = _minutes
    env.globals["CHANNEL_NAMES"] = CHANNEL_NAMES

    @routes.get("/dashboard")
    async def show(request: Request, info: SignedIn, start: str = "", end: str = "") -> Response:
        allow(info, *SEE_FIGURES)
        first, last, figures = await _figures(request, start, end)
        query = f"start={first.isoformat()}&end={last.isoformat()}"
        channels = [
            c
            for c in figures.channels
            if any(m.inbound for m in figures.messages if m.channel == c)
        ] or list(figures.channels[:2])
        series = [
            Series(
                CHANNEL_NAMES.get(c, c),
                [m.inbound for m in figures.messages if m.channel == c],
            )
            for c in channels
        ]
        by_name = {CHANNEL_NAMES.get(c, c): c for c in channels}
        chart = stacked_days(
            "Сообщения граждан по дням и каналам",
            figures.days,
            series,
            lambda name, day: (
                f"/dashboard/conversations?kind=messages&channel={by_name[name]}"
                f"&day={day.isoformat()}&{query}"
            ),
        )
        csat = bars(
            "Оценки операторов гражданами",
            [(f"{score} ★", figures.csat_distribution[score - 1]) for score in range(5, 0, -1)],
            "#2b8a3e",
        )
        categories = bars(
            "Вопросы по категориям",
            [(c.category, c.asked) for c in figures.top_categories[:10]],
        )
        return pages.render(
            request,
            "dashboard.html",
            d=figures,
            first=first,
            last=last,
            query=query,
            chart=chart,
            csat_chart=csat,
            categories_chart=categories if figures.top_categories else Markup(""),
        )

    @routes.get("/dashboard.csv")
    async def export(request: Request, info: SignedIn, start: str = "", end: str = "") -> Response:
        allow(info, *SEE_FIGURES)
        first, last, figures = await _figures(request, start, end)
        return Response(
            dashboard_csv(figures).encode("utf-8"),
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": (
                    f'attachment; filename="djinn-{first.isoformat()}-{last.isoformat()}.csv"'
                )
            },
        )

    @routes.get("/dashboard/conversations")
    async def drill(
        request: Request,
        info: SignedIn,
        kind: str = "messages",
        start: str = "",
        end: str = "",
        channel: str = "",
        day: str = "",
        operator: str = "",
        group: str = "",
    ) -> Response:
        allow(info, *SEE_FIGURES)
        admin = context(request)
        first, after = _period(request, start, end)
        try:
            chosen = DrillDown(kind)
            on = date.fromisoformat(day) if day else None
        except ValueError:
            raise HTTPException(400, "Нет такого списка.") from None
        rows = await conversations(
            admin.sessions,
            first,
            after,
            kind=chosen,
            channel=channel or None,
            day=on,
            operator=operator or None,
            group=group or None,
            tz=admin.tz,
        )
        return pages.render(
            request,
            "conversations.html",
            rows=rows,
            title=DRILL_TITLES[chosen],
            first=first,
            last=after - timedelta(days=1),
            channel=channel,
            day=on,
        )

    @routes.get("/conversations/{conversation_id}")
    async def conversation(conversation_id: int, request: Request, info: SignedIn) -> Response:
        allow(info, *SEE_FIGURES)
        found = await transcript(context(request).sessions, conversation_id)
        if found is None:
            raise HTTPException(404, "Такого обращения нет.")
        return pages.render(request, "transcript.html", t=found)

    return routes
