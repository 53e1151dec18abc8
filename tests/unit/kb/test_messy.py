"""Messy messages: each cleaning step on its own, and the search's preparation of a
message with the knowledge base's words (transliteration, typos, long stories)."""

from collections import Counter

import pytest

from knowledge_base.index import FaissFaqIndex, IndexedEntry
from knowledge_base.normalize import (
    PLAIN,
    Preparation,
    Speller,
    clean,
    drop_politeness,
    focus,
    latin_words,
    russian_word,
    sentences,
    small_talk,
    split_questions,
    tidy,
    transliterate,
    undecorate,
)
from tests.fakes import FakeEmbedder

ENTRIES = [
    IndexedEntry(
        1,
        "Как оплатить коммунальные услуги?",
        "Оплатить квартиру можно через Госуслуги, банк или почту.",
        "ЖКХ",
        "pay",
        ("Где платить за квартиру", "Как оплатить квартиру"),
    ),
    IndexedEntry(
        2,
        "Где взять справку о составе семьи?",
        "Справку выдают в МФЦ по паспорту.",
        "МФЦ",
        "family",
        ("Как получить справку о составе семьи",),
    ),
    IndexedEntry(
        3,
        "Как передать показания счётчиков?",
        "Показания передают в личном кабинете до 25 числа.",
        "ЖКХ",
        "meters",
        ("Куда сообщать показания счетчиков воды",),
    ),
    IndexedEntry(
        4,
        "Как записать ребёнка в детский сад?",
        "Заявление подают на Госуслугах.",
        "Образование",
        "kindergarten",
        ("Запись в детский сад",),
    ),
]


@pytest.fixture(scope="module")
def index() -> FaissFaqIndex:
    return FaissFaqIndex.build(ENTRIES, FakeEmbedder(), version=1)


# --- Decorations, links, invisible characters ---------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("𝐊𝐚𝐤 оплатить", "Kak оплатить"),  # mathematical bold (NFKC)
        ("ⓜⓕⓒ", "mfc"),  # circled (NFKC)
        ("ｍｆｃ", "mfc"),  # fullwidth (NFKC)
        ("ᴋᴀᴋ", "kak"),  # small capitals
        ("🅼🅵🅲", "MFC"),  # squared emoji letters
        ("з̶а̶п̶и̶с̶ь", "запись"),  # strike-through
        ("за́мок", "замок"),  # stress mark
        ("кaк oплатить", "как оплатить"),  # Latin look-alikes inside Cyrillic words
        ("Gоsuslugi", "Gosuslugi"),  # a Cyrillic о inside a Latin word
        ("К А К  О П Л А Т И Т Ь", "КАК ОПЛАТИТЬ"),  # spelt letter by letter
        ("Й и ё", "Й и ё"),  # composed letters stay
    ],
)
def test_decorative_letters_become_plain(raw, expected):
    assert undecorate(clean_nfkc(raw)) == expected


def clean_nfkc(text: str) -> str:
    import unicodedata

    return unicodedata.normalize("NFKC", text)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("𝐊𝐚𝐤 оплатить 𝐤𝐯𝐚𝐫𝐭𝐢𝐫𝐮 😀😀!!!???", "kak оплатить kvartiru"),
        ("КАК 🙏 ОПЛАТИТЬ‼️ ЖКХ??!!", "как оплатить жкх"),
        ("опл\u200bат\u200dить\u2060 кварт\u00adиру\ufeff", "оплатить квартиру"),
        (
            "смотрела тут t.me/gorod_news/12 и тут gorod.ru/news?id=5 ничего",
            "смотрела тут и тут ничего",
        ),
        ("см. vk.com/wall-1_2 как оплатить", "см как оплатить"),
    ],
)
def test_clean_drops_decorations_links_and_invisible_characters(raw, expected):
    assert clean(raw) == expected


def test_plain_cleaning_is_the_one_from_before():
    message = "Как оплатить? Спасибо за ответ. С уважением, Иван"
    assert clean(message, messy=False) == "как оплатить спасибо за ответ с уважением иван"
    assert clean(message) == "как оплатить"


