"""The FAQ index: FAISS over the question and every alternative phrasing of each
published entry, fused with a character n-gram lexical signal."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import faiss
import numpy as np

from knowledge_base.embedder import QUERY, Embedder, Progress
from knowledge_base.embedding_cache import EmbeddingCache
from knowledge_base.lexical import LexicalIndex
from knowledge_base.normalize import clean, fix_layout, looks_like_wrong_layout, strip_invisible

# Up to this many vectors an exact (flat) search is fast enough; above it HNSW.
FLAT_LIMIT = 50_000
# Up to this many texts the lexical signal scans everything and can add candidates
# the dense search missed; above it, it only re-scores dense candidates.
LEXICAL_SCAN_LIMIT = 50_000
FORMAT = 1
_WORD = re.compile(r"\w+")


@dataclass(frozen=True, slots=True)
class IndexedEntry:
    """A published FAQ entry as the index keeps it."""

    id: int
    question: str
    answer: str
    category: str | None = None
    key: str | None = None
    phrasings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Hit:
    """One entry found for a query, with the scores that ranked it."""

    entry: IndexedEntry
    score: float
    dense: float
    lexical: float


@dataclass(frozen=True, slots=True)
class Fusion:
    """How the dense and lexical similarities are combined: ``dense + weight * lexical``."""

    lexical_weight: float = 0.3
    candidates: int = 64


@dataclass
class IndexMeta:
    version: int
    embedder: str
    dim: int
    entries: int
    texts: int
    kind: str
    format: int = FORMAT
    extra: dict[str, str] = field(default_factory=dict)


class FaissFaqIndex:
    """Searchable snapshot of the published knowledge base (one version)."""

    def __init__(
        self,
        meta: IndexMeta,
        entries: list[IndexedEntry],
        rows: np.ndarray,
        vectors: faiss.Index,
        lexical: LexicalIndex,
        embedder: Embedder,
        fusion: Fusion | None = None,
    ) -> None:
        self.meta = meta
        self.entries = entries
        self._rows = rows
        self._vectors = vectors
        self._lexical = lexical
        self._embedder = embedder
        self.fusion = fusion or Fusion()
        self._positions = {e.id: i for i, e in enumerate(entries)}
        self._vocabulary = {
            w for e in entries for t in (e.question, *e.phrasings) for w in _WORD.findall(clean(t))
        }

    @property
    def version(self) -> int:
        return self.meta.version

    def entry(self, entry_id: int) -> IndexedEntry | None:
        position = self._positions.get(entry_id)
        return self.entries[position] if position is not None else None

    @classmethod
    def build(
        cls,
        entries: Sequence[IndexedEntry],
        embedder: Embedder,
        version: int,
        cache: EmbeddingCache | None = None,
        progress: Progress | None = None,
    ) -> FaissFaqIndex:
        """Embed every question and phrasing of ``entries`` and index them.

        Args:
            entries: Published entries.
            embedder: The process's embedder.
            version: The knowledge-base version this snapshot is of.
            cache: Reuses embeddings of unchanged texts when given.
            progress: Called with (texts embedded, total texts).
        """
        texts: list[str] = []
        rows: list[int] = []
        for position, entry in enumerate(entries):
            for text in dict.fromkeys((entry.question, *entry.phrasings)):
                texts.append(text)
                rows.append(position)
        passages = [clean(t) or strip_invisible(t) for t in texts]
        if cache is not None:
            vectors = cache.encode(embedder, passages, progress=progress)
        else:
            vectors = embedder.encode(passages, prompt_name="passage", progress=progress)
        index = _make_faiss(embedder.dim, len(texts))
        if len(texts):
            index.add(np.ascontiguousarray(vectors, dtype=np.float32))
        meta = IndexMeta(
            version,
            embedder.name,
            embedder.dim,
            len(entries),
            len(texts),
            kind=type(index).__name__,
        )
        lexical = LexicalIndex.build(passages)
        return cls(meta, list(entries), np.asarray(rows, dtype=np.int32), index, lexical, embedder)

    def prepare(self, query: str) -> str:
        """The text actually searched for: cleaned, with a wrong keyboard layout undone
        when that turns it into words the knowledge base knows."""
        text = strip_invisible(query)
        if looks_like_wrong_layout(text):
            fixed = clean(fix_layout(text))
            known = sum(w in self._vocabulary for w in _WORD.findall(fixed))
            if known > sum(w in self._vocabulary for w in _WORD.findall(clean(text))):
                return fixed
        return clean(text)

    def search(self, query: str, top_k: int = 5) -> tuple[str, list[Hit]]:
        """The prepared query text and the entries most similar to it, best first."""
        text = self.prepare(query)
        if not text or not len(self._rows):
            return text, []
        vector = self._embedder.encode(text, prompt_name=QUERY).reshape(1, -1)
        return text, self.search_prepared(text, vector, top_k)

    def search_prepared(self, text: str, vector: np.ndarray, top_k: int) -> list[Hit]:
        """Search with an already cleaned text and its query embedding."""
        k = min(len(self._rows), max(self.fusion.candidates, top_k * 8))
        dense_scores, dense_rows = self._vectors.search(vector.astype(np.float32), k)
        candidates = {
            int(r): float(s) for r, s in zip(dense_rows[0], dense_scores[0], strict=True) if r >= 0
        }
        lex_query = self._lexical.vectorise(text)
        if self._lexical.size <= LEXICAL_SCAN_LIMIT:
            lex_all = self._lexical.scores(lex_query)
            extra = np.argsort(-lex_all)[: self.fusion.candidates // 4]
            missing = [int(r) for r in extra if lex_all[r] > 0 and int(r) not in candidates]
            if missing:
                recon = self._vectors.reconstruct_batch(np.asarray(missing, dtype=np.int64))
                for row, dense in zip(missing, recon @ vector[0], strict=True):
                    candidates[row] = float(dense)
            lexical = {row: float(lex_all[row]) for row in candidates}
        else:
            ids = np.fromiter(candidates, dtype=np.int64)
            lexical = dict(
                zip(candidates, self._lexical.scores(lex_query, ids).tolist(), strict=True)
            )
        return self._rank(candidates, lexical, top_k)

    def _rank(self, dense: dict[int, float], lexical: dict[int, float], top_k: int) -> list[Hit]:
        weight = self.fusion.lexical_weight
        best: dict[int, Hit] = {}
        for row, d in dense.items():
            position = int(self._rows[row])
            score = d + weight * lexical[row]
            current = best.get(position)
            if current is None or score > current.score:
                best[position] = Hit(self.entries[position], score, d, lexical[row])
        return sorted(best.values(), key=lambda h: h.score, reverse=True)[:top_k]

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        faiss.write_index(self._vectors, str(directory / "vectors.faiss"))
        np.save(directory / "rows.npy", self._rows)
        self._lexical.save(directory)
        with open(directory / "entries.json", "w", encoding="utf-8") as f:
            json.dump([asdict(e) for e in self.entries], f, ensure_ascii=False)
        (directory / "meta.json").write_text(json.dumps(asdict(self.meta)), encoding="utf-8")

    @classmethod
    def load(
        cls, directory: Path, embedder: Embedder, fusion: Fusion | None = None
    ) -> FaissFaqIndex:
        """Load a saved snapshot.

        Raises:
            ValueError: When it was built with another embedder or format.
        """
        meta = IndexMeta(**json.loads((directory / "meta.json").read_text(encoding="utf-8")))
        if meta.format != FORMAT or meta.embedder != embedder.name:
            raise ValueError(
                f"index in {directory} was built for {meta.embedder} "
                f"(format {meta.format}), not {embedder.name}"
            )
        with open(directory / "entries.json", encoding="utf-8") as f:
            entries = [
                IndexedEntry(**{**e, "phrasings": tuple(e["phrasings"])}) for e in json.load(f)
            ]
        vectors = faiss.read_index(str(directory / "vectors.faiss"))
        _tune(vectors)
        return cls(
            meta,
            entries,
            np.load(directory / "rows.npy"),
            vectors,
            LexicalIndex.load(directory),
            embedder,
            fusion,
        )


def _make_faiss(dim: int, size: int) -> faiss.Index:
    if size <= FLAT_LIMIT:
        return faiss.IndexFlatIP(dim)
    index = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = 80
    _tune(index)
    return index


def _tune(index: faiss.Index) -> None:
    if isinstance(index, faiss.IndexHNSWFlat):
        index.hnsw.efSearch = 128
