"""From search hits to what the bot does: answer, ask to clarify, or hand off."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from core.domain import Decision
from knowledge_base.index import Fusion, Hit

THRESHOLDS_FILE = Path(__file__).with_name("thresholds.json")


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Decision thresholds on the fused score.

    Attributes:
        answer: The best hit answers directly at or above this score...
        margin: ...and when it leads the runner-up by at least this much.
        clarify: Below ``answer`` but at or above this, the top questions are offered.
        lexical_weight: The fusion weights the thresholds were tuned with...
        answer_weight: ...(see `Fusion`).
    """

    answer: float
    margin: float
    clarify: float
    lexical_weight: float
    answer_weight: float

    @property
    def fusion(self) -> Fusion:
        return Fusion(lexical_weight=self.lexical_weight, answer_weight=self.answer_weight)


def decide(hits: Sequence[Hit], thresholds: Thresholds) -> Decision:
    """Choose what to do with a query's hits (best first)."""
    if not hits or hits[0].score < thresholds.clarify:
        return Decision.HANDOFF
    runner_up = hits[1].score if len(hits) > 1 else 0.0
    if hits[0].score >= thresholds.answer and hits[0].score - runner_up >= thresholds.margin:
        return Decision.ANSWER
    return Decision.CLARIFY


def load_thresholds(
    embedder: str,
    path: Path = THRESHOLDS_FILE,
    *,
    answer: float | None = None,
    clarify: float | None = None,
) -> Thresholds:
    """Thresholds recorded for ``embedder`` by ``bench/tune_thresholds.py``.

    Args:
        embedder: The embedder's name (thresholds differ between models).
        path: The recorded thresholds.
        answer: Overrides the answer threshold (settings).
        clarify: Overrides the clarify threshold (settings).

    Raises:
        LookupError: When nothing was recorded for this embedder and no overrides
            were given for both thresholds.
    """
    recorded = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    entry = recorded.get("embedders", {}).get(embedder)
    if entry is None:
        if answer is None or clarify is None:
            raise LookupError(
                f"no decision thresholds recorded for {embedder} in {path}; run "
                "bench/tune_thresholds.py or set DJINN_ANSWER_THRESHOLD and "
                "DJINN_CLARIFY_THRESHOLD"
            )
        default = Fusion()
        return Thresholds(
            answer=answer,
            margin=0.0,
            clarify=clarify,
            lexical_weight=default.lexical_weight,
            answer_weight=default.answer_weight,
        )
    base = Thresholds(**{k: float(entry[k]) for k in _FIELDS})
    return replace(
        base,
        answer=base.answer if answer is None else answer,
        clarify=base.clarify if clarify is None else clarify,
    )


_FIELDS = ("answer", "margin", "clarify", "lexical_weight", "answer_weight")
