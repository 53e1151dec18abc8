"""Lists of texts are embedded in batches side by side, in order."""

import threading

import numpy as np

from knowledge_base.embedder import _batched


def test_batches_run_side_by_side_and_land_in_order() -> None:
    both_running = threading.Barrier(2, timeout=10)
    threads: set[int] = set()

    def encode(batch: list[str]) -> np.ndarray:
        threads.add(threading.get_ident())
        both_running.wait()  # fails unless two batches are embedded at once
        return np.array([[float(t), 0.0] for t in batch], dtype=np.float32)

    texts = [str(i) for i in range(8)]  # four batches: two pairs through the barrier
    seen: list[tuple[int, int]] = []
    out = _batched(texts, 2, encode, 2, lambda done, total: seen.append((done, total)), 2)

    assert out[:, 0].tolist() == [float(i) for i in range(8)]
    assert len(threads) == 2
    assert seen == [(2, 8), (4, 8), (6, 8), (8, 8)]


def test_one_worker_embeds_batch_after_batch_on_the_callers_thread() -> None:
    threads: set[int] = set()

    def encode(batch: list[str]) -> np.ndarray:
        threads.add(threading.get_ident())
        return np.ones((len(batch), 3), dtype=np.float32)

    seen: list[int] = []
    out = _batched(["a"] * 5, 2, encode, 3, lambda done, _: seen.append(done), 1)

    assert out.shape == (5, 3)
    assert threads == {threading.get_ident()}
    assert seen == [2, 4, 5]
