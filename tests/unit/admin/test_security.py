"""Password hashes and token digests of the web admin."""

import pytest

from admin.accounts import AccountError, Principal, check_password, role_of
from admin.security import SCRYPT_N, digest, hash_password, new_token, same, verify_password
from core.domain import AdminRole

CHEAP = 2**10  # the stored hash names its cost; the default one is tested once below


def test_a_password_verifies_against_its_hash_and_no_other():
    stored = hash_password("длинный пароль 1", n=CHEAP)
    assert verify_password("длинный пароль 1", stored)
    assert not verify_password("длинный пароль 2", stored)
    assert not verify_password("", stored)


def test_the_default_hash_is_scrypt_at_the_recommended_cost_with_a_random_salt():
    first, second = hash_password("пароль-пароль"), hash_password("пароль-пароль")
    assert first.startswith(f"scrypt${SCRYPT_N}$8$1$") and SCRYPT_N >= 2**17
    assert first != second  # salted
    assert verify_password("пароль-пароль", first) and verify_password("пароль-пароль", second)


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "plain-text-password",
        "bcrypt$1$2$3$c2FsdA==$a2V5",
        "scrypt$notanumber$8$1$c2FsdA==$a2V5",
        "scrypt$1024$8$1$!!!$a2V5",
        "scrypt$3$8$1$c2FsdA==$a2V5",  # N not a power of two
    ],
)
def test_a_malformed_hash_matches_nothing(stored):
    assert not verify_password("plain-text-password", stored)


def test_tokens_are_random_and_only_their_digest_is_kept():
    tokens = {new_token() for _ in range(100)}
    assert len(tokens) == 100 and all(len(t) >= 43 for t in tokens)
    token = tokens.pop()
    assert len(digest(token)) == 64 and token not in digest(token)
    assert digest(token) == digest(token) and same(token, token) and not same(token, token + "x")


@pytest.mark.parametrize(
    ("password", "problem"),
    [("короткий", "короче"), (" с пробелом впереди", "пробелом"), ("x" * 300, "длиннее")],
)
def test_weak_passwords_are_refused(password, problem):
    with pytest.raises(AccountError, match=problem):
        check_password(password)


def test_roles():
    assert role_of("editor") == AdminRole.EDITOR
    with pytest.raises(AccountError, match="нет роли «boss»"):
        role_of("boss")
    editor = Principal("user", 1, "anna", AdminRole.EDITOR)
    admin = Principal("token", 2, "crm", AdminRole.ADMIN)
    assert editor.may(AdminRole.EDITOR) and not editor.may(AdminRole.SUPERVISOR)
    assert admin.may(AdminRole.SUPERVISOR) and admin.actor == "token:crm"
