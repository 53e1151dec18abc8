"""Dialogue understanding: intent classification on the held-back split.

    .venv/bin/python -m bench.nlu [--rasa .venv-rasa/bin/rasa] [--config nlu/config.yml]
                                  [--model MODEL.tar.gz] [--keep DIR]

Trains the NLU part of the Rasa project (unless ``--model`` is given), runs
``rasa test nlu`` on ``nlu/tests/nlu_test.yml`` and prints Markdown: accuracy, macro-F1,
per-intent F1, the top confusion pairs, and the FallbackClassifier thresholds measured on
the raw intent ranking (how the configured ones were chosen). The thresholds are also
measured on the knowledge base's dev questions (bench/data/dev: citizens' FAQ questions
and out-of-scope ones), which the held-back split has few of: how many messages would
get the reply of a wrong intent.
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
# Where the FAQ search answers: a question, the fallback, and a category or an address
# named outside the appeal form (inside it, the fallback counts as the form's answer).
FAQ_BOUND = frozenset({FAQ_INTENT, "nlu_fallback", "inform"})
# Right for an FAQ question too: it can be a report, an emergency, a call for an operator
# or a question about an appeal, and the dev set holds such questions.
ALSO_RIGHT_FOR_QUESTIONS = frozenset(
    {"file_appeal", "emergency", "request_operator", "check_appeal_status"}
)
ALSO_RIGHT_OUT_OF_SCOPE = frozenset({"out_of_scope", "chitchat"})


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


def rankings(
    rasa: Path, model: Path, work: Path, data: Path = TEST_FILE, name: str = "rankings"
) -> list[dict[str, Any]]:
    """Every example's raw intent ranking (bench/nlu_parse.py in the Rasa venv)."""
    out = work / f"{name}.json"
    _run(
        [rasa.parent / "python", ROOT / "bench" / "nlu_parse.py", model, data, out],
        work,
        f"{name}.log",
    )
    return json.loads(out.read_text(encoding="utf-8"))


def dev_rankings(rasa: Path, model: Path, work: Path) -> list[dict[str, Any]]:
    """The dev questions' rankings; ``intent`` is ask_question, or out_of_scope for the
    questions the knowledge base does not cover."""
    from bench.devset import load_dev_set

    questions = [
        {"text": q.text, "intent": FAQ_INTENT if q.expected else "out_of_scope"}
        for q in load_dev_set()
    ]
    source = work / "dev_questions.json"
    source.write_text(json.dumps(questions, ensure_ascii=False), encoding="utf-8")
    return rankings(rasa, model, work, source, "dev_rankings")


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


def routing_table(split: list[dict[str, Any]], dev: list[dict[str, Any]]) -> str:
    """Per threshold (no ambiguity gap): the messages that would get the reply of a
    wrong intent, on the split and on the dev questions, and the right non-FAQ intents
    of the split the fallback would send to the FAQ search instead."""
    rows = [
        "| threshold | wrong intent acted on: split | dev questions | both "
        "| right intent sent to the FAQ (split) |",
        "|---|---:|---:|---:|---:|",
    ]
    for threshold in THRESHOLDS:
        wrong_split = sum(1 for p in split if _wrong_action(p, threshold))
        wrong_dev = sum(1 for p in dev if _wrong_action(p, threshold))
        sent = sum(
            1
            for p in split
            if p["intent"] not in FAQ_BOUND
            and _final(p, threshold) in FAQ_BOUND
            and _top(p) == p["intent"]
        )
        rows.append(
            f"| {threshold:.2f} | {wrong_split} of {len(split)} | {wrong_dev} of {len(dev)} "
            f"| {wrong_split + wrong_dev} | {sent} |"
        )
    return "\n".join(rows)


def _final(parsed: dict[str, Any], threshold: float) -> str | None:
    return "nlu_fallback" if _falls_back(parsed, threshold, 0.0) else _top(parsed)


def _wrong_action(parsed: dict[str, Any], threshold: float) -> bool:
    final = _final(parsed, threshold)
    expected = parsed["intent"]
    if final in FAQ_BOUND or final == expected:
        return False
    if expected == FAQ_INTENT:
        return final not in ALSO_RIGHT_FOR_QUESTIONS
    if expected == "out_of_scope":
        return final not in ALSO_RIGHT_FOR_QUESTIONS | ALSO_RIGHT_OUT_OF_SCOPE
    return True


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
        dev = dev_rankings(rasa, model, work)
    trained = f"trained in {seconds:.0f} s" if seconds is not None else f"model {model.name}"
    print(f"{datetime.date.today()} · {machine()} · {args.config.name}, {trained}\n")
    print(summary_table(report, errors), end="\n\n")
    print(per_intent_table(report), end="\n\n")
    print("Top confusions:\n")
    print(confusion_table(errors), end="\n\n")
    print("FallbackClassifier settings on the raw ranking:\n")
    print(threshold_table(parsed), end="\n\n")
    print("Wrong intents acted on, on the split and on the dev questions:\n")
    print(routing_table(parsed, dev))


if __name__ == "__main__":
    main()
