"""Reading a citizen's message as the answer to the appeal form's pending question,
or deciding that it interrupts the form (a question, an emergency, «отмена»…)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from core.appeals import CATEGORIES
from nlu.actions import texts
from nlu.actions.phone import normalise_phone
from nlu.actions.turn import Said

# Intents that always interrupt the form; the rules answer them.
CONTROL = frozenset({"cancel", "correct_field", "emergency", "request_operator"})
# Intents with a rule inside the form; a long free-text answer wins over them.
SOCIAL = frozenset(
    {
        "greet",
        "thanks",
        "goodbye",
        "chitchat",
        "abuse",
        "out_of_scope",
        "check_appeal_status",
        "file_appeal",
    }
)
FREE_TEXT = frozenset({"appeal_address", "appeal_description"})
# A free-text answer of more words than this is an answer whatever its intent.
SOCIAL_WORDS = 4
_QUESTION_WORDS = frozenset(
    "как где когда куда кто что сколько можно зачем почему какой какая какие каком какую "
    "какое чем кому откуда ли подскажите скажите".split()
)
_SKIP = frozenset(
    {"нет", "не", "пропустить", "пропусти", "пропуск", "без", "скип", "нету", "дальше"}
)
_CATEGORY_STEMS = {
    key: tuple(stems.split())
    for key, stems in {
        "housing": "жкх жку коммун жилищ дом подъезд крыш отоплен батаре лифт канализ "
        "управляющ квартир",
        "roads": "дорог ям транспорт автобус остановк светофор тротуар асфальт маршрут трасс",
        "improvement": "благоустр двор площадк фонар освещ дерев газон парк сквер озелен скамей",
        "waste": "мусор свалк контейнер отход помойк",
        "other": "друг проч иное иная",
    }.items()
}
_WORD = re.compile(r"[а-яa-z0-9]+")


@dataclass(frozen=True, slots=True)
class Unclear:
    """A message meant as the answer that cannot be used; ``hint`` says why."""

    hint: str


def looks_like_question(text: str) -> bool:
    words = _words(text)
    return text.rstrip().endswith("?") or bool(words and words[0] in _QUESTION_WORDS)


def answers(slot: str, said: Said) -> bool:
    """Whether ``said`` answers the question for ``slot`` (else it interrupts)."""
    intent = said.intent
    if intent in CONTROL:
        return False
    if slot == "appeal_phone" and normalise_phone(said.text):
        return True
    if slot == "appeal_category" and category_of(said):
        return True
    if slot == "appeal_photo" and said.kind:
        return True
    if slot == "appeal_consent" and intent in ("affirm", "deny"):
        return True
    if intent == "ask_question":
        return slot in FREE_TEXT and not looks_like_question(said.text)
    if intent in SOCIAL:
        return slot in FREE_TEXT and not said.is_payload and said.words > SOCIAL_WORDS
    return True


def read(slot: str, said: Said) -> Any:
    """The value ``said`` gives ``slot``, or `Unclear` with a hint."""
    if slot == "appeal_consent":
        return _consent(said)
    if slot == "appeal_category":
        return category_of(said) or Unclear(texts.CATEGORY_HINT)
    if slot == "appeal_photo":
        return _photo(said)
    if slot == "appeal_phone":
        return normalise_phone(said.text) or Unclear(texts.PHONE_INVALID)
    return _free_text(slot, said)


def category_of(said: Said) -> str | None:
    """The category a button or the citizen's words name."""
    value = said.entities.get("appeal_category")
    if value in CATEGORIES:
        return str(value)
    if said.is_payload:
        return None
    words = _words(said.text)
    scores = {
        key: sum(1 for w in words if w.startswith(stems)) for key, stems in _CATEGORY_STEMS.items()
    }
    best = max(scores, key=lambda key: scores[key])
    return best if scores[best] else None


def _consent(said: Said) -> bool | Unclear:
    if said.intent == "affirm":
        return True
    if said.intent == "deny":
        return False
    return Unclear(texts.CONSENT_HINT)


def _photo(said: Said) -> list[dict[str, Any]] | Unclear:
    if said.kind == "photo" and said.attachments:
        return said.attachments
    if said.kind:
        return Unclear(texts.PHOTO_WRONG_KIND)
    words = _words(said.text)
    if said.intent == "deny" or (words and words[0] in _SKIP):
        return []
    return Unclear(texts.PHOTO_HINT)


def _free_text(slot: str, said: Said) -> str | Unclear:
    hint = texts.ADDRESS_HINT if slot == "appeal_address" else texts.DESCRIPTION_HINT
    if said.kind or said.is_payload or len(_words(said.text)) == 0:
        return Unclear(hint)
    if slot == "appeal_address" and len(said.text) < 5:
        return Unclear(hint)
    if slot == "appeal_description" and len(said.text) < 10:
        return Unclear(hint)
    return said.text[:2000]


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower().replace("ё", "е"))