# --- Politeness anywhere ------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            "Здравствуйте! Подскажите, как оплатить ЖКХ? Спасибо! С уважением, Иван",
            "как оплатить жкх",
        ),
        (
            "Добрый день. Спасибо за работу. Где взять справку?\nЗаранее благодарю!",
            "где взять справку",
        ),
        ("Где взять справку? Буду очень благодарна за ответ. Хорошего дня!", "где взять справку"),
        ("Как оплатить квартиру. С уважением, Петров А. В.", "как оплатить квартиру"),
        ("Спасибо, а где МФЦ?", "а где мфц"),
        # «спасибо» inside a question is a word of the question
        ("Как сказать спасибо врачу?", "как сказать спасибо врачу"),
    ],
)
def test_politeness_is_dropped_wherever_it_stands(raw, expected):
    assert clean(raw) == expected


def test_a_message_of_only_politeness_is_still_small_talk():
    assert small_talk("Здравствуйте! Спасибо за ответ. С уважением, Иван") == "greeting"
    assert small_talk("Спасибо за помощь! Хорошего дня!") == "thanks"
    assert small_talk("Спасибо! А где МФЦ?") is None


def test_politeness_sentences_keep_the_lines_of_the_message():
    assert drop_politeness("Добрый день!\nКак оплатить?\nГде справка?") == (
        " \nКак оплатить?\nГде справка?"
    )


# --- Sentences, long stories --------------------------------------------------------


def test_sentences_do_not_break_at_abbreviations():
    assert sentences("Живу на ул. Ленина, д. 5. Кто убирает снег?! Спасибо") == [
        "Живу на ул. Ленина, д. 5.",
        "Кто убирает снег?!",
        "Спасибо",
    ]


STORY = (
    "Я живу в этом городе уже двенадцать лет и раньше никогда с таким не сталкивалась. "
    "Звонила по телефону горячей линии, но там всё время занято, а соседи ничего не "
    "знают. На сайте информацию найти не смогла, муж говорит идти лично. "
    "У нас двое детей и ипотека. Где взять справку о составе семьи?"
)


def test_a_long_story_is_searched_by_its_question_and_the_sentence_before():
    assert focus(STORY, words=40) == (
        "У нас двое детей и ипотека. Где взять справку о составе семьи?"
    )
    assert focus(STORY, words=40, context=0) == "Где взять справку о составе семьи?"
    assert focus(STORY, words=100) == STORY  # not long


def test_a_long_story_without_a_question_mark_keeps_its_last_sentences():
    story = STORY.replace("?", ".")
    assert focus(story, words=40, tail=1) == "Где взять справку о составе семьи."


def test_a_long_story_keeps_the_sentences_that_speak_of_the_knowledge_base():
    story = STORY.replace("?", ".").replace("ипотека", "справка из банка")
    assert focus(story, words=40, context=0, relevant=lambda s: "справк" in s) == (
        "У нас двое детей и справка из банка. Где взять справку о составе семьи."
    )


# --- Several questions --------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "parts"),
    [
        (
            "Как оплатить ЖКХ? И где взять справку о составе семьи?",
            ["Как оплатить ЖКХ?", "И где взять справку о составе семьи?"],
        ),
        (
            "У меня сломался счётчик. Кто его меняет? И где оплатить ЖКХ?",
            ["У меня сломался счётчик. Кто его меняет?", "И где оплатить ЖКХ?"],
        ),
        ("как оплатить жкх\nкак записаться в мфц", ["как оплатить жкх", "как записаться в мфц"]),
        (
            "Как оплатить ЖКХ, и ещё где взять справку",
            ["Как оплатить ЖКХ", "где взять справку"],
        ),
        (
            "Здравствуйте! Как оплатить ЖКХ? Ещё вопрос: где справка? Спасибо!",
            ["Как оплатить ЖКХ?", "Ещё вопрос: где справка?"],
        ),
        ("Как записаться в МФЦ? Да?", ["Как записаться в МФЦ? Да?"]),  # «Да?» is no question
        ("Где взять справку?", ["Где взять справку?"]),
        (
            "Как оплатить ЖКХ. А также где взять справку",
            ["Как оплатить ЖКХ.", "А также где взять справку"],
        ),
        (
            "Как оплатить ЖКХ? Ещё хотела узнать, где взять справку",
            ["Как оплатить ЖКХ?", "Ещё хотела узнать, где взять справку"],
        ),
        ("Ещё не получили ответ. Когда придёт?", ["Ещё не получили ответ. Когда придёт?"]),
        ("Как оплатить? Спасибо, очень жду.", ["Как оплатить? Спасибо, очень жду."]),
        ("Да? Нет? Почему?", ["Да? Нет? Почему?"]),  # no question of two words and more
        (
            "раз два? три четыре? пять шесть? семь восемь?",
            ["раз два?", "три четыре?", "пять шесть?"],
        ),
    ],
)
def test_split_questions(raw, parts):
    assert split_questions(raw) == parts


