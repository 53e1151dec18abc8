"""Large synthetic knowledge bases made from the demo FAQ, for performance benchmarks.

Entry ``i`` of a base of any size is always the same, so a smaller base is a prefix of
a larger one and embeddings cached for 10k entries serve the first 10k of 100k. The
first 180 entries are the demo FAQ itself; every later entry is a variant of a demo
entry made local and specific: a place (district, settlement or street), an audience
and a year are woven into each of its questions and phrasings, the wording varies
(another phrasing may become the main question, a lead-in or a fronted place), and
the answer gets a local paragraph (office, address, phone, hours). Every question is
distinct, so a base of any size imports as that many entries.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from bench.devset import demo_entries
from knowledge_base.index import IndexedEntry

SEED = 20261129

_DISTRICTS = (
    "Ленинском", "Кировском", "Октябрьском", "Советском", "Центральном", "Заводском",
    "Железнодорожном", "Фрунзенском", "Калининском", "Первомайском", "Пролетарском",
    "Ворошиловском", "Индустриальном", "Северном",
)  # fmt: skip
_SETTLEMENTS = (
    "в посёлке Луговом", "в селе Покровском", "в деревне Берёзовке", "в посёлке Заречном",
    "в микрорайоне Солнечном", "в селе Никольском", "в посёлке Сосновом",
    "в микрорайоне Юбилейном", "в селе Ивановском", "в посёлке Рабочем",
)  # fmt: skip
# (prepositional phrase, street as written in an address)
_STREETS = (
    ("на улице Ленина", "ул. Ленина"), ("на улице Гагарина", "ул. Гагарина"),
    ("на Садовой улице", "ул. Садовая"), ("на улице Мира", "ул. Мира"),
    ("на проспекте Победы", "пр-т Победы"), ("на улице Чехова", "ул. Чехова"),
    ("на Школьной улице", "ул. Школьная"), ("на улице Пушкина", "ул. Пушкина"),
    ("на Набережной улице", "ул. Набережная"), ("на улице Маяковского", "ул. Маяковского"),
    ("на Лесной улице", "ул. Лесная"), ("на улице Кирова", "ул. Кирова"),
    ("на Молодёжной улице", "ул. Молодёжная"), ("на улице Строителей", "ул. Строителей"),
    ("на Заводской улице", "ул. Заводская"), ("на улице Энтузиастов", "ул. Энтузиастов"),
    ("на Советской улице", "ул. Советская"), ("на улице Лермонтова", "ул. Лермонтова"),
    ("на Полевой улице", "ул. Полевая"), ("на улице Свердлова", "ул. Свердлова"),
)  # fmt: skip
_AUDIENCES = (
    "", "для пенсионеров", "для многодетных семей", "для студентов",
    "для людей с инвалидностью", "для участников СВО и их семей", "для ветеранов труда",
    "для молодых семей", "для одиноких родителей", "для иностранных граждан",
    "при временной регистрации", "для собственников жилья", "для нанимателей муниципального жилья",
)  # fmt: skip
_YEARS = ("", "в 2024 году", "в 2025 году", "в 2026 году", "в этом месяце")
_LEADS = ("Хочу узнать: ", "Интересует, ", "Объясните, ", "Не подскажете, ", "Уточните, ")
_OFFICES = (
    "Отдел по работе с обращениями граждан", "Территориальный отдел администрации",
    "Многофункциональный центр «Мои документы»", "Управление социальной защиты населения",
    "Отдел жилищно-коммунального хозяйства", "Приёмная главы района",
    "Управление образования", "Отдел транспорта и связи",
)  # fmt: skip
_DAYS = ("пн–пт", "пн–чт", "вт–сб", "пн, ср, пт")

_PLACES: tuple[str, ...] = (
    *(f"в {d} районе" for d in _DISTRICTS),
    *_SETTLEMENTS,
    *(phrase for phrase, _ in _STREETS),
)
# Every (place, audience, year) once per demo entry: 44 × 13 × 5 = 2,860 variants,
# enough for 500k entries.
_QUALIFIERS = tuple(itertools.product(range(len(_PLACES)), _AUDIENCES, _YEARS))


@dataclass(frozen=True, slots=True)
class Variant:
    """Where a synthetic entry came from: its demo entry and its number among that
    entry's variants (0 is the demo entry itself)."""

    base: int
    number: int


