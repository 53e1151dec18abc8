"""The widget's settings: allowed sites as browsers name them, colours CSS takes, and
what keeps the widget off."""

from __future__ import annotations

import pytest
from pydantic import SecretStr, ValidationError

from bots.web.config import contrast, widget_problem
from core.settings import Environment, Settings


def settings(**values) -> Settings:
    return Settings(_env_file=None, **values)


def test_origins_are_normalised_as_browsers_send_them():
    given = settings(
        widget_origins=" https://City.Example.ru/ , http://127.0.0.1:8000,https://x.ru:443,"
    )
    assert given.widget_origin_list() == [
        "https://city.example.ru",
        "http://127.0.0.1:8000",
        "https://x.ru",
    ]
    assert settings().widget_origin_list() == []


@pytest.mark.parametrize(
    "bad", ["city.example.ru", "ftp://city.example.ru", "https://city.example.ru/chat", "https://"]
)
def test_a_malformed_origin_keeps_the_widget_off_and_says_why(bad, tmp_path):
    with pytest.raises(ValueError, match="DJINN_WIDGET_ORIGINS"):
        settings(widget_origins=bad).widget_origin_list()
    problem = widget_problem(settings(widget_origins=bad, data_dir=tmp_path))
    assert problem is not None and "DJINN_WIDGET_ORIGINS" in problem


def test_colours_are_css_hex_colours():
    assert settings(widget_color="#0A5", widget_text_color="#ffffff").widget_color == "#0A5"
    for bad in ("red", "#12345", "javascript:alert(1)", "#fff;background:url(x)"):
        with pytest.raises(ValidationError):
            settings(widget_color=bad)


def test_what_keeps_the_widget_off(tmp_path):
    assert widget_problem(settings(data_dir=tmp_path)) is None  # dev: a key is made
    assert widget_problem(settings(widget=False)) == "DJINN_WIDGET=off"
    production = settings(env=Environment.PROD, data_dir=tmp_path)
    assert "DJINN_WIDGET_SECRET" in (widget_problem(production) or "")
    ready = settings(env=Environment.PROD, widget_secret=SecretStr("s" * 40))
    assert widget_problem(ready) is None


def test_the_contrast_of_the_colours():
    assert round(contrast("#1f5fa8", "#ffffff"), 2) == 6.44  # the defaults
    assert round(contrast("#000", "#fff"), 1) == 21.0
    assert contrast("#ffffff", "#ffff00") < 4.5