# --- Transliteration ----------------------------------------------------------------


def test_transliteration_reads_the_usual_digraphs():
    assert transliterate("zhizn shchuka chay shkola khleb tsentr yama yula yolka") == (
        "жизн щука чай школа хлеб центр яма юла ёлка"
    )
    assert transliterate("novyy kakoy moy zdravstvuyte informatsiya spetsialist zhkh") == (
        "новый какой мой здравствуйте информация специалист жкх"
    )


def test_transliteration_picks_the_reading_the_knowledge_base_knows():
    assert transliterate("schetchik") == "щетчик"
    assert transliterate("schetchik", {"счетчик"}) == "счетчик"
    assert transliterate("eto", {"это"}) == "это"
    assert transliterate("wifi v mfc", {"wifi"}) == "wifi в мфц"  # a known Latin word stays


def test_english_is_not_taken_for_transliterated_russian():
    assert latin_words("how to pay for water") == 0
    assert latin_words("kak oplatit kvartiru") == 3


# --- Typos --------------------------------------------------------------------------

COUNTS = Counter(
    {
        "квартиру": 3,
        "квартира": 1,
        "оплатить": 4,
        "справку": 2,
        "взять": 2,
        "показания": 2,
        "счетчиков": 2,
        "коммунальные": 1,
        "здравствуйте": 1,
        "мост": 1,
    }
)


@pytest.mark.parametrize(
    ("word", "fixed"),
    [
        ("квортиру", "квартиру"),  # substitution
        ("кватриру", "квартиру"),  # swap
        ("оплаить", "оплатить"),  # deletion
        ("комунальные", "коммунальные"),  # insertion
        ("камунальные", "коммунальные"),  # long: distance 2
        ("камунальныя", "камунальныя"),  # but not 3
        ("квартиры", "квартиры"),  # another form of a known word: a fine word
        ("оплатитть", "оплатитть"),  # (so are typos in the last two letters)
        ("оплатит", "оплатит"),
        ("мсот", "мсот"),  # short
        ("зарплата", "зарплата"),  # nothing near
        ("abcdef", "abcdef"),  # not Russian
    ],
)
def test_speller(word, fixed):
    assert Speller(COUNTS, min_length=5, long_length=8).correct(word) == fixed


@pytest.mark.parametrize(
    ("word", "fixed"),
    [
        ("оплатит", "оплатить"),  # a lost soft sign restored...
        ("взят", "взять"),  # ...even in short words
        ("оплатитть", "оплатить"),  # endings corrected too
        ("справк", "справку"),
        ("квортиру", "квартиру"),
    ],
)
def test_transliterated_words_are_corrected_loosely(word, fixed):
    assert Speller(COUNTS, min_length=5, long_length=8).correct(word, loose=True) == fixed


def test_the_first_letter_is_kept():
    assert Speller(Counter({"почта": 1})).correct("ночта") == "ночта"  # «трава» ≠ «права»
    assert Speller(Counter({"почта": 1}), keep_first=False).correct("ночта") == "почта"


