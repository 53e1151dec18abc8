"""The widget's settings as the widget uses them: what it shows before it connects, and
whether it can run at all."""

from __future__ import annotations

import logging
from typing import Any

from bots.web import texts
from bots.web.photos import PHOTO_LIMIT, TYPES
from bots.web.tokens import signing_key
from core.settings import Settings

log = logging.getLogger(__name__)

READABLE_CONTRAST = 4.5  # WCAG AA for text


def widget_config(settings: Settings) -> dict[str, Any]:
    """What the widget shows before it connects: the texts, the colours, the link to the
    personal-data policy and the photo limits."""
    return {
        "title": settings.widget_title,
        "greeting": settings.widget_greeting or texts.GREETING.format(org=settings.org_name),
        "color": settings.widget_color,
        "text_color": settings.widget_text_color,
        "notice": texts.NOTICE.format(org=settings.org_name),
        "privacy_url": settings.widget_privacy_url,
        "photo_limit": PHOTO_LIMIT,
        "photo_types": sorted(TYPES.values()),
    }


def warn_about_contrast(settings: Settings) -> None:
    ratio = contrast(settings.widget_color, settings.widget_text_color)
    if ratio < READABLE_CONTRAST:
        log.warning("widget: DJINN_WIDGET_TEXT_COLOR on DJINN_WIDGET_COLOR has a contrast "
                    "of %.1f:1, under the %.1f:1 people need to read it", ratio,
                    READABLE_CONTRAST)  # fmt: skip


def contrast(first: str, second: str) -> float:
    """The WCAG contrast ratio of two ``#rgb``/``#rrggbb`` colours (1 to 21)."""

    def luminance(colour: str) -> float:
        digits = colour.lstrip("#")
        if len(digits) == 3:
            digits = "".join(d * 2 for d in digits)
        channels = [int(digits[i : i + 2], 16) / 255 for i in (0, 2, 4)]
        r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    lighter, darker = sorted((luminance(first), luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def widget_problem(settings: Settings) -> str | None:
    """Why the widget cannot run with these settings, in the operator's words; None when
    it can."""
    if not settings.widget:
        return "DJINN_WIDGET=off"
    try:
        settings.widget_origin_list()
    except ValueError as error:
        return str(error)
    if signing_key(settings) is None:
        return "не задан DJINN_WIDGET_SECRET (в рабочем режиме он обязателен)"
    return None
