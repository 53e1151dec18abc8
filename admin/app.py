"""The web admin: FastAPI pages for editors, supervisors and admins, and the HTTP API
under /api/ (`admin.api`). `create_app` builds it around an `AdminContext`; `djinn
admin` serves it alone and `djinn run` beside the bots (`admin.server`)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import select

from admin import api, dashboard_pages, faq_pages, gaps_pages
from admin.accounts import AccountError, SignInResult
from admin.security import same
from admin.web import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    STATIC,
    AdminContext,
    NotSignedIn,
    Pages,
    SignedIn,
    allow,
    checked_form,
    context,
    field_text,
    harden,
    home_of,
    login_redirect,
    new_login_csrf,
    redirect,
    safe_next,
)
from core.domain import AdminRole
from core.models import AuditEntry

AUDIT_PAGE = 50

# What the audit log's actions mean, for people.
ACTIONS = {
    "faq.created": "запись создана",
    "faq.updated": "запись изменена",
    "faq.archived": "запись в архиве",
    "faq.rolled_back": "запись возвращена к версии",
    "faq.imported": "импорт базы знаний",
    "admin.user_created": "пользователь создан",
    "admin.password_set": "пароль сменён",
    "admin.user_disabled": "пользователь отключён",
    "admin.user_enabled": "пользователь включён",
    "admin.user_locked": "вход заблокирован после неверных паролей",
    "admin.token_created": "API-токен выпущен",
    "admin.token_revoked": "API-токен отозван",
}


def create_app(admin: AdminContext) -> FastAPI:
    app = FastAPI(
        title="Djinn",
        summary="API контакт-центра Djinn: база знаний и её проверка",
        version="1",
        openapi_url="/api/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    app.state.admin = admin
    pages = Pages(admin.tz)
    app.state.pages = pages
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")

    @app.exception_handler(NotSignedIn)
    async def _not_signed_in(request: Request, _: NotSignedIn) -> Response:
        return harden(login_redirect(request), private=True)

    @app.exception_handler(HTTPException)
    async def _refused(request: Request, error: HTTPException) -> Response:
        if request.url.path.startswith("/api/"):
            response: Response = JSONResponse(
                {"detail": error.detail}, status_code=error.status_code, headers=error.headers
            )
        else:
            response = pages.render(
                request,
                "error.html",
                error.status_code,
                status=error.status_code,
                message=error.detail,
            )
        return harden(response, private=True)

    @app.middleware("http")
    async def _headers(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        return harden(response, private=not request.url.path.startswith("/static/"))

    _sign_in_pages(app, pages)
    _account_pages(app, pages)
    _audit_pages(app, pages)
    app.include_router(faq_pages.router(pages))
    app.include_router(gaps_pages.router(pages))
    app.include_router(dashboard_pages.router(pages))
    app.include_router(api.router())
    if admin.widget is not None:
        app.include_router(admin.widget.router())
    return app


def _sign_in_pages(app: FastAPI, pages: Pages) -> None:
    @app.get("/", include_in_schema=False)
    async def home(info: SignedIn) -> Response:
        return redirect(home_of(info.principal))

    @app.get("/login", include_in_schema=False)
    async def login_form(request: Request, next: str = "/") -> Response:
        admin = context(request)
        info = await admin.accounts.session(request.cookies.get(SESSION_COOKIE, ""))
        if info is not None:
            return redirect(safe_next(next) if next != "/" else home_of(info.principal))
        return _login_page(request, pages, next=next)

    @app.post("/login", include_in_schema=False)
    async def login(request: Request) -> Response:
        admin = context(request)
        form = await request.form()
        cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
        sent = field_text(form, "csrf")
        target = safe_next(field_text(form, "next"))
        if not cookie or not same(cookie, sent):
            return _login_page(
                request,
                pages,
                next=target,
                status=403,
                error="Страница входа устарела: попробуйте ещё раз.",
            )
        login = field_text(form, "login")
        outcome = await admin.accounts.sign_in(login, field_text(form, "password"))
        if outcome.result == SignInResult.OK:
            assert outcome.session_token is not None and outcome.principal is not None
            response = redirect(target if target != "/" else home_of(outcome.principal))
            response.set_cookie(
                SESSION_COOKIE,
                outcome.session_token,
                httponly=True,
                samesite="lax",
                secure=admin.secure_cookies,
                path="/",
            )
            response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
            return response
        if outcome.result == SignInResult.LOCKED:
            until = outcome.locked_until
            error = (
                "Слишком много неверных паролей: вход закрыт до "
                f"{pages.templates.env.filters['when'](until)}. Если это были не вы, "
                "сообщите администратору."
            )
            return _login_page(request, pages, next=target, status=429, error=error, login=login)
        if outcome.result == SignInResult.DISABLED:
            return _login_page(
                request,
                pages,
                next=target,
                status=403,
                login=login,
                error="Учётная запись отключена. Обратитесь к администратору.",
            )
        return _login_page(
            request,
            pages,
            next=target,
            status=401,
            login=login,
            error="Неверный логин или пароль.",
        )

    @app.post("/logout", include_in_schema=False)
    async def logout(request: Request, info: SignedIn) -> Response:
        await checked_form(request, info)
        await context(request).accounts.sign_out(request.cookies.get(SESSION_COOKIE, ""))
        response = redirect("/login")
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response


def _login_page(
    request: Request,
    pages: Pages,
    *,
    next: str,
    status: int = 200,
    error: str | None = None,
    login: str = "",
) -> Response:
    token = new_login_csrf()
    response = pages.render(
        request,
        "login.html",
        status,
        csrf=token,
        next=safe_next(next),
        error=error,
        login=login,
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=context(request).secure_cookies,
        path="/login",
    )
    return response


def _account_pages(app: FastAPI, pages: Pages) -> None:
    @app.get("/users", include_in_schema=False)
    async def users(request: Request, info: SignedIn) -> Response:
        allow(info)
        return await _users_page(request, pages)

    @app.post("/users", include_in_schema=False)
    async def create_user(request: Request, info: SignedIn) -> Response:
        principal = allow(info)
        form = await checked_form(request, info)
        password = field_text(form, "password")
        if password != field_text(form, "password2"):
            return await _users_page(request, pages, error="Пароли не совпадают.", status=400)
        try:
            await context(request).accounts.create_user(
                field_text(form, "login"),
                password,
                field_text(form, "role"),
                actor=principal.actor,
            )
        except AccountError as error:
            return await _users_page(request, pages, error=str(error), status=400)
        return redirect("/users")

    @app.post("/users/{login}/password", include_in_schema=False)
    async def set_password(login: str, request: Request, info: SignedIn) -> Response:
        principal = allow(info)
        form = await checked_form(request, info)
        try:
            await context(request).accounts.set_password(
                login, field_text(form, "password"), actor=principal.actor
            )
        except AccountError as error:
            return await _users_page(request, pages, error=str(error), status=400)
        return redirect("/users")

    @app.post("/users/{login}/disabled", include_in_schema=False)
    async def set_disabled(login: str, request: Request, info: SignedIn) -> Response:
        principal = allow(info)
        form = await checked_form(request, info)
        disabled = field_text(form, "disabled") == "1"
        if disabled and login == principal.name:
            return await _users_page(
                request, pages, error="Нельзя отключить самого себя.", status=400
            )
        try:
            await context(request).accounts.set_disabled(login, disabled, actor=principal.actor)
        except AccountError as error:
            return await _users_page(request, pages, error=str(error), status=400)
        return redirect("/users")

    @app.post("/tokens", include_in_schema=False)
    async def create_token(request: Request, info: SignedIn) -> Response:
        principal = allow(info)
        form = await checked_form(request, info)
        name = field_text(form, "name")
        try:
            token = await context(request).accounts.create_token(
                name, field_text(form, "role"), actor=principal.actor
            )
        except AccountError as error:
            return await _users_page(request, pages, error=str(error), status=400)
        # Shown once, on this response only; never in a URL.
        return await _users_page(request, pages, new_token=(name.strip(), token))

    @app.post("/tokens/{name}/revoke", include_in_schema=False)
    async def revoke_token(name: str, request: Request, info: SignedIn) -> Response:
        principal = allow(info)
        await checked_form(request, info)
        try:
            await context(request).accounts.revoke_token(name, actor=principal.actor)
        except AccountError as error:
            return await _users_page(request, pages, error=str(error), status=400)
        return redirect("/users")


async def _users_page(
    request: Request,
    pages: Pages,
    *,
    error: str | None = None,
    status: int = 200,
    new_token: tuple[str, str] | None = None,
) -> Response:
    accounts = context(request).accounts
    return pages.render(
        request,
        "users.html",
        status,
        users=await accounts.users(),
        tokens=await accounts.tokens(),
        roles=list(AdminRole),
        error=error,
        new_token=new_token,
    )


def _audit_pages(app: FastAPI, pages: Pages) -> None:
    @app.get("/audit", include_in_schema=False)
    async def audit(
        request: Request,
        info: SignedIn,
        action: str = "",
        actor: str = "",
        before: int | None = None,
    ) -> Response:
        allow(info)
        query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(AUDIT_PAGE + 1)
        if action:
            query = query.where(AuditEntry.action == action)
        if actor:
            query = query.where(AuditEntry.actor == actor)
        if before:
            query = query.where(AuditEntry.id < before)
        async with context(request).sessions() as session:
            rows = list(await session.scalars(query))
            actions = sorted(
                a for a in await session.scalars(select(AuditEntry.action).distinct()) if a
            )
        more = rows[AUDIT_PAGE - 1].id if len(rows) > AUDIT_PAGE else None
        rows = rows[:AUDIT_PAGE]
        return pages.render(
            request,
            "audit.html",
            entries=[(row, _changes(row.details)) for row in rows],
            actions=actions,
            action_names=ACTIONS,
            action=action,
            actor=actor,
            more=more,
        )


def _changes(details: dict[str, Any] | None) -> list[tuple[str, Any, Any]]:
    """The fields a change touched, before and after; empty when the record has no
    before/after (then its details are shown as they are)."""
    if not details or "after" not in details:
        return []
    before = details.get("before") or {}
    after = details.get("after") or {}
    return [
        (name, before.get(name), after.get(name))
        for name in sorted(set(before) | set(after))
        if before.get(name) != after.get(name)
    ]
