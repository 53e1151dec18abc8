"""The lexical signal: TF-IDF over character n-grams of folded text.

Character n-grams match across Russian inflection («квартиру» / «квартира») and
survive typos that break whole-word matching. Features are hashed, so nothing but
the IDF vector and the document matrix has to be stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import HashingVectorizer

N_FEATURES = 2**20


def _vectorizer() -> HashingVectorizer:
    return HashingVectorizer(
        analyzer="char_wb",
        ngram_range=(3, 5),
        n_features=N_FEATURES,
        alternate_sign=False,
        norm=None,
        lowercase=False,
        dtype=np.float32,
    )


def _l2_rows(matrix: sp.csr_matrix) -> sp.csr_matrix:
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    matrix.data /= np.repeat(norms, np.diff(matrix.indptr)).astype(np.float32)
    return matrix


def _sparse_dot(docs: sp.csr_matrix, rows: np.ndarray, query: sp.csr_matrix) -> np.ndarray:
    """``(docs[rows] @ query.T).toarray().ravel()`` to the bit, for a one-row query.

    scipy would first turn ``query.T`` into a matrix with a row per feature (2**20 of
    them), which cost more than the rest of a search; here each document's features
    are looked up among the query's few hundred and the products summed in float32 in
    the order scipy sums them.
    """
    if not query.has_canonical_format:
        query = query.copy()
        query.sum_duplicates()
    features, weights = query.indices, query.data
    out = np.zeros(len(rows), dtype=np.float32)
    starts = docs.indptr[rows]
    lengths = docs.indptr[rows + 1] - starts
    if not len(features) or not lengths.sum():
        return out
    # Where the rows' entries sit in docs.indices and docs.data, row after row.
    at = np.repeat(starts - (np.cumsum(lengths) - lengths), lengths) + np.arange(lengths.sum())
    indices = docs.indices[at]
    found = np.minimum(np.searchsorted(features, indices), len(features) - 1)
    match = features[found] == indices
    owners = np.repeat(np.arange(len(rows)), lengths)[match]
    np.add.at(out, owners, docs.data[at[match]] * weights[found[match]])
    return out


class LexicalIndex:
    """TF-IDF vectors of the indexed texts (one row per text).

    Args:
        idf: The IDF weight of every hashed feature.
        docs: L2-normalised TF-IDF rows of the indexed texts.
    """

    def __init__(self, idf: np.ndarray, docs: sp.csr_matrix) -> None:
        self._vectorizer = _vectorizer()
        self._idf = idf
        self._docs = docs

    @classmethod
    def build(cls, texts: Sequence[str]) -> LexicalIndex:
        """Fit IDF on ``texts`` (already folded) and vectorise them."""
        if not texts:  # an empty knowledge base is a valid state (before the first import)
            empty = sp.csr_matrix((0, N_FEATURES), dtype=np.float32)
            return cls(np.ones(N_FEATURES, dtype=np.float32), empty)
        counts = _vectorizer().transform(texts).tocsr()
        df = np.bincount(counts.indices, minlength=N_FEATURES).astype(np.float32)
        idf = (np.log((1.0 + len(texts)) / (1.0 + df)) + 1.0).astype(np.float32)
        return cls(idf, cls._weigh(counts, idf))

    @staticmethod
    def _weigh(counts: sp.csr_matrix, idf: np.ndarray) -> sp.csr_matrix:
        tf = counts.copy()
        tf.data = ((1.0 + np.log(tf.data)) * idf[tf.indices]).astype(np.float32)
        return _l2_rows(tf)

    def vectorise(self, text: str) -> sp.csr_matrix:
        return self._weigh(self._vectorizer.transform([text]).tocsr(), self._idf)

    def scores(self, query: sp.csr_matrix, rows: np.ndarray | None = None) -> np.ndarray:
        """Cosine similarity of the query with the given rows (all rows if None)."""
        if rows is None:
            return (self._docs @ query.T).toarray().ravel()
        return _sparse_dot(self._docs, np.asarray(rows, dtype=np.int64), query)

    def save(self, directory: Path) -> None:
        np.save(directory / "idf.npy", self._idf)
        sp.save_npz(directory / "lexical.npz", self._docs)

    @classmethod
    def load(cls, directory: Path) -> LexicalIndex:
        idf = np.load(directory / "idf.npy")
        docs = sp.load_npz(directory / "lexical.npz").tocsr()
        return cls(idf, docs)

    @property
    def size(self) -> int:
        return int(self._docs.shape[0])
