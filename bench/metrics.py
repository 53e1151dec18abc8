"""Retrieval and decision metrics over dev-set outcomes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bench.devset import SHOWN, Outcome
from core.domain import Decision


def retrieval(outcomes: Sequence[Outcome]) -> dict[str, float]:
    scoped = [o for o in outcomes if o.question.expected is not None]
    n = len(scoped) or 1
    return {
        "questions": len(scoped),
        "top1": sum(o.rank == 1 for o in scoped) / n,
        "top5": sum(o.rank is not None and o.rank <= 5 for o in scoped) / n,
        "mrr": sum(1.0 / o.rank for o in scoped if o.rank) / n,
    }


def _right(o: Outcome) -> bool:
    in_scope = o.question.expected is not None
    if o.decision == Decision.ANSWER:
        return in_scope and o.rank == 1
    if o.decision == Decision.CLARIFY:
        return in_scope and o.rank is not None and o.rank <= SHOWN
    # Handing off is right for what the FAQ does not cover, or when the right entry
    # was not even among the options the bot could have shown.
    return not in_scope or o.rank is None or o.rank > SHOWN


def decisions(outcomes: Sequence[Outcome]) -> dict[str, dict[str, Any]]:
    """Per decision: share of all questions (coverage) and share that was right."""
    out: dict[str, dict[str, Any]] = {}
    total = len(outcomes) or 1
    for decision in Decision:
        chosen = [o for o in outcomes if o.decision == decision]
        out[str(decision)] = {
            "count": len(chosen),
            "coverage": len(chosen) / total,
            "precision": (sum(_right(o) for o in chosen) / len(chosen)) if chosen else None,
        }
    scoped = [o for o in outcomes if o.question.expected is not None]
    out["answer"]["in_scope_coverage"] = sum(o.decision == Decision.ANSWER for o in scoped) / (
        len(scoped) or 1
    )
    unscoped = [o for o in outcomes if o.question.expected is None]
    out["handoff"]["out_of_scope_recall"] = sum(
        o.decision == Decision.HANDOFF for o in unscoped
    ) / (len(unscoped) or 1)
    return out
