"""The FAQ index: FAISS over the question and every alternative phrasing of each
published entry, fused with a character n-gram lexical signal."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import faiss
import numpy as np

from knowledge_base.embedder import PASSAGE, QUERY, Embedder, Progress
from knowledge_base.embedding_cache import EmbeddingCache
from knowledge_base.lexical import LexicalIndex
from knowledge_base.normalize import (
    Preparation,
    Speller,
    clean,
    fix_layout,
    focus,
    latin_words,
    looks_like_wrong_layout,
    russian_word,
    strip_invisible,
    tidy,
    transliterate,
)

# Up to this many vectors (15 MiB) an exact (flat) search stays in the CPU caches and
# takes about 2 ms; above it HNSW. At 42k vectors flat took 11 ms a query, HNSW 0.5 ms
# with 97 % of the exact top 64 and the same top hit for every dev question
# (bench/README.md, «Query latency»).
FLAT_LIMIT = 10_000
LEARNED_PENALTY = 0.02
FORMAT = 2
# Transliterated text is searched only when at least this share of its words are known.
TRANSLIT_KNOWN = 0.34
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
    # Citizens' phrasings learned from use (`knowledge_base.learning`), searched like
    # the editors' ones.
    learned: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Hit:
    """One entry found for a query, with the scores that ranked it.

    Attributes:
        entry: The entry.
        score: The fused score the decision thresholds apply to.
        dense: Best cosine similarity of the query with the entry's question or a
            phrasing.
        lexical: Character n-gram similarity with that same question or phrasing.
        answer: Cosine similarity of the query with the entry's question and answer.
    """

    entry: IndexedEntry
    score: float
    dense: float
    lexical: float
    answer: float


@dataclass(frozen=True, slots=True)
class Fusion:
    """How the signals combine: ``(phrase + answer_weight * answer) / (1 + answer_weight)``
    where ``phrase = max over the entry's questions of (dense + lexical_weight * lexical)``.
    """

    lexical_weight: float = 0.1
    answer_weight: float = 1.0
    candidates: int = 64
    # Subtracted from a learned phrasing's match (`knowledge_base.learning`): citizens'
    # questions are noisier than the editors' and crowd the entries they were learned
    # for; chosen on the validation half of rzd-hr-faq (bench/learning.py --choose).
    learned_penalty: float = LEARNED_PENALTY


@dataclass
class IndexMeta:
    version: int
    embedder: str
    dim: int
    entries: int
    texts: int
    kind: str
    format: int = FORMAT
    # The answer margin calibrated on this knowledge base (`knowledge_base.calibration`);
    # None in snapshots made before calibration, which use the recorded margin.
    margin: float | None = None
    # Where ``margin`` comes from: "probes" (the entries themselves) or "use" (citizens'
    # verdicts, `knowledge_base.learning`), which may go below the recorded margin.
    margin_source: str | None = None


class FaissFaqIndex:
    """Searchable snapshot of the published knowledge base (one version).

    Every question and phrasing is a row of the phrase index, embedded as a query
    (matching a citizen's question to an FAQ question is a symmetric task); every
    entry's question with its answer is a row of the answer index, embedded as a
    passage. Rows of one entry are contiguous: ``starts[i]:starts[i + 1]``.
    """

    def __init__(
        self,
        meta: IndexMeta,
        entries: list[IndexedEntry],
        starts: np.ndarray,
        phrases: faiss.Index,
        answers: faiss.Index,
        lexical: LexicalIndex,
        embedder: Embedder,
        fusion: Fusion | None = None,
    ) -> None:
        self.meta = meta
        self.entries = entries
        self._starts = starts
        self._rows = np.repeat(np.arange(len(entries), dtype=np.int32), np.diff(starts))
        self._phrases = phrases
        self._answers = answers
        self._lexical = lexical
        self._embedder = embedder
        self.fusion = fusion or Fusion()
        self._positions = {e.id: i for i, e in enumerate(entries)}
        # Rows of learned phrasings: they count `Fusion.learned_penalty` less.
        self._learned = np.zeros(len(self._rows), dtype=bool)
        for i, entry in enumerate(entries):
            if entry.learned:
                count = len(_entry_rows(entry)[1])
                self._learned[int(starts[i + 1]) - count : int(starts[i + 1])] = True
        self._vocabulary = {
            w for e in entries for t in (e.question, *e.phrasings) for w in _WORD.findall(clean(t))
        }
        self.preparation = Preparation()
        self._spellers: dict[tuple[bool, bool, int, int, bool, bool, int, bool], Speller] = {}

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
        """Embed every question, phrasing and answer of ``entries`` and index them.

        Args:
            entries: Published entries.
            embedder: The process's embedder.
            version: The knowledge-base version this snapshot is of.
            cache: Reuses embeddings of unchanged texts when given.
            progress: Called with (texts embedded, total texts).
        """
        phrases: list[str] = []
        starts = [0]
        for entry in entries:
            editors, learned = _entry_rows(entry)
            phrases.extend((*editors, *learned))
            starts.append(len(phrases))
        answers = [f"{entry.question}\n{entry.answer}" for entry in entries]
        total = len(phrases) + len(answers)

        def step(offset: int) -> Progress | None:
            return None if progress is None else (lambda d, _t: progress(offset + d, total))

        cache = cache or EmbeddingCache.in_memory()
        phrase_vectors = cache.encode(embedder, phrases, QUERY, progress=step(0))
        answer_vectors = cache.encode(embedder, answers, PASSAGE, progress=step(len(phrases)))
        phrase_index = _make_faiss(embedder.dim, len(phrases), phrase_vectors)
        meta = IndexMeta(
            version,
            embedder.name,
            embedder.dim,
            len(entries),
            len(phrases),
            kind=type(phrase_index).__name__,
        )
        return cls(
            meta,
            list(entries),
            np.asarray(starts, dtype=np.int64),
            phrase_index,
            _make_faiss(embedder.dim, len(answers), answer_vectors),
            LexicalIndex.build(phrases),
            embedder,
        )

    def prepare(self, query: str) -> str:
        """The text actually searched for, as `preparation` says: cleaned of what carries
        no meaning, the question of a long story, a wrong keyboard layout undone and
        Russian in Latin letters transliterated when that gives more words the knowledge
        base knows, and words it does not know corrected to words it does."""
        settings = self.preparation
        messy = settings.messy
        text = strip_invisible(query)
        if messy:
            text = tidy(text)
        if settings.story_words is not None:
            text = focus(
                text,
                settings.story_words,
                settings.story_context,
                settings.story_tail,
                self._relevant if settings.story_relevant else None,
            )
        prepared = clean(text, messy=messy)
        loose = False  # transliterated: its lost signs and endings are restored
        if looks_like_wrong_layout(text):
            fixed = clean(fix_layout(text), messy=messy)
            known = sum(w in self._vocabulary for w in _WORD.findall(fixed))
            if known > sum(w in self._vocabulary for w in _WORD.findall(prepared)):
                prepared = fixed
        elif settings.translit and latin_words(text):
            latin = self._transliterated(text, prepared)
            loose = latin is not None
            prepared = latin or prepared
        if settings.typos and prepared:
            corrected = self.speller().correct_text(prepared, loose=loose)
            prepared = clean(corrected, messy=messy)
        return prepared

    def _relevant(self, sentence: str) -> bool:
        """Whether a sentence of a long message speaks of what the knowledge base
        covers (`Preparation.story_relevant`)."""
        words = _WORD.findall(clean(sentence, messy=self.preparation.messy))
        known = sum(len(w) >= 4 and w in self._vocabulary for w in words)
        return known >= self.preparation.story_relevant

    def _transliterated(self, text: str, prepared: str) -> str | None:
        """``text`` transliterated when that gives more known words than ``prepared``
        and at least `TRANSLIT_KNOWN` of its words are known (English stays English)."""
        speller = self.speller()
        latin = clean(transliterate(text, speller.counts), messy=self.preparation.messy)
        if self.preparation.typos:
            before = speller.correct_text(prepared)
            after = speller.correct_text(latin, loose=True)
        else:
            before, after = prepared, latin
        known = speller.known(after)
        if known > speller.known(before) and known >= TRANSLIT_KNOWN * len(after.split()):
            return latin
        return None

    def speller(self) -> Speller:
        """The typo corrector for the current `preparation`, made on first use."""
        settings = self.preparation
        key = (
            settings.typo_answers,
            settings.typo_answer_targets,
            settings.typo_min_length,
            settings.typo_long_length,
            settings.typo_keep_first,
            settings.typo_keep_forms,
            settings.typo_min_count,
            settings.typo_dictionary,
        )
        speller = self._spellers.get(key)
        if speller is None:
            texts = [
                t
                for e in self.entries
                for t in (
                    e.question,
                    *e.phrasings,
                    *getattr(e, "learned", ()),
                    *((e.answer,) if settings.typo_answers else ()),
                )
            ]
            speller = Speller.of_texts(
                texts,
                min_length=settings.typo_min_length,
                long_length=settings.typo_long_length,
                keep_first=settings.typo_keep_first,
                keep_forms=settings.typo_keep_forms,
                min_count=settings.typo_min_count,
                targets=None if settings.typo_answer_targets else self._vocabulary,
                dictionary=russian_word if settings.typo_dictionary else None,
            )
            self._spellers[key] = speller
        return speller

    def search(self, query: str, top_k: int = 5) -> tuple[str, list[Hit]]:
        """The prepared query text and the entries most similar to it, best first."""
        text = self.prepare(query)
        if not text or not self.entries:
            return text, []
        vector = self._embedder.encode(text, prompt_name=QUERY).reshape(1, -1)
        return text, self.search_prepared(text, vector.astype(np.float32), top_k)

    def search_prepared(self, text: str, vector: np.ndarray, top_k: int) -> list[Hit]:
        """Search with an already cleaned text and its (1, dim) query embedding."""
        positions = np.asarray(self._candidates(vector, top_k), dtype=np.int64)
        starts = self._starts[positions]
        lengths = (self._starts[positions + 1] - starts).astype(np.int64)
        offsets = np.concatenate(([0], np.cumsum(lengths)[:-1]))
        # The candidates' rows, entry after entry, and which candidate each row is of.
        rows = np.repeat(starts - offsets, lengths) + np.arange(int(lengths.sum()))
        owners = np.repeat(np.arange(len(positions)), lengths)
        query = vector[0]
        dense = self._phrases.reconstruct_batch(rows) @ query
        lexical = self._lexical.scores(self._lexical.vectorise(text), rows)
        combined = dense + self.fusion.lexical_weight * lexical
        if self.fusion.learned_penalty:
            combined -= self.fusion.learned_penalty * self._learned[rows]
        # Each candidate's best row: the first one reaching its maximum, as argmax picks.
        peaks = np.flatnonzero(combined == np.maximum.reduceat(combined, offsets)[owners])
        best = peaks[np.unique(owners[peaks], return_index=True)[1]]
        answers = self._answers.reconstruct_batch(positions) @ query
        weight = self.fusion.answer_weight
        scores = (combined[best] + weight * answers) / (1.0 + weight)
        order = np.argsort(-scores, kind="stable")[:top_k]
        return [
            Hit(
                self.entries[int(positions[i])],
                float(scores[i]),
                float(dense[best[i]]),
                float(lexical[best[i]]),
                float(answers[i]),
            )
            for i in order
        ]

    def _candidates(self, vector: np.ndarray, top_k: int) -> list[int]:
        k = max(self.fusion.candidates, top_k * 8)
        _, rows = self._phrases.search(vector, min(k, len(self._rows)))
        found = dict.fromkeys(int(self._rows[r]) for r in rows[0] if r >= 0)
        _, positions = self._answers.search(vector, min(k // 4, len(self.entries)))
        found.update(dict.fromkeys(int(p) for p in positions[0] if p >= 0))
        return list(found)

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        faiss.write_index(self._phrases, str(directory / "phrases.faiss"))
        faiss.write_index(self._answers, str(directory / "answers.faiss"))
        np.save(directory / "starts.npy", self._starts)
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
                IndexedEntry(
                    **{
                        **e,
                        "phrasings": tuple(e["phrasings"]),
                        "learned": tuple(e.get("learned", ())),
                    }
                )
                for e in json.load(f)
            ]
        phrases = faiss.read_index(str(directory / "phrases.faiss"))
        answers = faiss.read_index(str(directory / "answers.faiss"))
        _tune(phrases)
        _tune(answers)
        return cls(
            meta,
            entries,
            np.load(directory / "starts.npy"),
            phrases,
            answers,
            LexicalIndex.load(directory),
            embedder,
            fusion,
        )


def _entry_rows(entry: IndexedEntry) -> tuple[list[str], list[str]]:
    """The texts of an entry's phrase rows: its question and the editors' phrasings,
    then the learned phrasings that are not among them (each once, cleaned)."""
    editors = dict.fromkeys(
        clean(t) or strip_invisible(t) for t in (entry.question, *entry.phrasings)
    )
    learned = dict.fromkeys(t for t in (clean(t) for t in entry.learned) if t and t not in editors)
    return list(editors), list(learned)


def _make_faiss(dim: int, size: int, vectors: np.ndarray) -> faiss.Index:
    if size <= FLAT_LIMIT:
        index = faiss.IndexFlatIP(dim)
    else:
        index = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
        _tune(index)
    if size:
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


def _tune(index: faiss.Index) -> None:
    if isinstance(index, faiss.IndexHNSWFlat):
        index.hnsw.efSearch = 128
