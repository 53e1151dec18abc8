"""Dialogue understanding: intent classification on the held-back split.

    .venv/bin/python -m bench.nlu [--rasa .venv-rasa/bin/rasa] [--config nlu/config.yml]
                                  [--model MODEL.tar.gz] [--keep DIR]

Trains the NLU part of the Rasa project (unless ``--model`` is given), runs
``rasa test nlu`` on ``nlu/tests/nlu_test.yml`` and prints Markdown: accuracy, macro-F1,
per-intent F1, the top confusion pairs, and the FallbackClassifier thresholds measured on
the raw intent ranking (how the configured ones were chosen).
"""

from __future__ import annotations

import argparse
import datetime
import json
import subprocess
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench.report import machine

ROOT = Path(__file__).resolve().parent.parent
NLU = ROOT / "nlu"
TEST_FILE = NLU / "tests" / "nlu_test.yml"
THRESHOLDS = (0.0, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7)
GAPS = (0.0, 0.05, 0.1)
FAQ_INTENT = "ask_question"


def find_rasa(explicit: str | None) -> Path:
    """The project's Rasa (``.venv-rasa``) unless another is named."""
    path = Path(explicit) if explicit else ROOT / ".venv-rasa" / "bin" / "rasa"
    if not path.exists():
        raise SystemExit(f"no Rasa at {path}; create .venv-rasa (README) or pass --rasa")
    return path


def _run(argv: list[str | Path], work: Path, log: str) -> None:
    with open(work / log, "w", encoding="utf-8") as out:
        subprocess.run([str(a) for a in argv], cwd=work, stdout=out, stderr=out, check=True)


def train(rasa: Path, config: Path, work: Path) -> tuple[Path, float]:
    started = time.perf_counter()
    _run(
        [
            rasa,
            "train",
            "nlu",
            "--config",
            config,
            "--nlu",
            NLU / "data",
            "--out",
            work / "models",
            "--fixed-model-name",
            "nlu",
        ],
        work,
        "train.log",
    )
    return work / "models" / "nlu.tar.gz", time.perf_counter() - started


