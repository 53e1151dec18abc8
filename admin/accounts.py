"""Users, browser sessions and API tokens of the web admin.

A user signs in with a login and a password; five wrong passwords in a row lock the
account for fifteen minutes (a correct password is refused too while it is locked, so
guessing cannot go on), and the lock is written to the audit log. A session is a random
token in an HttpOnly cookie, valid twelve hours or until sign-out; its row keeps the
token's SHA-256 and the CSRF token every form of that session must carry. API tokens are
issued by name with a role, shown once, and stop working when revoked.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from admin.security import (
    SCRYPT_N,
    digest,
    hash_password,
    new_token,
    verify_password,
    waste_time,
)
from core.db import SessionFactory
from core.domain import AdminRole
from core.models import AdminSession, AdminUser, ApiToken, AuditEntry, as_utc, utcnow

MAX_FAILURES = 5
LOCKOUT = timedelta(minutes=15)
SESSION_LIFETIME = timedelta(hours=12)
MIN_PASSWORD = 10
MAX_PASSWORD = 256
LOGIN = re.compile(r"[a-z0-9][a-z0-9._-]{1,63}")
TOKEN_NAME = re.compile(r"[\w.-]{1,64}")


class AccountError(ValueError):
    """A request the accounts refuse; the message is for the person (Russian)."""


class SignInResult(StrEnum):
    OK = "ok"
    WRONG = "wrong"  # unknown login or wrong password: the same answer for both
    LOCKED = "locked"
    DISABLED = "disabled"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who makes a request: a signed-in user or an API token."""

    kind: str  # "user" or "token"
    id: int
    name: str
    role: AdminRole

    @property
    def actor(self) -> str:
        """How the audit log names it."""
        return f"{self.kind}:{self.name}"

    def may(self, *roles: AdminRole) -> bool:
        """Whether its role is one of ``roles`` (an admin may everything)."""
        return self.role == AdminRole.ADMIN or self.role in roles


@dataclass(frozen=True, slots=True)
class SignIn:
    result: SignInResult
    principal: Principal | None = None
    session_token: str | None = None  # for the cookie
    csrf_token: str | None = None
    locked_until: datetime | None = None


@dataclass(frozen=True, slots=True)
class SessionInfo:
    principal: Principal
    csrf_token: str
    expires_at: datetime


def role_of(value: str) -> AdminRole:
    try:
        return AdminRole(value)
    except ValueError:
        names = ", ".join(r.value for r in AdminRole)
        raise AccountError(f"нет роли «{value}»; роли: {names}") from None


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"пароль короче {MIN_PASSWORD} символов")
    if len(password) > MAX_PASSWORD:
        raise AccountError(f"пароль длиннее {MAX_PASSWORD} символов")
    if password != password.strip():
        raise AccountError("пароль начинается или кончается пробелом")


