import numpy as np

from knowledge_base.lexical import LexicalIndex
from knowledge_base.normalize import clean

TEXTS = [
    clean(t)
    for t in (
        "Как оплатить коммунальные услуги?",
        "Где платить за квартиру",
        "Как записаться в МФЦ?",
        "Запись в многофункциональный центр",
        "Кто убирает снег во дворе?",
        "Куда жаловаться на уборку снега",
    )
]


def test_scores_of_some_rows_equal_the_full_product_to_the_bit():
    index = LexicalIndex.build(TEXTS)
    rows = np.array([4, 0, 5, 1])
    for query in ("оплата квартиры", "снег во дворе не убирают", "мфц", "zzz"):
        vector = index.vectorise(clean(query))
        some = index.scores(vector, rows)
        assert some.dtype == np.float32
        assert np.array_equal(some, index.scores(vector)[rows])


def test_scores_of_an_empty_query_are_zero():
    index = LexicalIndex.build(TEXTS)
    assert not index.scores(index.vectorise(""), np.arange(3)).any()