def evaluate(rasa: Path, model: Path, work: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """``rasa test nlu``: the intent report and the misclassified examples."""
    out = work / "results"
    _run(
        [rasa, "test", "nlu", "--model", model, "--nlu", TEST_FILE, "--out", out], work, "test.log"
    )
    report = json.loads((out / "intent_report.json").read_text(encoding="utf-8"))
    errors_file = out / "intent_errors.json"
    errors = json.loads(errors_file.read_text(encoding="utf-8")) if errors_file.exists() else []
    return report, errors


def rankings(rasa: Path, model: Path, work: Path) -> list[dict[str, Any]]:
    """Every test example's raw intent ranking (bench/nlu_parse.py in the Rasa venv)."""
    out = work / "rankings.json"
    _run(
        [rasa.parent / "python", ROOT / "bench" / "nlu_parse.py", model, TEST_FILE, out],
        work,
        "parse.log",
    )
    return json.loads(out.read_text(encoding="utf-8"))


def summary_table(report: dict[str, Any], errors: list[dict[str, Any]]) -> str:
    intents = {
        k: v
        for k, v in report.items()
        if isinstance(v, dict) and "support" in v and not k.endswith("avg")
    }
    total = sum(v["support"] for v in intents.values())
    fallback = sum(1 for e in errors if e["intent_prediction"]["name"] == "nlu_fallback")
    rows = [
        "| metric | value |",
        "|---|---|",
        f"| test examples / intents | {total} / {len(intents)} |",
        f"| intent accuracy | {report['accuracy']:.3f} |",
        f"| macro-F1 | {report['macro avg']['f1-score']:.3f} |",
        f"| weighted F1 | {report['weighted avg']['f1-score']:.3f} |",
        f"| sent to nlu_fallback (counted as errors) | {fallback} |",
    ]
    return "\n".join(rows)


def per_intent_table(report: dict[str, Any]) -> str:
    rows = ["| intent | precision | recall | F1 | n |", "|---|---|---|---|---|"]
    for name, v in sorted(report.items()):
        if not isinstance(v, dict) or "support" not in v or name.endswith("avg"):
            continue
        rows.append(
            f"| {name} | {v['precision']:.2f} | {v['recall']:.2f} | "
            f"{v['f1-score']:.2f} | {v['support']} |"
        )
    return "\n".join(rows)


def confusion_table(errors: list[dict[str, Any]], top: int = 8) -> str:
    pairs = Counter((e["intent"], e["intent_prediction"]["name"]) for e in errors)
    example = {(e["intent"], e["intent_prediction"]["name"]): e["text"] for e in errors}
    rows = ["| expected | predicted | n | e.g. |", "|---|---|---|---|"]
    for (expected, predicted), n in pairs.most_common(top):
        rows.append(f"| {expected} | {predicted} | {n} | «{example[(expected, predicted)]}» |")
    return "\n".join(rows) if pairs else "No errors."


def threshold_table(parsed: list[dict[str, Any]]) -> str:
    """What each FallbackClassifier setting would do on the held-back split.

    A message sent to the fallback is searched in the FAQ, which is also where an
    ``ask_question`` goes: catching an error predicted as ``ask_question`` changes
    nothing. The gain is the misroutes caught (errors predicted as another intent), the
    cost the correct predictions lost.
    """
    rows = [
        "| threshold | ambiguity | to fallback | misroutes caught | correct lost | net "
        "| rest accuracy |",
        "|---|---|---|---|---|---|---|",
    ]
    for threshold in THRESHOLDS:
        for gap in GAPS:
            falling = [p for p in parsed if _falls_back(p, threshold, gap)]
            lost = sum(1 for p in falling if _top(p) == p["intent"])
            caught = sum(1 for p in falling if _top(p) not in (p["intent"], FAQ_INTENT))
            kept = [p for p in parsed if p not in falling]
            right = sum(1 for p in kept if _top(p) == p["intent"])
            accuracy = right / len(kept) if kept else 0.0
            rows.append(
                f"| {threshold:.2f} | {gap:.2f} | {len(falling)} | {caught} | {lost} "
                f"| {caught - lost:+d} | {accuracy:.3f} |"
            )
    return "\n".join(rows)


def _top(parsed: dict[str, Any]) -> str | None:
    return parsed["ranking"][0]["name"] if parsed["ranking"] else None


def _falls_back(parsed: dict[str, Any], threshold: float, gap: float) -> bool:
    ranking = parsed["ranking"]
    if not ranking or ranking[0]["confidence"] < threshold:
        return True
    second = ranking[1]["confidence"] if len(ranking) > 1 else 0.0
    return gap > 0 and ranking[0]["confidence"] - second < gap


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rasa", help="the rasa executable (default .venv-rasa/bin/rasa)")
    parser.add_argument("--config", type=Path, default=NLU / "config.yml")
    parser.add_argument("--model", type=Path, help="a trained model to test instead")
    parser.add_argument("--keep", type=Path, help="keep the work files in this directory")
    args = parser.parse_args()
    rasa = find_rasa(args.rasa)
    with tempfile.TemporaryDirectory(prefix="djinn-bench-nlu-") as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        if args.model:
            model, seconds = args.model.resolve(), None
        else:
            model, seconds = train(rasa, args.config.resolve(), work)
        report, errors = evaluate(rasa, model, work)
        parsed = rankings(rasa, model, work)
    trained = f"trained in {seconds:.0f} s" if seconds is not None else f"model {model.name}"
    print(f"{datetime.date.today()} · {machine()} · {args.config.name}, {trained}\n")
    print(summary_table(report, errors), end="\n\n")
    print(per_intent_table(report), end="\n\n")
    print("Top confusions:\n")
    print(confusion_table(errors), end="\n\n")
    print("FallbackClassifier settings on the raw ranking:\n")
    print(threshold_table(parsed))


if __name__ == "__main__":
    main()