def variant_of(position: int, bases: int) -> Variant:
    """The demo entry and variant number behind entry ``position`` (0-based)."""
    return Variant(position % bases, position // bases)


def synthetic_entries(size: int) -> list[IndexedEntry]:
    """A knowledge base of ``size`` entries (ids 1..size); see the module docstring."""
    return [entry for entry, _ in generate(size)]


def generate(size: int) -> list[tuple[IndexedEntry, tuple[int, ...]]]:
    """Entries with, for each of their texts (question, then phrasings), the position
    of the text of its demo entry it was made from."""
    base = demo_entries()
    if size // len(base) >= len(_QUALIFIERS):
        raise ValueError(f"at most {len(base) * len(_QUALIFIERS)} synthetic entries")
    orders = [
        np.random.default_rng([SEED, b]).permutation(len(_QUALIFIERS)) for b in range(len(base))
    ]
    out = []
    for position in range(size):
        v = variant_of(position, len(base))
        demo = base[v.base]
        if v.number == 0:
            origins = tuple(range(1 + len(demo.phrasings)))
            out.append((IndexedEntry(position + 1, *_fields(demo)), origins))
            continue
        qualifier = _QUALIFIERS[int(orders[v.base][v.number - 1])]
        rng = np.random.default_rng([SEED, v.base, v.number])
        out.append(_vary(position + 1, demo, qualifier, rng))
    return out


def _fields(e: IndexedEntry) -> tuple[str, str, str | None, str | None, tuple[str, ...]]:
    return e.question, e.answer, e.category, e.key, e.phrasings


def _vary(
    entry_id: int,
    demo: IndexedEntry,
    qualifier: tuple[int, str, str],
    rng: np.random.Generator,
) -> tuple[IndexedEntry, tuple[int, ...]]:
    place, audience, year = qualifier
    where = _PLACES[place]
    tail = " ".join(p for p in (where, audience, year) if p)
    texts = [demo.question, *demo.phrasings]
    first = 0 if rng.random() < 0.6 else int(rng.integers(1, len(texts)))
    rest = [i for i in range(len(texts)) if i != first]
    rng.shuffle(rest)
    origins = (first, *rest)
    questions = [_localise(texts[i], tail, where, rng) for i in origins]
    street = _STREETS[int(rng.integers(len(_STREETS)))][1]
    office = _OFFICES[int(rng.integers(len(_OFFICES)))]
    opens = int(rng.integers(8, 11))
    local = (
        f"{where[0].upper()}{where[1:]}"
        + (f" ({audience})" if audience else "")
        + f": {office}, {street}, д. {rng.integers(1, 120)}, каб. {rng.integers(1, 40)}; "
        f"тел. +7 (8452) {rng.integers(20, 80)}-{rng.integers(10, 99)}-{rng.integers(10, 99)}; "
        f"{_DAYS[int(rng.integers(len(_DAYS)))]} с {opens}:00 до {opens + 8}:00."
    )
    key = f"{demo.key}-v{entry_id}"
    entry = IndexedEntry(
        entry_id, questions[0], f"{demo.answer}\n\n{local}", demo.category, key,
        tuple(questions[1:]),
    )  # fmt: skip
    return entry, origins


def _localise(text: str, tail: str, where: str, rng: np.random.Generator) -> str:
    """Weave the qualifier into one question and vary its wording a little."""
    body = text.rstrip(" ?.!")
    mark = "?" if text.rstrip().endswith("?") else ""
    first = body.split(" ", 1)[0]
    # Abbreviations (МФЦ, ЖКХ) keep their case when the question no longer starts with them.
    lowered = body if len(first) > 1 and first.isupper() else body[0].lower() + body[1:]
    draw = rng.random()
    if draw < 0.2:
        rest = tail.removeprefix(where).strip()
        return f"{where[0].upper()}{where[1:]} {lowered}{' ' + rest if rest else ''}{mark}"
    if draw < 0.4:
        return f"{_LEADS[int(rng.integers(len(_LEADS)))]}{lowered} {tail}{mark}"
    return f"{body} {tail}{mark}"
