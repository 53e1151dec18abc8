"""Text normalisation that survives what citizens really type.

`clean` keeps the words a citizen wrote but drops what carries no meaning for search:
invisible characters, links, greetings and politeness formulas, shouting, stretched
letters and punctuation runs. `fold` additionally lower-cases and maps ё to е for
comparisons and the lexical signal. `fix_layout` undoes text typed with the wrong
keyboard layout («rfr jgkfnbnm» → «как оплатить»).
"""

from __future__ import annotations

import re
import unicodedata

_INVISIBLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b-\u200f"
    "\u202a-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0]"
)
_URL = re.compile(
    r"(?:https?://|www\.)\S+|\b[\w.-]+\.(?:ru|рф|com|org|net)(?:/\S*)?", re.IGNORECASE
)
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+\.[\w.-]+\b")
_MENTION = re.compile(r"(?<!\w)@\w+")
_STRETCHED = re.compile(r"(\w)\1{2,}")
_NON_WORD = re.compile(r"[^\w\s-]+")
_SPACES = re.compile(r"\s+")
_DASHES = re.compile(r"(?<!\w)-+|-+(?!\w)")

# Opening formulas that say nothing about the question. Matched after folding.
_GREETING_WORDS = (
    "здравствуйте",
    "здраствуйте",
    "здравствуй",
    "здрасте",
    "здрасьте",
    "здрасти",
    "добрый день",
    "добрый вечер",
    "доброе утро",
    "доброй ночи",
    "доброго дня",
    "доброго времени суток",
    "доброго времени",
    "приветствую",
    "приветствую вас",
    "привет",
    "приветик",
    "хай",
    "алло",
    "ау",
    "день добрый",
    "вечер добрый",
    "уважаемая администрация",
    "уважаемые сотрудники",
    "уважаемые",
    "уважаемый",
    "администрация",
    "подскажите пожалуйста",
    "скажите пожалуйста",
    "подскажите",
    "скажите",
    "пожалуйста",
    "пожалуйста подскажите",
    "извините",
    "прошу прощения",
    "будьте добры",
    "помогите пожалуйста",
    "у меня вопрос",
    "вопрос",
    "такой вопрос",
    "хотел спросить",
    "хотела спросить",
    "хочу спросить",
    "спасибо заранее",
    "заранее спасибо",
    "спасибо большое",
    "большое спасибо",
    "огромное спасибо",
    "спасибо",
    "спс",
    "благодарю",
)
_GREETING = re.compile(
    r"^(?:(?:"
    + "|".join(sorted((re.escape(g) for g in _GREETING_WORDS), key=len, reverse=True))
    + r")\b[\s,.!:;-]*)+"
)
_THANKS_TAIL = re.compile(
    r"[\s,.!]*(?:(?:заранее|большое|огромное) спасибо|спасибо(?: заранее| большое)?|спс|"
    r"благодарю)[\s.!]*$"
)

_LAT = "qwertyuiop[]asdfghjkl;'zxcvbnm,.`"
_CYR = "йцукенгшщзхъфывапролджэячсмитьбюё"
_LAYOUT = str.maketrans(_LAT + _LAT.upper(), _CYR + _CYR.upper())


def strip_invisible(text: str) -> str:
    """NFKC-normalise and drop zero-width and other invisible characters."""
    return _INVISIBLE.sub("", unicodedata.normalize("NFKC", text))


def fold(text: str) -> str:
    """Case-fold and map ё to е, for comparisons and the lexical signal."""
    return text.casefold().replace("ё", "е")


def clean(text: str) -> str:
    """Reduce a citizen's message to the words that matter for search.

    Args:
        text: Raw text as the citizen sent it.

    Returns:
        Folded text without invisible characters, links, e-mail addresses, mentions,
        greetings, trailing thanks, stretched letters («помогитеее») or punctuation.
        May be empty (a message of only a greeting, emoji or punctuation).
    """
    text = strip_invisible(text)
    text = _EMAIL.sub(" ", text)
    text = _URL.sub(" ", text)
    text = _MENTION.sub(" ", text)
    text = fold(text)
    text = _STRETCHED.sub(r"\1", text)
    text = _NON_WORD.sub(" ", text.replace("_", " "))
    text = _DASHES.sub(" ", text)
    text = _SPACES.sub(" ", text).strip()
    text = _GREETING.sub("", text)
    text = _THANKS_TAIL.sub("", text)
    return text.strip()


def fix_layout(text: str) -> str:
    """Map text typed in the Latin layout of a Russian keyboard back to Cyrillic."""
    return text.translate(_LAYOUT)


def looks_like_wrong_layout(text: str) -> bool:
    """True when the text is Latin letters only and reads as nothing in Latin."""
    letters = [c for c in text if c.isalpha()]
    if len(letters) < 4 or any(not ("a" <= c.lower() <= "z") for c in letters):
        return False
    vowels = sum(c.lower() in "aeiouy" for c in letters)
    # English and transliterated Russian keep vowels near 35-45 %; layout slips
    # («rfr jgkfnbnm») land far below.
    return vowels / len(letters) < 0.25


_SMALL_TALK_GREETING = re.compile(
    r"^(?:здравствуй\w*|здраст\w*|здрась\w*|добр\w+ (?:день|вечер|утро|ночи|времени\w*)|"
    r"доброе утро|привет\w*|хай|алло|день добрый|вечер добрый)\b"
)
_SMALL_TALK_THANKS = re.compile(
    r"^(?:(?:большое|огромное) )?(?:спасибо|благодарю|спс|пасиб\w*|thanks?)\b"
)


def small_talk(text: str) -> str | None:
    """``"greeting"`` or ``"thanks"`` for a message that is only that, else None."""
    folded = " ".join(_NON_WORD.sub(" ", fold(strip_invisible(text))).split())
    if clean(text):
        return None
    if _SMALL_TALK_THANKS.match(folded):
        return "thanks"
    if _SMALL_TALK_GREETING.match(folded):
        return "greeting"
    return None
