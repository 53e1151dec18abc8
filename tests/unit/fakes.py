"""Test doubles for unit tests of the knowledge base."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np


class FakeEmbedder:
    """Bag of character trigrams hashed into a small vector: deterministic, instant,
    and similar texts get similar vectors."""

    name = "fake:trigrams"
    dim = 64

    def __init__(self) -> None:
        self.calls: list[tuple[str | None, int]] = []

    def _one(self, text: str) -> np.ndarray:
        vector = np.zeros(self.dim, dtype=np.float32)
        padded = f"  {text.lower()}  "
        for i in range(len(padded) - 2):
            digest = hashlib.blake2b(padded[i : i + 3].encode(), digest_size=2).digest()
            vector[int.from_bytes(digest) % self.dim] += 1.0
        norm = np.linalg.norm(vector)
        return vector / norm if norm else vector

    def encode(
        self,
        sentences: str | Sequence[str],
        *,
        prompt_name: str | None = None,
        batch_size: int = 32,
        show_progress_bar: bool = False,
        normalize_embeddings: bool = True,
        progress=None,
    ) -> np.ndarray:
        if isinstance(sentences, str):
            self.calls.append((prompt_name, 1))
            return self._one(sentences)
        self.calls.append((prompt_name, len(sentences)))
        out = (
            np.stack([self._one(s) for s in sentences])
            if sentences
            else np.zeros((0, self.dim), np.float32)
        )
        if progress is not None:
            progress(len(sentences), len(sentences))
        return out