class Accounts:
    """The users, sessions and tokens kept in the database.

    Args:
        sessions: Database sessions.
        clock: The current time (tests move it).
        password_cost: scrypt's N for new passwords (tests of other things lower it;
            a stored hash names its own cost, so verifying follows it).
    """

    def __init__(
        self,
        sessions: SessionFactory,
        clock: Callable[[], datetime] = utcnow,
        *,
        password_cost: int = SCRYPT_N,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._cost = password_cost

    # --- Users ---------------------------------------------------------------------

    async def create_user(self, login: str, password: str, role: str, *, actor: str) -> int:
        """Create a user; raises `AccountError` for a bad login, role or password, or a
        login already taken."""
        login = login.strip().lower()
        if not LOGIN.fullmatch(login):
            raise AccountError(
                "логин — от 2 до 64 латинских строчных букв, цифр и знаков . _ -, "
                "с буквы или цифры"
            )
        chosen = role_of(role)
        check_password(password)
        hashed = await asyncio.to_thread(hash_password, password, n=self._cost)
        async with self._sessions.begin() as session:
            if await session.scalar(select(AdminUser.id).where(AdminUser.login == login)):
                raise AccountError(f"пользователь «{login}» уже есть")
            user = AdminUser(login=login, password_hash=hashed, role=chosen.value)
            session.add(user)
            await session.flush()
            _audit(session, actor, "admin.user_created", {"login": login, "role": chosen.value})
            return user.id

    async def set_password(self, login: str, password: str, *, actor: str) -> None:
        """Replace a user's password, unlock the account and end its sessions."""
        check_password(password)
        hashed = await asyncio.to_thread(hash_password, password, n=self._cost)
        now = self._clock()
        async with self._sessions.begin() as session:
            user = await _user(session, login)
            user.password_hash, user.failed_logins, user.locked_until = hashed, 0, None
            await _end_sessions(session, user.id, now)
            _audit(session, actor, "admin.password_set", {"login": user.login})

    async def set_disabled(self, login: str, disabled: bool, *, actor: str) -> None:
        """Disable a user (who can no longer sign in; sessions end) or enable one."""
        now = self._clock()
        async with self._sessions.begin() as session:
            user = await _user(session, login)
            user.disabled_at = now if disabled else None
            if disabled:
                await _end_sessions(session, user.id, now)
            action = "admin.user_disabled" if disabled else "admin.user_enabled"
            _audit(session, actor, action, {"login": user.login})

    async def users(self) -> list[AdminUser]:
        async with self._sessions() as session:
            return list(await session.scalars(select(AdminUser).order_by(AdminUser.login)))

    # --- Signing in ----------------------------------------------------------------

    async def sign_in(self, login: str, password: str) -> SignIn:
        """Check a login and password; on success open a session."""
        login = login.strip().lower()
        now = self._clock()
        async with self._sessions() as session:
            user = await session.scalar(select(AdminUser).where(AdminUser.login == login))
        if user is None:
            await asyncio.to_thread(waste_time, password)
            return SignIn(SignInResult.WRONG)
        if user.locked_until is not None and as_utc(user.locked_until) > now:
            return SignIn(SignInResult.LOCKED, locked_until=as_utc(user.locked_until))
        right = await asyncio.to_thread(verify_password, password, user.password_hash)
        async with self._sessions.begin() as session:
            user = await _user(session, login)
            if not right:
                user.failed_logins += 1
                if user.failed_logins < MAX_FAILURES:
                    return SignIn(SignInResult.WRONG)
                user.failed_logins, user.locked_until = 0, now + LOCKOUT
                _audit(session, f"user:{login}", "admin.user_locked", {"login": login})
                return SignIn(SignInResult.LOCKED, locked_until=user.locked_until)
            if user.disabled_at is not None:
                return SignIn(SignInResult.DISABLED)
            user.failed_logins, user.locked_until, user.last_login_at = 0, None, now
            token, csrf = new_token(), new_token()
            session.add(
                AdminSession(
                    token_hash=digest(token),
                    user_id=user.id,
                    csrf_token=csrf,
                    created_at=now,
                    expires_at=now + SESSION_LIFETIME,
                )
            )
            principal = Principal("user", user.id, user.login, AdminRole(user.role))
            return SignIn(SignInResult.OK, principal, token, csrf)

    async def session(self, token: str) -> SessionInfo | None:
        """The live session of a cookie's token, or None (unknown, expired, signed out,
        the user disabled)."""
        if not token:
            return None
        now = self._clock()
        async with self._sessions() as session:
            row = (
                await session.execute(
                    select(AdminSession, AdminUser)
                    .join(AdminUser, AdminUser.id == AdminSession.user_id)
                    .where(AdminSession.token_hash == digest(token))
                )
            ).first()
        if row is None:
            return None
        live, user = row
        if live.revoked_at is not None or as_utc(live.expires_at) <= now:
            return None
        if user.disabled_at is not None:
            return None
        principal = Principal("user", user.id, user.login, AdminRole(user.role))
        return SessionInfo(principal, live.csrf_token, as_utc(live.expires_at))

    async def sign_out(self, token: str) -> None:
        """End the session of a cookie's token (its cookie no longer works)."""
        async with self._sessions.begin() as session:
            await session.execute(
                update(AdminSession)
                .where(AdminSession.token_hash == digest(token), AdminSession.revoked_at.is_(None))
                .values(revoked_at=self._clock())
            )

    # --- API tokens ----------------------------------------------------------------

    async def create_token(self, name: str, role: str, *, actor: str) -> str:
        """Issue an API token; returns the token, which is not kept and cannot be shown
        again."""
        name = name.strip()
        if not TOKEN_NAME.fullmatch(name):
            raise AccountError("имя токена — до 64 букв, цифр и знаков . _ - без пробелов")
        chosen = role_of(role)
        token = new_token()
        async with self._sessions.begin() as session:
            if await session.scalar(select(ApiToken.id).where(ApiToken.name == name)):
                raise AccountError(
                    f"токен «{name}» уже есть; отзовите его или выберите другое имя"
                )
            session.add(
                ApiToken(name=name, token_hash=digest(token), role=chosen.value, created_by=actor)
            )
            _audit(session, actor, "admin.token_created", {"name": name, "role": chosen.value})
        return token

    async def revoke_token(self, name: str, *, actor: str) -> None:
        async with self._sessions.begin() as session:
            row = await session.scalar(select(ApiToken).where(ApiToken.name == name))
            if row is None:
                raise AccountError(f"токена «{name}» нет")
            if row.revoked_at is None:
                row.revoked_at = self._clock()
                _audit(session, actor, "admin.token_revoked", {"name": name})

    async def tokens(self) -> list[ApiToken]:
        async with self._sessions() as session:
            return list(await session.scalars(select(ApiToken).order_by(ApiToken.name)))

    async def token(self, token: str) -> Principal | None:
        """The principal of a live API token, or None (unknown or revoked)."""
        if not token:
            return None
        async with self._sessions.begin() as session:
            row = await session.scalar(
                select(ApiToken).where(ApiToken.token_hash == digest(token))
            )
            if row is None or row.revoked_at is not None:
                return None
            row.last_used_at = self._clock()
            return Principal("token", row.id, row.name, AdminRole(row.role))


async def _user(session: AsyncSession, login: str) -> AdminUser:
    login = login.strip().lower()
    user = await session.scalar(select(AdminUser).where(AdminUser.login == login))
    if user is None:
        raise AccountError(f"пользователя «{login}» нет")
    return user


async def _end_sessions(session: AsyncSession, user_id: int, now: datetime) -> None:
    await session.execute(
        update(AdminSession)
        .where(AdminSession.user_id == user_id, AdminSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )


def _audit(session: AsyncSession, actor: str, action: str, details: dict[str, Any]) -> None:
    session.add(AuditEntry(actor=actor[:64], action=action, details=details))
