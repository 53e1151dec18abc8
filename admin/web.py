"""The web admin's plumbing: what a request needs to know (who it is, whether its form
is genuine, whether its role allows it) and how a page is rendered.

Pages sign in with a session cookie (HttpOnly, SameSite=Lax, Secure behind HTTPS) and
every form carries the session's CSRF token; the HTTP API signs in with a bearer token
instead and has no cookies, so it needs no CSRF token.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.datastructures import FormData

from admin.accounts import Accounts, Principal, SessionInfo
from admin.security import same
from core.db import SessionFactory
from core.domain import AdminRole
from core.settings import Settings
from knowledge_base.repository import FaqRepository
from knowledge_base.search import FaqSearchService

if TYPE_CHECKING:
    from bots.web.channel import WebChannel

SESSION_COOKIE = "djinn_session"
LOGIN_CSRF_COOKIE = "djinn_login_csrf"
TEMPLATES = Path(__file__).with_name("templates")
STATIC = Path(__file__).with_name("static")

ROLE_NAMES = {
    AdminRole.ADMIN: "администратор",
    AdminRole.EDITOR: "редактор",
    AdminRole.SUPERVISOR: "руководитель",
    AdminRole.OPERATOR: "оператор",
}

# Who may do what. An admin may everything (`Principal.may`).
READ_FAQ = (AdminRole.EDITOR, AdminRole.SUPERVISOR, AdminRole.OPERATOR)
EDIT_FAQ = (AdminRole.EDITOR,)
SEE_FIGURES = (AdminRole.SUPERVISOR,)


@dataclass
class AdminContext:
    """What the web admin works with.

    Attributes:
        settings: The process's settings.
        sessions: Database sessions.
        accounts: Users, sessions and API tokens.
        repository: The knowledge base.
        faq: The search the bots use, for «Проверить вопрос»; in `djinn run` the bots'
            own, alone a copy that follows the knowledge base's versions.
        announce: Tells the running bots about a new knowledge-base version.
        tz: The administration's time zone, for dates on pages.
        widget: The website's chat widget this server serves at /widget/ (`bots.web`);
            None when it is off.
    """

    settings: Settings
    sessions: SessionFactory
    accounts: Accounts
    repository: FaqRepository
    faq: FaqSearchService
    announce: Callable[[int], Awaitable[None]]
    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo("Europe/Moscow"))
    extras: dict[str, Any] = field(default_factory=dict)
    widget: WebChannel | None = None

    @property
    def secure_cookies(self) -> bool:
        chosen = self.settings.admin_secure_cookies
        if chosen is not None:
            return chosen
        return self.settings.admin_host not in ("127.0.0.1", "localhost", "::1")


class NotSignedIn(Exception):
    """A page asked for without a live session: answered with the login page."""


def context(request: Request) -> AdminContext:
    return request.app.state.admin  # type: ignore[no-any-return]


async def signed_in(request: Request) -> SessionInfo:
    """The request's live session; otherwise the browser goes to /login."""
    info = await context(request).accounts.session(request.cookies.get(SESSION_COOKIE, ""))
    if info is None:
        raise NotSignedIn
    request.state.session = info
    return info


SignedIn = Annotated[SessionInfo, Depends(signed_in)]


def allow(info: SessionInfo | Principal, *roles: AdminRole) -> Principal:
    """The principal if its role is one of ``roles`` (admins always), else 403."""
    principal = info.principal if isinstance(info, SessionInfo) else info
    if not principal.may(*roles):
        raise HTTPException(403, "Недостаточно прав для этого действия.")
    return principal


async def checked_form(request: Request, info: SessionInfo) -> FormData:
    """The form of a POST whose CSRF token is the session's; otherwise 403."""
    form = await request.form()
    token = form.get("csrf")
    if not isinstance(token, str) or not same(token, info.csrf_token):
        raise HTTPException(403, "Форма устарела или пришла не с этого сайта: обновите страницу.")
    return form


def field_text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def login_redirect(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return redirect(f"/login?next={quote(target, safe='')}")


def safe_next(value: str | None) -> str:
    """A redirect target after login only on this site (no //evil.example)."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/"


def home_of(principal: Principal) -> str:
    if principal.role == AdminRole.SUPERVISOR:
        return "/dashboard"
    return "/faq"


def new_login_csrf() -> str:
    return secrets.token_urlsafe(24)


class Pages:
    """Renders the Jinja templates with what every page needs."""

    def __init__(self, tz: ZoneInfo) -> None:
        self.templates = Jinja2Templates(directory=str(TEMPLATES))
        env = self.templates.env
        env.globals["ROLE_NAMES"] = ROLE_NAMES
        env.globals["AdminRole"] = AdminRole
        env.filters["when"] = lambda value: _when(value, tz)

    def render(
        self,
        request: Request,
        name: str,
        status_code: int = 200,
        **values: Any,
    ) -> HTMLResponse:
        info: SessionInfo | None = getattr(request.state, "session", None)
        values.setdefault("principal", info.principal if info else None)
        values.setdefault("csrf", info.csrf_token if info else "")
        values["request"] = request
        return self.templates.TemplateResponse(request, name, values, status_code=status_code)


def _when(value: datetime | None, tz: ZoneInfo) -> str:
    if value is None:
        return "—"
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo("UTC"))
    return value.astimezone(tz).strftime("%d.%m.%Y %H:%M")


SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
}


def harden(response: Response, *, private: bool) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if private:
        response.headers.setdefault("Cache-Control", "no-store")
    return response