def test_words_of_the_russian_dictionary_are_not_corrected():
    # Seen in the dev set: «КАК УСЫНОВИТЬ РЕБЕНКА» searched as «как установить ребенка».
    counts = Counter({"установить": 3, "квартире": 2, "проверить": 1})
    speller = Speller(counts, min_length=5, long_length=8, dictionary=russian_word)
    assert speller.correct_text("как усыновить ребенка") == "как усыновить ребенка"
    assert speller.correct("квартале") == "квартале"
    assert speller.correct("поверить") == "поверить"
    assert speller.correct("кваритре") == "квартире"  # not a word: still corrected
    assert speller.correct("проверитть") == "проверить"
    without = Speller(counts, min_length=5, long_length=8)
    assert without.correct("усыновить") == "установить"


def test_russian_word():
    assert russian_word("усыновить") and russian_word("ребенок") and russian_word("еще")
    assert not russian_word("оплатитть") and not russian_word("кваритра")


def test_speller_breaks_ties_only_between_forms_of_one_word():
    speller = Speller(Counter({"кошка": 1, "кашка": 1, "квартира": 1, "квартиру": 1}))
    assert speller.correct("кушка") == "кушка"  # кошка or кашка: left alone
    assert speller.correct("квартирв", loose=True) in {"квартира", "квартиру"}


def test_speller_prefers_the_more_frequent_word():
    speller = Speller(Counter({"оплатить": 5, "оплатит": 1, "отплатить": 1}))
    assert speller.correct("оплтить") == "оплатить"


# --- The search's preparation -------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "prepared"),
    [
        ("kak oplatit kvartiru", "как оплатить квартиру"),
        ("zdravstvuite, gde vzyat spravku", "где взять справку"),
        ("Zdravstvuyte! Kak peredat pokazaniya schetchikov?", "как передать показания счетчиков"),
        ("how to pay for water", "how to pay for water"),  # English stays English
        ("куда платить за квортиру", "куда платить за квартиру"),
        ("ult gkfnbnm pf rdfhnbhe", "где платить за квартиру"),  # wrong layout, as before
        (
            "Здравствуйте! Как оплатить квартиру? Спасибо! С уважением, Иван",
            "как оплатить квартиру",
        ),
        # a long story: its question with the two sentences before (the others share
        # no word with the knowledge base's questions)...
        (
            STORY,
            "на сайте информацию найти не смогла муж говорит идти лично у нас двое "
            "детей и ипотека где взять справку о составе семьи",
        ),
        # ...and a sentence that does, wherever it stands
        (
            "Ситуация такая: у нас трое детей, живём в квартире мужа уже давно, но "
            "недавно переехали. Показания счётчиков теперь передаём сами, раньше делала "
            "управляющая компания. Соседи говорят, что теперь всё по-другому. Кстати, "
            "в подъезде опять сломан домофон. Куда их передавать?",
            "показания счетчиков теперь передаем сами раньше делала управляющая компания "
            "соседи говорят что теперь все по-другому кстати в подъезде опять сломан "
            "домофон куда их передавать",
        ),
    ],
)
def test_prepare(index, raw, prepared):
    assert index.prepare(raw) == prepared


def test_prepare_before_is_the_plain_cleaning(index):
    index.preparation = PLAIN
    try:
        assert index.prepare("kak oplatit kvartiru") == "kak oplatit kvartiru"
        assert index.prepare("куда платить за квортиру") == "куда платить за квортиру"
        assert index.prepare("ult gkfnbnm pf rdfhnbhe") == "где платить за квартиру"
    finally:
        index.preparation = Preparation()


def test_words_of_the_answers_are_known_but_words_are_corrected_to_the_questions(index):
    # «почту» and «госуслуги» are words of answers, not of questions: fine words, left
    # alone; a word one edit from an answer's word only is left alone too, a word one
    # edit from a question's word is corrected.
    assert index.prepare("оплатить через почту госуслуги") == "оплатить через почту госуслуги"
    assert index.prepare("через госулуги") == "через госулуги"
    assert index.prepare("опалтить через почту") == "оплатить через почту"


def test_tidy_keeps_sentences():
    # The question mark of a link is not a sentence's end.
    assert tidy("Добрый день! Как оплатить? https://a.ru/x?y=1 Спасибо!").split() == [
        "Как",
        "оплатить?",
    ]
