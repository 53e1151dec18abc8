"""The pure pieces of bench/ranking.py on hand-made examples: tokens, BM25, ranks, RRF,
the metrics and the choice of a weight on validation. No model is loaded."""

import math

import numpy as np
import pytest

from bench.ranking import (
    BM25,
    MISS,
    Quality,
    Signals,
    choose,
    gold_ranks,
    labels,
    max_normalised,
    ranks,
    rrf,
    tokens,
    with_bm25,
)
from knowledge_base.index import Fusion


def test_tokens_are_folded_words_cut_to_a_five_letter_stem():
    assert tokens("Отпуском, ОТПУСКА и ёлка: 2026!") == ["отпус", "отпус", "и", "елка", "2026"]
    assert tokens("отпуском", stem=3) == ["отп"]


def test_bm25_scores_a_tiny_collection_exactly():
    # Lengths 2, 3, 1 (mean 2); k1 = 1.2, b = 0.75.
    bm25 = BM25([["a", "b"], ["a", "a", "c"], ["c"]])

    assert bm25.idf["a"] == pytest.approx(math.log(1.6))  # df 2 of 3
    assert bm25.idf["b"] == pytest.approx(math.log(8 / 3))  # df 1 of 3
    scores = bm25.scores(["a"])
    # tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * length / 2)) times the idf.
    assert scores == pytest.approx([math.log(1.6), math.log(1.6) * 4.4 / 3.65, 0.0])
    assert list(np.argsort(-scores)) == [1, 0, 2]
    # A query term counts as often as it occurs; unknown terms add nothing.
    assert bm25.scores(["b", "b", "zzz"]) == pytest.approx([2 * math.log(8 / 3), 0.0, 0.0])
    assert bm25.scores([]) == pytest.approx([0.0, 0.0, 0.0])


def test_ranks_are_one_based_and_ties_keep_the_entries_order():
    assert ranks(np.array([[0.5, 0.9, 0.5], [0.0, 0.1, 0.2]])).tolist() == [[2, 1, 3], [3, 2, 1]]


def test_rrf_sums_reciprocal_ranks_offset_by_k():
    first = np.array([[1, 2, 3]])
    second = np.array([[3, 1, 2]])

    fused = rrf([first, second], k=60)

    assert fused[0] == pytest.approx([1 / 61 + 1 / 63, 1 / 62 + 1 / 61, 1 / 63 + 1 / 62])
    assert ranks(fused).tolist() == [[2, 1, 3]]
    # A small k lets a first place outweigh two second places; a large one does not.
    first = np.array([[1, 2, 3, 4]])
    second = np.array([[4, 2, 1, 3]])
    assert ranks(rrf([first, second], k=1)).tolist() == [[2, 3, 1, 4]]
    assert ranks(rrf([first, second], k=60)).tolist() == [[3, 2, 1, 4]]


def test_max_normalised_divides_each_row_by_its_peak_and_leaves_empty_rows_at_zero():
    out = max_normalised(np.array([[2.0, 1.0, 0.0], [0.0, 0.0, 0.0]]))
    assert out.tolist() == [[1.0, 0.5, 0.0], [0.0, 0.0, 0.0]]


def test_gold_ranks_and_quality_count_a_question_not_searched_as_a_miss():
    scores = np.array([[0.1, 0.3, 0.2], [0.5, 0.5, 0.1]])

    found = gold_ranks(scores, np.array([2, -1]))

    assert found.tolist() == [2, MISS]
    quality = Quality.of(np.array([1, 3, 7]))
    assert quality.top1 == pytest.approx(1 / 3)
    assert quality.top5 == pytest.approx(2 / 3)
    assert quality.mrr == pytest.approx((1 + 1 / 3) / 3)  # rank 7 is past the first five


def _signals(phrase, answer, bm25, gold):
    phrase = np.array(phrase, dtype=np.float64)
    zeros = np.zeros_like(phrase)
    return Signals(
        dense=phrase,
        lexical=zeros,
        phrase=phrase,
        answer=np.array(answer, dtype=np.float64),
        bm25=np.array(bm25, dtype=np.float64),
        bm25_answer=zeros,
        gold=np.array(gold),
    )


def test_labels_mark_the_expected_entry_of_each_searched_question():
    s = _signals([[0.0, 0.0, 0.0]] * 2, [[0.0, 0.0, 0.0]] * 2, [[0.0, 0.0, 0.0]] * 2, [1, -1])
    assert labels(s).tolist() == [0, 1, 0, 0, 0, 0]


def test_the_smallest_bm25_weight_that_ranks_best_is_chosen():
    # Djinn's score: 0.9 for entry 0, 0.72 for entry 1; BM25 favours entry 1, the right one.
    s = _signals([[0.9, 0.72]] * 2, [[0.9, 0.72]] * 2, [[0.0, 3.0], [0.0, 2.0]], [1, 1])
    fusion = Fusion(lexical_weight=0.1, answer_weight=1.0)

    chosen = choose(s, [("bm25", w) for w in (0.0, 0.1, 0.15, 0.2, 0.3)], _weighted(fusion))

    # Entry 1 needs a lead of more than 0.18 once BM25 is divided by the row's maximum.
    assert chosen == ("bm25", 0.2)
    assert gold_ranks(with_bm25(s, fusion, "bm25", 0.2), s.gold).tolist() == [1, 1]
    assert gold_ranks(with_bm25(s, fusion, "bm25", 0.15), s.gold).tolist() == [2, 2]
    # With nothing to gain, the first value of the grid stays.
    assert choose(s, [("bm25", 0.0), ("bm25", 0.0)], _weighted(fusion)) == ("bm25", 0.0)


def _weighted(fusion):
    return lambda signals, pair: with_bm25(signals, fusion, *pair)
