import pytest

from knowledge_base.normalize import (
    clean,
    fix_layout,
    fold,
    looks_like_wrong_layout,
    small_talk,
    strip_invisible,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Здравствуйте! Подскажите, пожалуйста, КАК ОПЛАТИТЬ ЖКХ??", "как оплатить жкх"),
        ("Добрый день, уважаемая администрация! Где взять справку?", "где взять справку"),
        ("помогитеее где мусоррр", "помогите где мусор"),
        ("Ёлки зелёные", "елки зеленые"),
        ("вот ссылка https://example.ru/a?b=1 что это", "вот ссылка что это"),
        ("пишите на ivan@mail.ru или @admin_bot", "пишите на или"),
        ("как оплатить, заранее спасибо!", "как оплатить"),
        ("ул. Ленина, д. 5-а", "ул ленина д 5-а"),
        ("опл\u200bатить\u2060 квитанцию\ufeff", "оплатить квитанцию"),
        ("Добрый день!!!", ""),
        ("😀😀", ""),
        ("", ""),
    ],
)
def test_clean_keeps_only_the_words_that_matter(raw, expected):
    assert clean(raw) == expected


def test_fold_and_invisible_characters():
    assert fold("ЁЖИК") == "ежик"
    assert strip_invisible("a\u200bb\u00adc\ufeff") == "abc"
    assert strip_invisible("ｆｕｌｌ") == "full"  # NFKC


def test_wrong_keyboard_layout_is_detected_and_undone():
    assert looks_like_wrong_layout("rfr jgkfnbnm rjvveyfkre")
    assert fix_layout("rfr jgkfnbnm rjvveyfkre") == "как оплатить коммуналку"
    assert not looks_like_wrong_layout("hello world")
    assert not looks_like_wrong_layout("мфц")
    assert not looks_like_wrong_layout("abc")


@pytest.mark.parametrize(
    ("raw", "kind"),
    [
        ("Здравствуйте!", "greeting"),
        ("Привет)))", "greeting"),
        ("Добрый вечер", "greeting"),
        ("Спасибо большое!", "thanks"),
        ("спс", "thanks"),
        ("Благодарю", "thanks"),
        ("Добрый день, как оплатить ЖКХ", None),
        ("???", None),
        ("спасибо, а где МФЦ?", None),
    ],
)
def test_small_talk(raw, kind):
    assert small_talk(raw) == kind
