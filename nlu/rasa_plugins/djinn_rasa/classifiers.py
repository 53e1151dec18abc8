"""An SVM intent classifier whose confidences do not change from one training to the
next.

Rasa's ``SklearnIntentClassifier`` leaves the SVM's random state unset; its confidences
(Platt scaling over internal cross-validation folds) then differ a little between two
trainings on the same data, and so would the FallbackClassifier's decisions near its
threshold. Referenced as ``djinn_rasa.classifiers.SeededSklearnIntentClassifier``.
"""

from __future__ import annotations

from typing import Any

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.classifiers.sklearn_intent_classifier import SklearnIntentClassifier


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class SeededSklearnIntentClassifier(SklearnIntentClassifier):
    """``SklearnIntentClassifier`` with ``random_seed`` (default 42) given to the SVM."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {**SklearnIntentClassifier.get_default_config(), "random_seed": 42}

    def _create_classifier(self, num_threads: int, y: Any) -> Any:
        search = super()._create_classifier(num_threads, y)
        search.estimator.set_params(random_state=int(self.component_config["random_seed"]))
        return search
