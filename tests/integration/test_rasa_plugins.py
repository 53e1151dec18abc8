"""Our Rasa components (nlu/rasa_plugins) inside the real Rasa venv: the e5 sentence
featurizer and the seeded SVM intent classifier. They run on Python 3.10 beside Rasa,
so each check is a script run by `.venv-rasa/bin/python`."""

from __future__ import annotations

import json
import os
import subprocess
import textwrap

import pytest

from nlu.project import RasaVenv

PROBE = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    import numpy as np
    from rasa.engine.graph import ExecutionContext, GraphSchema
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource
    from rasa.shared.nlu.training_data.message import Message
    from rasa.shared.nlu.training_data.training_data import TrainingData
    from djinn_rasa.classifiers import SeededSklearnIntentClassifier
    from djinn_rasa.e5_featurizer import E5SentenceFeaturizer

    out = {}
    config = E5SentenceFeaturizer.get_default_config()
    featurizer = E5SentenceFeaturizer("e5", config)
    texts = [
        "Не горит фонарь во дворе",
        "во дворе не работает уличное освещение",
        "как записаться к врачу",
    ]
    messages = [Message(data={"text": t}) for t in texts] + [Message(data={"text": ""})]
    featurizer.process(messages)
    vectors = []
    for message in messages[:3]:
        sequence, sentence = message.get_dense_features("text")
        out.setdefault("sequence", []).append(sequence is None)
        vectors.append(sentence.features[0])
    out["shape"] = list(messages[0].get_dense_features("text")[1].features.shape)
    out["norms"] = [float(np.linalg.norm(v)) for v in vectors]
    out["paraphrase"] = float(vectors[0] @ vectors[1])
    out["unrelated"] = float(vectors[0] @ vectors[2])
    out["empty_has_features"] = messages[3].get_dense_features("text")[1] is not None
    for bad in ({**config, "threads": 0}, {**config, "batch_size": "64"}):
        try:
            E5SentenceFeaturizer.validate_config(bad)
            out.setdefault("rejected", []).append(False)
        except ValueError:
            out.setdefault("rejected", []).append(True)

    examples = []
    for intent, lines in {
        "greet": ["привет", "здравствуйте", "добрый день", "доброе утро", "приветствую",
                  "здрасьте", "добрый вечер", "хай", "салют", "здравствуй бот"],
        "emergency": ["пахнет газом", "пожар в подъезде", "горит квартира", "прорвало трубу",
                      "человеку плохо", "дтп с пострадавшими", "искрит провод", "дым из окна",
                      "затапливает кипятком", "запах газа на кухне"],
        "ask_question": ["как оплатить квартплату", "где получить справку", "график мфц",
                         "когда дадут отопление", "куда жаловаться на ук", "как записать в сад",
                         "сколько стоит проезд", "где пункт выдачи", "как передать показания",
                         "кто убирает снег во дворе"],
    }.items():
        examples += [Message(data={"text": t, "intent": intent}) for t in lines]
    data = TrainingData(examples)
    featurizer.process_training_data(data)
    probe = [Message(data={"text": "у соседей пахнет гарью"})]
    featurizer.process(probe)

    def train_and_rank(path):
        Path(path).mkdir()
        storage = LocalModelStorage(Path(path))
        context = ExecutionContext(GraphSchema({}), "svm")
        classifier = SeededSklearnIntentClassifier.create(
            SeededSklearnIntentClassifier.get_default_config(), storage, Resource("svm"), context
        )
        classifier.train(data)
        message = Message(data=dict(probe[0].data), features=list(probe[0].features))
        classifier.process([message])
        return message.get("intent_ranking")

    first = train_and_rank(sys.argv[1] + "/a")
    second = train_and_rank(sys.argv[1] + "/b")
    out["top"] = first[0]["name"]
    out["same_ranking"] = first == second
    print("RESULT " + json.dumps(out))
    """
)


@pytest.fixture(scope="module")
def probe(tmp_path_factory: pytest.TempPathFactory) -> dict:
    venv = RasaVenv()
    if not venv.installed():
        pytest.fail(f"no Rasa venv at {venv.path}: make setup-rasa")
    work = tmp_path_factory.mktemp("plugins")
    script = work / "probe.py"
    script.write_text(PROBE, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    result = subprocess.run(
        [str(venv.path / "bin" / "python"), str(script), str(work)],
        capture_output=True,
        text=True,
        env={**env, "RASA_TELEMETRY_ENABLED": "false"},
        timeout=600,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
    assert result.returncode == 0 and lines, result.stderr[-3000:]
    return json.loads(lines[-1].removeprefix("RESULT "))


def test_every_text_gets_one_unit_sentence_vector_and_no_sequence(probe):
    assert probe["shape"] == [1, 384]
    assert probe["sequence"] == [True, True, True]
    assert all(abs(norm - 1.0) < 1e-3 for norm in probe["norms"])
    assert probe["empty_has_features"] is False


def test_a_paraphrase_is_closer_than_another_subject(probe):
    assert probe["paraphrase"] > probe["unrelated"] + 0.05


def test_a_bad_config_is_refused(probe):
    assert probe["rejected"] == [True, True]


def test_the_svm_classifies_from_the_e5_vector_the_same_way_every_training(probe):
    assert probe["top"] == "emergency"
    assert probe["same_ranking"] is True
