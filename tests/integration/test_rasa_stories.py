"""The trained model (NLU and dialogue policies) reproduces every step of
nlu/tests/test_stories.yml (`rasa test core`)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from nlu.project import PROJECT_DIR, RasaVenv

pytestmark = pytest.mark.slow


def test_the_model_passes_the_test_stories(rasa_model: Path, tmp_path: Path):
    result = subprocess.run(
        [
            str(RasaVenv().rasa),
            "test",
            "core",
            "--model",
            str(rasa_model),
            "--stories",
            str(PROJECT_DIR / "tests" / "test_stories.yml"),
            "--out",
            str(tmp_path / "results"),
            "--fail-on-prediction-errors",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=900,
    )
    failed = tmp_path / "results" / "failed_test_stories.yml"
    details = failed.read_text(encoding="utf-8") if failed.exists() else result.stdout[-3000:]
    assert result.returncode == 0, details
