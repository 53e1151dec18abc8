"""A persistent cache of passage embeddings, so that rebuilding the index after a
small edit embeds only the texts that changed."""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from knowledge_base.embedder import Embedder, Progress


class EmbeddingCache:
    """Passage vectors keyed by embedder and text, in an SQLite file.

    Args:
        path: The cache file; its directory is created when missing.
    """

    def __init__(self, path: Path | str) -> None:
        if isinstance(path, Path):
            path.parent.mkdir(parents=True, exist_ok=True)
        self._path = path
        self._memory: sqlite3.Connection | None = None
        with self._connect() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS vectors "
                "(embedder TEXT, digest TEXT, vector BLOB, PRIMARY KEY (embedder, digest))"
            )

    @classmethod
    def in_memory(cls) -> EmbeddingCache:
        """A cache that lives as long as the object (for one-off builds)."""
        return cls(":memory:")

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        if self._path == ":memory:":
            if self._memory is None:
                self._memory = sqlite3.connect(":memory:", check_same_thread=False)
            with self._memory:
                yield self._memory
            return
        db = sqlite3.connect(self._path, timeout=30)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            with db:
                yield db
        finally:
            db.close()

    @staticmethod
    def _digest(prompt: str, text: str) -> str:
        return hashlib.blake2b(f"{prompt}\0{text}".encode(), digest_size=16).hexdigest()

    def encode(
        self,
        embedder: Embedder,
        texts: Sequence[str],
        prompt_name: str,
        progress: Progress | None = None,
        batch_size: int = 64,
    ) -> np.ndarray:
        """Embeddings of ``texts`` with ``prompt_name``, computing only those not cached."""
        digests = [self._digest(prompt_name, t) for t in texts]
        found: dict[str, np.ndarray] = {}
        with self._connect() as db:
            unique = list(dict.fromkeys(digests))
            for start in range(0, len(unique), 500):
                chunk = unique[start : start + 500]
                marks = ",".join("?" * len(chunk))
                for digest, blob in db.execute(
                    "SELECT digest, vector FROM vectors "
                    f"WHERE embedder = ? AND digest IN ({marks})",
                    [embedder.name, *chunk],
                ):
                    found[digest] = np.frombuffer(blob, dtype=np.float32)
        missing = list(dict.fromkeys(d for d in digests if d not in found))
        if missing:
            by_digest = dict(zip(digests, texts, strict=True))
            vectors = embedder.encode(
                [by_digest[d] for d in missing],
                prompt_name=prompt_name,
                batch_size=batch_size,
                progress=progress,
            )
            with self._connect() as db:
                db.executemany(
                    "INSERT OR REPLACE INTO vectors VALUES (?, ?, ?)",
                    [
                        (embedder.name, d, v.astype(np.float32).tobytes())
                        for d, v in zip(missing, vectors, strict=True)
                    ],
                )
            found.update(zip(missing, vectors, strict=True))
        elif progress is not None:
            progress(len(texts), len(texts))
        out = np.empty((len(texts), embedder.dim), dtype=np.float32)
        for i, digest in enumerate(digests):
            out[i] = found[digest]
        return out
