"""The real evaluation sets load as `djinn kb import` reads them, every question finds its
entry, and the validation/test split is fixed by the questions' text."""

from collections import Counter

from bench.real_sets import REAL_DIR, SPLITS, load_set, split_of


def test_the_rzd_set_loads_whole_and_splits_in_halves():
    real = load_set(REAL_DIR / "rzd-hr-faq")

    assert len(real.entries) == 74  # 76 rows, two pairs sharing an answer merged
    counts = {split: len(real.questions[split]) for split in SPLITS}
    assert sum(counts.values()) == 436
    assert all(180 <= n <= 256 for n in counts.values())
    keys = {entry.key for entry in real.entries}
    assert all(q.expected in keys for split in SPLITS for q in real.questions[split])
    styles = Counter(q.style for split in SPLITS for q in real.questions[split])
    assert styles == {"informal": 180, "formal": 141, "abbreviated": 115}


def test_a_question_keeps_its_split_whatever_its_spacing_and_case():
    assert split_of("Сколько стоит  детский сад?") == split_of("сколько стоит детский сад?")
    assert {split_of(f"вопрос {i}") for i in range(20)} == set(SPLITS)
