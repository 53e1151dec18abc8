"""The knowledge base makes OpenMP threads sleep when idle unless the operator chose
otherwise (see knowledge_base/__init__.py)."""

import os
import subprocess
import sys

PROBE = "import os, knowledge_base.index; print(os.environ['OMP_WAIT_POLICY'])"


def policy(**env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    result = subprocess.run(
        [sys.executable, "-c", PROBE], env={**clean, **env}, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_passive_by_default_before_faiss_loads():
    assert policy() == "PASSIVE"


def test_the_operators_choice_wins():
    assert policy(OMP_WAIT_POLICY="ACTIVE") == "ACTIVE"
