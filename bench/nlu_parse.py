"""Run inside the Rasa venv by bench/nlu.py: the intent ranking a trained model gives
every example of an NLU test file, or of a JSON list of ``{"text", "intent"}``, the
FallbackClassifier's own entry left out.

    .venv-rasa/bin/python bench/nlu_parse.py MODEL.tar.gz nlu/tests/nlu_test.yml OUT.json

Imports only Rasa (Python 3.10), none of our packages.
"""

import asyncio
import json
import sys
from pathlib import Path


async def main(model: str, data: str, out: str) -> None:
    from rasa.core.agent import Agent
    from rasa.shared.nlu.training_data.loading import load_data

    agent = Agent.load(model)
    if data.endswith(".json"):
        examples = json.loads(Path(data).read_text(encoding="utf-8"))
    else:
        examples = [
            {"text": e.get("text"), "intent": e.get("intent")}
            for e in load_data(data).intent_examples
        ]
    rows = []
    for example in examples:
        parsed = await agent.parse_message(example["text"])
        ranking = [
            {"name": r["name"], "confidence": float(r["confidence"])}
            for r in parsed.get("intent_ranking", [])
            if r["name"] != "nlu_fallback"
        ]
        rows.append({"text": example["text"], "intent": example["intent"], "ranking": ranking[:3]})
    Path(out).write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
