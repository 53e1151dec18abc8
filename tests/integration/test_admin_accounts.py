"""Users, sessions and API tokens of the web admin on real SQLite and PostgreSQL."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from admin.accounts import (
    LOCKOUT,
    MAX_FAILURES,
    SESSION_LIFETIME,
    AccountError,
    Accounts,
    SignInResult,
)
from core.domain import AdminRole
from core.models import AdminSession, AdminUser, ApiToken, AuditEntry

PASSWORD = "верный пароль 2026"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def accounts(sessions, clock) -> Accounts:
    accounts = Accounts(sessions, clock)
    await accounts.create_user("Anna", PASSWORD, "editor", actor="shell")
    return accounts


async def audit(sessions) -> list[tuple[str, str]]:
    async with sessions() as session:
        rows = await session.scalars(select(AuditEntry).order_by(AuditEntry.id))
        return [(row.actor, row.action) for row in rows]


async def test_sign_in_opens_a_session_that_sign_out_ends(accounts, sessions):
    signed = await accounts.sign_in(" ANNA ", PASSWORD)
    assert signed.result == SignInResult.OK and signed.session_token and signed.csrf_token
    assert signed.principal is not None and signed.principal.role == AdminRole.EDITOR

    live = await accounts.session(signed.session_token)
    assert live is not None and live.principal.name == "anna"
    assert live.csrf_token == signed.csrf_token

    async with sessions() as session:  # the database keeps only the token's digest
        row = await session.scalar(select(AdminSession))
        assert row is not None and signed.session_token not in row.token_hash

    await accounts.sign_out(signed.session_token)
    assert await accounts.session(signed.session_token) is None
    assert await accounts.session("") is None and await accounts.session("made-up") is None


async def test_a_session_expires(accounts, clock):
    signed = await accounts.sign_in("anna", PASSWORD)
    clock.now += SESSION_LIFETIME - timedelta(seconds=1)
    assert await accounts.session(signed.session_token) is not None
    clock.now += timedelta(seconds=1)
    assert await accounts.session(signed.session_token) is None


async def test_five_wrong_passwords_lock_the_account_for_a_while(accounts, sessions, clock):
    for _ in range(MAX_FAILURES - 1):
        assert (await accounts.sign_in("anna", "не тот пароль")).result == SignInResult.WRONG
    locked = await accounts.sign_in("anna", "не тот пароль")
    assert locked.result == SignInResult.LOCKED and locked.locked_until == clock.now + LOCKOUT

    # While locked even the right password is refused, so guessing cannot go on.
    clock.now += LOCKOUT - timedelta(seconds=1)
    refused = await accounts.sign_in("anna", PASSWORD)
    assert refused.result == SignInResult.LOCKED and refused.session_token is None

    clock.now += timedelta(seconds=1)
    assert (await accounts.sign_in("anna", PASSWORD)).result == SignInResult.OK
    assert ("user:anna", "admin.user_locked") in await audit(sessions)


async def test_a_right_password_resets_the_count_of_wrong_ones(accounts):
    for _ in range(MAX_FAILURES - 1):
        await accounts.sign_in("anna", "не тот пароль")
    assert (await accounts.sign_in("anna", PASSWORD)).result == SignInResult.OK
    for _ in range(MAX_FAILURES - 1):
        assert (await accounts.sign_in("anna", "не тот пароль")).result == SignInResult.WRONG


async def test_an_unknown_login_gets_the_answer_of_a_wrong_password(accounts):
    assert (await accounts.sign_in("nobody", PASSWORD)).result == SignInResult.WRONG


async def test_a_disabled_user_cannot_sign_in_and_loses_open_sessions(accounts):
    signed = await accounts.sign_in("anna", PASSWORD)
    await accounts.set_disabled("anna", True, actor="shell")
    assert await accounts.session(signed.session_token) is None
    assert (await accounts.sign_in("anna", PASSWORD)).result == SignInResult.DISABLED
    await accounts.set_disabled("anna", False, actor="shell")
    assert (await accounts.sign_in("anna", PASSWORD)).result == SignInResult.OK


async def test_a_new_password_unlocks_and_ends_sessions(accounts, sessions):
    signed = await accounts.sign_in("anna", PASSWORD)
    for _ in range(MAX_FAILURES):
        await accounts.sign_in("anna", "не тот пароль")
    await accounts.set_password("anna", "новый пароль 2027", actor="shell")
    assert await accounts.session(signed.session_token) is None
    assert (await accounts.sign_in("anna", PASSWORD)).result == SignInResult.WRONG
    assert (await accounts.sign_in("anna", "новый пароль 2027")).result == SignInResult.OK
    async with sessions() as session:
        user = await session.scalar(select(AdminUser))
        assert user is not None and PASSWORD not in user.password_hash
        assert user.password_hash.startswith("scrypt$")


@pytest.mark.parametrize(
    ("login", "role", "password", "problem"),
    [
        ("anna", "editor", PASSWORD, "уже есть"),
        ("ANNA", "admin", PASSWORD, "уже есть"),
        ("a", "editor", PASSWORD, "логин"),
        ("анна", "editor", PASSWORD, "логин"),
        ("boris", "boss", PASSWORD, "нет роли"),
        ("boris", "editor", "short", "короче"),
    ],
)
async def test_bad_users_are_refused(accounts, login, role, password, problem):
    with pytest.raises(AccountError, match=problem):
        await accounts.create_user(login, password, role, actor="shell")
    assert [u.login for u in await accounts.users()] == ["anna"]


async def test_an_api_token_works_until_revoked(accounts, sessions):
    token = await accounts.create_token("regional-crm", "editor", actor="shell")
    principal = await accounts.token(token)
    assert principal is not None and principal.role == AdminRole.EDITOR
    assert principal.actor == "token:regional-crm"
    assert await accounts.token(token + "x") is None and await accounts.token("") is None

    with pytest.raises(AccountError, match="уже есть"):
        await accounts.create_token("regional-crm", "admin", actor="shell")
    async with sessions() as session:
        row = await session.scalar(select(ApiToken))
        assert row is not None and row.last_used_at is not None and token not in row.token_hash

    await accounts.revoke_token("regional-crm", actor="user:root")
    assert await accounts.token(token) is None
    with pytest.raises(AccountError, match="нет"):
        await accounts.revoke_token("unknown", actor="shell")
    assert await audit(sessions) == [
        ("shell", "admin.user_created"),
        ("shell", "admin.token_created"),
        ("user:root", "admin.token_revoked"),
    ]
