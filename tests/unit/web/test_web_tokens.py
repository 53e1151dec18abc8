"""Visitors' tokens: signed, tied to the key, short-lived, and nothing else decodes."""

from __future__ import annotations

import os
import stat

import pytest
from pydantic import SecretStr

from bots.web.tokens import VisitorTokens, signing_key
from core.settings import Environment, Settings

DAY = 86400.0
KEY = b"0123456789abcdef-test-key"


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_a_token_names_its_visitor_until_it_expires():
    clock = Clock()
    tokens = VisitorTokens(KEY, 30 * DAY, clock)
    visitor = tokens.new_visitor()
    token = tokens.issue(visitor)
    assert tokens.visitor(token) == visitor
    assert visitor not in token.split(".")[0]  # "w1", then the signed body
    clock.now += 30 * DAY - 1
    assert tokens.visitor(token) == visitor
    clock.now += 2
    assert tokens.visitor(token) is None
    # Re-issued on every connection: the new one runs from now.
    fresh = tokens.issue(visitor)
    assert tokens.visitor(fresh) == visitor


def test_new_visitors_are_random_and_url_safe():
    tokens = VisitorTokens(KEY, DAY)
    made = {tokens.new_visitor() for _ in range(1000)}
    assert len(made) == 1000
    assert all(len(v) == 22 and v.replace("-", "").replace("_", "").isalnum() for v in made)


def test_tampered_foreign_and_malformed_tokens_are_refused():
    clock = Clock()
    tokens = VisitorTokens(KEY, DAY, clock)
    visitor = tokens.new_visitor()
    token = tokens.issue(visitor)
    version, body, signature = token.split(".")
    other = VisitorTokens(b"another installation's key", DAY, clock)
    someone_else = tokens.new_visitor()
    forged = f"{version}.{other.issue(someone_else).split('.')[1]}.{signature}"
    for bad in [
        other.issue(visitor),
        forged,
        f"{version}.{body}.{signature[:-1]}",
        f"{version}.{body[:-1]}{'B' if body[-1] == 'A' else 'A'}.{signature}",
        f"w2.{body}.{signature}",
        f"{version}.{body}",
        "",
        "....",
        "w1.!!!.!!!",
        token + "x" * 300,
        None,
        42,
        ["w1", body, signature],
    ]:
        assert tokens.visitor(bad) is None, bad


def test_a_token_from_the_future_is_refused_past_the_skew():
    clock = Clock()
    tokens = VisitorTokens(KEY, DAY, clock)
    visitor = tokens.new_visitor()
    clock.now += 3600
    ahead = tokens.issue(visitor)
    clock.now -= 3600
    assert tokens.visitor(ahead) is None


def test_a_short_key_is_refused():
    with pytest.raises(ValueError, match="16 bytes"):
        VisitorTokens(b"short", DAY)


def test_the_key_in_development_is_made_once_and_kept(tmp_path):
    settings = Settings(_env_file=None, data_dir=tmp_path)
    first = signing_key(settings)
    assert first is not None and len(first) == 32
    kept = tmp_path / "widget" / "secret"
    assert stat.S_IMODE(os.stat(kept).st_mode) == 0o600
    assert signing_key(settings) == first


def test_the_key_is_the_setting_and_production_needs_one(tmp_path):
    given = Settings(_env_file=None, data_dir=tmp_path, widget_secret=SecretStr("k" * 40))
    assert signing_key(given) == b"k" * 40
    production = Settings(_env_file=None, data_dir=tmp_path, env=Environment.PROD)
    assert signing_key(production) is None
    assert not (tmp_path / "widget").exists()
    with pytest.raises(ValueError, match="WIDGET_SECRET holds a placeholder"):
        Settings(_env_file=None, env=Environment.PROD, widget_secret=SecretStr("changeme"))
