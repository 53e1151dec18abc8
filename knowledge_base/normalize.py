"""Text normalisation that survives what citizens really type.

`clean` keeps the words a citizen wrote but drops what carries no meaning for search:
invisible characters, decorative letters and marks, links, greetings and politeness
formulas (also whole sentences of them in the middle or at the end, and a signature),
shouting, stretched letters and punctuation runs. `fold` additionally lower-cases and
maps ё to е for comparisons and the lexical signal. `fix_layout` undoes text typed with
the wrong keyboard layout («rfr jgkfnbnm» → «как оплатить»), `transliterate` Russian
written in Latin letters («kak oplatit» → «как оплатит»), `Speller` typos, against the
words of the knowledge base. `focus` keeps the question of a long story and
`split_questions` finds the questions of a message that asks several.

What the search does with them is `Preparation` (`knowledge_base.index.FaissFaqIndex.
prepare`); the settings were chosen on the validation halves of `bench/messy.py`
(bench/README.md, «Messy messages»).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

_INVISIBLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b-\u200f"
    "\u202a-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0]"
)
_URL = re.compile(
    r"(?:https?://|www\.)\S+|\b[\w.-]+\.(?:ru|рф|com|org|net)(?:/\S*)?", re.IGNORECASE
)
# Links `_URL` did not know: more domains, and bare paths such as «t.me/channel».
_MORE_URLS = re.compile(
    r"\b[\w.-]+\.(?:su|me|info|gov|io|cc|ly|link|online|site|рус|москва)(?:/\S*)?"
    r"|\b[\w-]+\.[a-z]{2,6}/\S+",
    re.IGNORECASE,
)
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+\.[\w.-]+\b")
_MENTION = re.compile(r"(?<!\w)@\w+")
_STRETCHED = re.compile(r"(\w)\1{2,}")
_NON_WORD = re.compile(r"[^\w\s-]+")
_SPACES = re.compile(r"\s+")
_DASHES = re.compile(r"(?<!\w)-+|-+(?!\w)")
_WORD = re.compile(r"\w+")

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
# A sentence made only of these (and of greetings) is politeness, wherever it stands:
# «Здравствуйте. У меня вопрос по оплате. ... Спасибо за ответ! Хорошего дня».
_POLITE_WORDS = (
    *_GREETING_WORDS,
    "спасибо вам",
    "спасибо за ответ",
    "спасибо за помощь",
    "спасибо за работу",
    "спасибо за внимание",
    "спасибо за понимание",
    "спасибо за информацию",
    "благодарю вас",
    "благодарю за ответ",
    "благодарю за помощь",
    "благодарим",
    "заранее благодарю",
    "заранее благодарна",
    "заранее благодарен",
    "буду благодарен",
    "буду благодарна",
    "буду очень благодарен",
    "буду очень благодарна",
    "буду признателен",
    "буду признательна",
    "хорошего дня",
    "хорошего вечера",
    "доброго вечера",
    "всего доброго",
    "всего хорошего",
    "жду ответа",
    "жду ваш ответ",
    "жду вашего ответа",
    "очень жду ответа",
    "ответьте пожалуйста",
    "ответьте",
    "помогите разобраться",
    "помогите",
    "очень нужно",
    "срочно",
    "за ответ",
    "вам",
)
_POLITE = re.compile(
    r"^(?:(?:"
    + "|".join(sorted((re.escape(g) for g in _POLITE_WORDS), key=len, reverse=True))
    + r")\b\s*)+$"
)
# A signature: «С уважением, Иван Петров» and whatever follows it at the end.
_SIGN_OFF = re.compile(
    r"(?<!\w)(?:с уважением|с наилучшими пожеланиями|искренне ваш\w*)(?!\w)[^?]{0,80}$",
    re.IGNORECASE,
)
# Sentence ends: ? ! … always, a full stop before a space and a word (citizens often
# start a sentence in lower case), a line break.
_BOUNDARY = re.compile(r"[?!…]+[\"»)]*|\.+[\"»)]*(?=\s+[\"«(]*\w)|\n")
# Abbreviations a full stop after which does not end a sentence (nor does one after a
# single letter, an initial).
_ABBREVIATIONS = frozenset(
    "ул пр пер просп пл наб ш кв корп стр обл р-н мкр им тел т ст см др гр руб коп тыс "
    "млн г гг д п с рис".split()
)
_LAST_WORD = re.compile(r"[\w-]+$")
_QUESTION_END = re.compile(r"\?[?!\"»)\s]*$")
# A sentence opening another question: «А также…», «Ещё хотела узнать…».
_OPENER = re.compile(
    r"(?:(?:и|а) )?(?:также|ещ[её]|кроме того|(?:второй|другой|следующий) вопрос)\b",
    re.IGNORECASE,
)
# Several questions joined in one sentence: «как оплатить ЖКХ, и ещё где взять справку».
_JOIN = re.compile(
    r"[,;]?\s+(?:и|а) ещ[её](?: (?:один|такой) вопрос)?[\s:,—-]+"
    r"|[,;]\s*(?:а )?также\s+"
    r"|[,;]?\s+ещ[её] (?:один )?вопрос[\s:,—-]+",
    re.IGNORECASE,
)
# Decorative letters NFKC leaves alone: small capitals and squared/circled emoji letters.
_DECORATIVE = str.maketrans(
    "ᴀʙᴄᴅᴇꜰɢʜɪᴊᴋʟᴍɴᴏᴘʀꜱᴛᴜᴠᴡʏᴢ"
    + "".join(chr(0x1F170 + i) for i in range(26))
    + "".join(chr(0x1F150 + i) for i in range(26)),
    "abcdefghijklmnoprstuvwyz" + "ABCDEFGHIJKLMNOPQRSTUVWXYZ" * 2,
)
# Combining marks left after NFKC composed й and ё: stress marks, strike-through,
# underline and other «zalgo» decorations.
_COMBINING = re.compile(
    "[\u0300-\u036f\u0483-\u0489\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]"
)
# «К А К  О П Л А Т И Т Ь»: words written letter by letter (four letters or more, so
# that «с и в» stays), a wider gap between the words.
_SPACED = re.compile(r"(?<!\w)\w(?: {1,3}\w(?!\w)){3,}")
_GAP = re.compile(r" {2,}| ")
# Latin letters that look Cyrillic, for words mixing the two scripts («кaк» with a Latin a).
_LATIN_LOOKALIKES = "ABCEHKMOPTXYaceopxy"
_CYRILLIC_LOOKALIKES = "АВСЕНКМОРТХУасеорху"
_TO_CYRILLIC = str.maketrans(_LATIN_LOOKALIKES, _CYRILLIC_LOOKALIKES)
_TO_LATIN = str.maketrans(_CYRILLIC_LOOKALIKES, _LATIN_LOOKALIKES)
_CYRILLIC_LETTER = re.compile("[а-яё]", re.IGNORECASE)
_LATIN_LETTER = re.compile("[a-z]", re.IGNORECASE)

_LAT = "qwertyuiop[]asdfghjkl;'zxcvbnm,.`"
_CYR = "йцукенгшщзхъфывапролджэячсмитьбюё"
_LAYOUT = str.maketrans(_LAT + _LAT.upper(), _CYR + _CYR.upper())


@dataclass(frozen=True, slots=True)
class Preparation:
    """What the search does to a message before searching it.

    Attributes:
        messy: Decorative letters, marks and spacing, more kinds of links, politeness
            sentences anywhere and signatures are cleaned (`clean` with ``messy``).
        story_words: A message longer than this many words is searched by its question
            (`focus`); None searches the whole message.
        story_context: Sentences before each question kept with it.
        story_relevant: Other sentences of a long message are kept when they have at
            least this many words (of four letters and more) of the knowledge base's
            questions and phrasings; 0 keeps none.
        story_tail: Last sentences kept from a long message with nothing else to keep.
        translit: Russian in Latin letters is transliterated when that gives more
            words the knowledge base knows.
        typos: Words the knowledge base does not know are corrected to one it does
            (`Speller`).
        typo_min_length: Shorter words are never corrected.
        typo_long_length: Words at least this long are corrected at edit distance 2.
        typo_answers: The answers' words are known too (else only the questions' and
            phrasings'): they are not corrected.
        typo_answer_targets: ...and words may be corrected to them (else only to the
            questions' and phrasings' words).
        typo_keep_first: See `Speller`.
        typo_keep_forms: See `Speller`.
        typo_min_count: See `Speller`.
        typo_dictionary: Words of the Russian dictionary are never corrected (see
            `Speller`).
    """

    messy: bool = True
    story_words: int | None = 20
    story_context: int = 2
    story_relevant: int = 2
    story_tail: int = 1
    translit: bool = True
    typos: bool = True
    typo_min_length: int = 6
    typo_long_length: int = 8
    typo_answers: bool = True
    typo_answer_targets: bool = False
    typo_keep_first: bool = True
    typo_keep_forms: bool = True
    typo_min_count: int = 1
    typo_dictionary: bool = True


# The search as it was before messy messages were handled: `clean` and the layout fix.
PLAIN = Preparation(messy=False, story_words=None, translit=False, typos=False)


def strip_invisible(text: str) -> str:
    """NFKC-normalise and drop zero-width and other invisible characters."""
    return _INVISIBLE.sub("", unicodedata.normalize("NFKC", text))


def fold(text: str) -> str:
    """Case-fold and map ё to е, for comparisons and the lexical signal."""
    return text.casefold().replace("ё", "е")


def undecorate(text: str) -> str:
    """Plain letters for decorative ones: small capitals, emoji letters, combining
    strike-through and stress marks, words spelt letter by letter, Latin look-alikes
    inside Cyrillic words (and the other way round). Expects NFKC text."""
    text = _COMBINING.sub("", text.translate(_DECORATIVE))
    text = _SPACED.sub(
        lambda m: _GAP.sub(lambda g: " " if len(g.group()) > 1 else "", m.group()), text
    )
    if _LATIN_LETTER.search(text) and _CYRILLIC_LETTER.search(text):
        text = _WORD.sub(_unmix, text)
    return text


def _unmix(match: re.Match[str]) -> str:
    word = match.group()
    cyrillic = len(_CYRILLIC_LETTER.findall(word))
    latin = len(_LATIN_LETTER.findall(word))
    if not cyrillic or not latin:
        return word
    return word.translate(_TO_CYRILLIC if cyrillic >= latin else _TO_LATIN)


def _spans(text: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        if match.group().startswith("."):
            before = _LAST_WORD.search(text, 0, match.start())
            word = before.group() if before else ""
            if (len(word) == 1 and word.isalpha()) or fold(word) in _ABBREVIATIONS:
                continue  # «ул. Ленина», «Петров А. В.»
        spans.append((start, match.end()))
        start = match.end()
    spans.append((start, len(text)))
    return [(a, b) for a, b in spans if text[a:b].strip()]


def sentences(text: str) -> list[str]:
    """The sentences of ``text`` with their punctuation (lines count as sentences)."""
    return [text[a:b].strip() for a, b in _spans(text)]


def _is_polite(sentence: str) -> bool:
    words = " ".join(_NON_WORD.sub(" ", fold(sentence).replace("_", " ")).split())
    return bool(words) and _POLITE.match(words) is not None


def drop_politeness(text: str) -> str:
    """``text`` without a signature at its end and without the sentences that are only
    greetings, thanks and other politeness, wherever they stand."""
    text = _SIGN_OFF.sub("", text)
    for start, end in reversed(_spans(text)):
        if _is_polite(text[start:end]):
            text = text[:start] + " " + text[end:]
    return text


def tidy(text: str) -> str:
    """What `clean` removes while keeping sentences and their punctuation: invisible
    characters, decorations, links, e-mail addresses, mentions, politeness sentences."""
    text = undecorate(strip_invisible(text))
    text = _EMAIL.sub(" ", text)
    text = _URL.sub(" ", text)
    text = _MORE_URLS.sub(" ", text)
    text = _MENTION.sub(" ", text)
    return drop_politeness(text)


def clean(text: str, *, messy: bool = True) -> str:
    """Reduce a citizen's message to the words that matter for search.

    Args:
        text: Raw text as the citizen sent it.
        messy: Also what `tidy` removes: decorations, more kinds of links, politeness
            sentences anywhere in the message and a signature. False cleans as Djinn
            did before (`PLAIN`).

    Returns:
        Folded text without invisible characters, links, e-mail addresses, mentions,
        greetings, trailing thanks, stretched letters («помогитеее») or punctuation.
        May be empty (a message of only a greeting, emoji or punctuation).
    """
    text = tidy(text) if messy else strip_invisible(text)
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


def focus(
    text: str,
    words: int,
    context: int = 1,
    tail: int = 2,
    relevant: Callable[[str], bool] | None = None,
) -> str:
    """The part of a long message to search: its questions, and what else in it speaks
    of what the knowledge base covers.

    Args:
        text: The message, with its punctuation (after `tidy`).
        words: Messages of at most this many words are kept whole.
        context: Sentences before each question kept with it.
        tail: Without a question mark, the last sentences kept.
        relevant: Sentences it is true of are kept wherever they stand.
    """
    if len(_WORD.findall(text)) <= words:
        return text
    parts = sentences(text)
    if len(parts) < 2:
        return text
    asked = [i for i, part in enumerate(parts) if _QUESTION_END.search(part)]
    keep = {j for i in asked for j in range(max(0, i - context), i + 1)}
    if not keep:
        keep = set(range(max(0, len(parts) - tail), len(parts)))
    if relevant is not None:
        keep.update(i for i, part in enumerate(parts) if relevant(part))
    return " ".join(parts[i] for i in sorted(keep))


def split_questions(text: str, limit: int = 3) -> list[str]:
    """The questions of a message that asks several, in order; one item (the tidied
    message) when it asks one.

    Questions are sentences ending in «?» (with the sentences before each that are not
    questions) or opening with «И ещё», «Также», «Кроме того»…; else lines; else parts
    of a sentence joined by «и ещё», «а также», «ещё вопрос». Parts of
    fewer than two words are merged into the next one; beyond ``limit`` parts the rest
    is dropped.
    """
    text = tidy(text)
    groups: list[str] = []
    current: list[str] = []
    for sentence in sentences(text):
        if current and _OPENER.match(sentence):
            groups.append(" ".join(current))
            current = []
        current.append(sentence)
        if _QUESTION_END.search(sentence):
            groups.append(" ".join(current))
            current = []
    if current:
        if groups and not _OPENER.match(current[0]):
            # What follows the last question: a remark on it, not a question of its own.
            groups[-1] = " ".join([groups[-1], *current])
        else:
            groups.append(" ".join(current))
    if len(groups) < 2:
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        if len(lines) >= 2 and all(len(_WORD.findall(line)) >= 2 for line in lines):
            groups = lines
        else:
            groups = [g for g in _JOIN.split(text) if g and g.strip()]
    merged: list[str] = []
    carry = ""
    for group in groups:
        group = f"{carry} {group}".strip() if carry else group.strip()
        if len(_WORD.findall(clean(group))) < 2:
            carry = group
            continue
        carry = ""
        merged.append(group)
    if carry and merged:
        merged[-1] = f"{merged[-1]} {carry}"
    if len(merged) < 2:
        return [text.strip()]
    return [" ".join(part.split()) for part in merged[:limit]]


# --- Transliteration --------------------------------------------------------------

_VOWELS = set("аеёиоуыэюя")
# Longest first; the first reading is the usual one, the others are tried when the
# usual one is not a word of the knowledge base.
_TRANSLIT: dict[str, tuple[str, ...]] = {
    "zhkh": ("жкх",),
    "zhku": ("жку",),
    "shch": ("щ",),
    "sch": ("щ", "сч"),
    "zh": ("ж",),
    "kh": ("х",),
    "ch": ("ч",),
    "sh": ("ш",),
    "ts": ("ц", "тс"),
    "tz": ("ц",),
    "yo": ("ё",),
    "jo": ("ё",),
    "yu": ("ю",),
    "ju": ("ю",),
    "iu": ("иу", "ию"),
    "ya": ("я",),
    "ja": ("я",),
    "ia": ("иа", "ия"),
    "ye": ("е",),
    "je": ("е",),
    "a": ("а",),
    "b": ("б",),
    "v": ("в",),
    "g": ("г",),
    "d": ("д",),
    "e": ("е",),
    "z": ("з",),
    "i": ("и",),
    "j": ("й",),
    "k": ("к",),
    "l": ("л",),
    "m": ("м",),
    "n": ("н",),
    "o": ("о",),
    "p": ("п",),
    "r": ("р",),
    "s": ("с",),
    "t": ("т",),
    "u": ("у",),
    "f": ("ф",),
    "h": ("х",),
    "c": ("ц", "к"),
    "y": ("ы",),
    "w": ("в",),
    "q": ("к",),
    "x": ("кс", "х"),
    "'": ("ь",),
    "`": ("ь",),
}
_TRANSLIT_KEYS = sorted(_TRANSLIT, key=len, reverse=True)
_LATIN_WORD = re.compile(r"[a-z][a-z'`]*", re.IGNORECASE)
_TRANSLIT_VARIANTS = 16


def _readings(word: str) -> list[str]:
    """Cyrillic readings of a folded Latin word, the usual one first."""
    readings = [""]
    i = 0
    while i < len(word):
        key = next((k for k in _TRANSLIT_KEYS if word.startswith(k, i)), word[i])
        options = _TRANSLIT.get(key, (key,))
        if key == "y":
            # After a vowel «y» is й (moy, kakoy, dobryy); else ы.
            options = ("й",) if readings[0] and readings[0][-1] in _VOWELS else ("ы", "й")
        elif key == "e" and i == 0:
            options = ("е", "э")  # eto, elektrichestvo
        elif key in ("ia", "iu") and i + len(key) == len(word):
            options = options[::-1]  # informatsiya/informatsia, but spetsialist
        readings = [r + o for r in readings for o in options][:_TRANSLIT_VARIANTS]
        i += len(key)
    return readings


def transliterate(text: str, known: Iterable[str] | None = None) -> str:
    """Russian written in Latin letters, back in Cyrillic («kak oplatit» → «как
    оплатит»). Words in ``known`` are kept as they are (a Latin word of the knowledge
    base) or chosen among the readings of an ambiguous spelling."""
    lexicon = known if isinstance(known, set | frozenset | dict) else set(known or ())

    def replace(match: re.Match[str]) -> str:
        word = fold(match.group())
        if word in lexicon:
            return match.group()
        readings = _readings(word)
        return next((r for r in readings if fold(r) in lexicon), readings[0])

    return _LATIN_WORD.sub(replace, text)


# English words that transliterated Russian does not produce (unlike «i», «a», «to»,
# «no», «do», «my»): a message with them is English, not Russian in Latin letters.
_ENGLISH = frozenset(
    "the how what where when why who which is are was were you your can could does "
    "did of for with please hello thanks thank this that have has get not yes pay "
    "want need help from will would should".split()
)


def latin_words(text: str) -> int:
    """How many words of ``text`` are Russian written in Latin letters (0 for
    English)."""
    words = [fold(w) for w in _LATIN_WORD.findall(text)]
    if any(w in _ENGLISH for w in words):
        return 0
    return len(words)


# --- Typos ------------------------------------------------------------------------

_RUSSIAN_WORD = re.compile("[а-яё]+")
_POLITE_VOCABULARY = frozenset(w for phrase in _POLITE_WORDS for w in phrase.split())


class Speller:
    """Corrects words unknown to the knowledge base to a known word one edit away (two
    for long words): deletion, insertion, substitution or swap of neighbours.

    The knowledge base knows few of the words of Russian, so a word it does not know is
    more often a fine word than a typo. Corrections that would most often turn a fine
    word into another one are not made (measured in `bench/messy.py`): a word that
    differs from a known word only in its last two letters is another form of it (the
    embedder copes with forms), and the first letter is rarely the mistyped one
    («трава» is not «права»). Transliterated text (``loose``) has lost its soft and hard
    signs and its endings («vzyat», «novij»): there a missing sign is restored first, for
    words of three letters and more, and any edit is allowed.

    Candidates are found by the symmetric-delete method: every known word is indexed
    under itself and the strings left by deleting one letter (two for long words) of
    it, built on first use; an unknown word looks up its own such deletions. Among
    candidates at the smallest distance the most frequent wins; a tie is resolved only
    between forms of one word (the same but for their last two letters), else the word
    is left as it is.

    Args:
        counts: Known words (folded) and how often the knowledge base uses them.
        min_length: Shorter words are never corrected (but for a missing sign).
        long_length: Words at least this long are corrected at distance 2.
        keep_first: Never change the first letter (but in ``loose`` text).
        keep_forms: Leave a word alone when it differs from a known word only in its
            last two letters (but in ``loose`` text). Without effect with a
            ``dictionary``, which knows the forms: there an unknown word is no form.
        min_count: Correct only to words the knowledge base uses at least this often
            (but in ``loose`` text).
        targets: The only known words a word may be corrected to (all when None).
        dictionary: Whether a word is a word of Russian (`russian_word`, the OpenCorpora
            dictionary): such a word is never corrected (but in ``loose`` text), so
            «усыновить» stays itself beside a knowledge base that knows «установить».
            None corrects every word the knowledge base does not know.
    """

    def __init__(
        self,
        counts: Counter[str],
        min_length: int = 5,
        long_length: int = 8,
        *,
        keep_first: bool = True,
        keep_forms: bool = True,
        min_count: int = 1,
        targets: Iterable[str] | None = None,
        dictionary: Callable[[str], bool] | None = None,
    ) -> None:
        self.counts = counts
        self.dictionary = dictionary
        self.min_length = min_length
        self.long_length = long_length
        self.keep_first = keep_first
        self.keep_forms = keep_forms
        self.min_count = min_count
        # Misspelt greetings and thanks are recognised to be dropped like well-spelt ones.
        self._targets = None if targets is None else frozenset(targets) | _POLITE_VOCABULARY
        self._deletes: dict[str, list[str]] | None = None

    @classmethod
    def of_texts(cls, texts: Iterable[str], **settings: Any) -> Speller:
        counts: Counter[str] = Counter()
        for text in texts:
            counts.update(_WORD.findall(clean(text)))
        counts.update(w for w in _POLITE_VOCABULARY if w not in counts)
        return cls(counts, **settings)

    def _depth(self, word: str) -> int:
        return 2 if len(word) >= self.long_length else 1

    def _index(self) -> dict[str, list[str]]:
        if self._deletes is None:
            deletes: dict[str, list[str]] = {}
            for word in self.counts if self._targets is None else self._targets:
                if len(word) >= self.min_length - 1 and _RUSSIAN_WORD.fullmatch(word):
                    for variant in _deletions(word, self._depth(word)):
                        deletes.setdefault(variant, []).append(word)
            self._deletes = deletes
        return self._deletes

    def correct(self, word: str, *, loose: bool = False) -> str:
        """``word`` (folded) or its correction; ``loose`` for transliterated text."""
        if word in self.counts or len(word) < 3 or not _RUSSIAN_WORD.fullmatch(word):
            return word
        if loose:
            signed = [
                w
                for i in range(1, len(word) + 1)
                for sign in "ьъ"
                if (w := word[:i] + sign + word[i:]) in self.counts
            ]
            if signed:
                return max(signed, key=lambda w: (self.counts[w], w))
        if len(word) < self.min_length:
            return word
        if not loose and self.dictionary is not None and self.dictionary(word):
            return word  # a real word the knowledge base happens not to use
        index = self._index()
        limit = self._depth(word)
        candidates = {c for v in _deletions(word, limit) for c in index.get(v, ())}
        best: list[tuple[int, int, str]] = []
        for candidate in candidates:
            allowed = limit if len(candidate) >= self.long_length else 1
            distance = _distance(word, candidate, allowed)
            if distance > allowed:
                continue
            if not loose:
                same = _common_prefix(word, candidate)
                if (
                    self.keep_forms
                    and self.dictionary is None
                    and same >= min(len(word), len(candidate)) - 2
                ):
                    return word  # another form of a known word
                if self.keep_first and same == 0:
                    continue
                if self.counts[candidate] < self.min_count:
                    continue
            best.append((distance, -self.counts[candidate], candidate))
        if not best:
            return word
        best.sort()
        distance, frequency, chosen = best[0]
        rivals = [c for d, f, c in best[1:] if (d, f) == (distance, frequency)]
        if any(r[:-2] != chosen[:-2] for r in rivals):
            return word
        return chosen

    def correct_text(self, text: str, *, loose: bool = False) -> str:
        """Folded ``text`` with each word corrected."""
        return _WORD.sub(lambda m: self.correct(m.group(), loose=loose), text)

    def known(self, text: str) -> int:
        """How many words of folded ``text`` the knowledge base knows."""
        return sum(w in self.counts for w in _WORD.findall(text))


@functools.cache
def _morphology() -> Any:
    # Imported on first use: loading the dictionary takes memory (about 15 MB).
    import pymorphy3

    return pymorphy3.MorphAnalyzer()


def russian_word(word: str) -> bool:
    """Whether folded ``word`` is a form of a word of the OpenCorpora dictionary of
    Russian (`pymorphy3`), ё or е alike."""
    return bool(_morphology().word_is_known(word))


def _common_prefix(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def _deletions(word: str, depth: int = 1) -> set[str]:
    """``word`` and the strings left by deleting up to ``depth`` of its letters."""
    out = {word}
    frontier = {word}
    for _ in range(depth):
        frontier = {w[:i] + w[i + 1 :] for w in frontier for i in range(len(w))}
        out |= frontier
    return out


def _distance(a: str, b: str, limit: int) -> int:
    """Optimal string alignment distance (Levenshtein with swaps of neighbours);
    anything above ``limit`` is reported as ``limit + 1``."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            value = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                value = min(value, previous2[j - 2] + 1)
            current[j] = value
        if min(current) > limit:
            return limit + 1
        previous2, previous = previous, current
    return min(previous[-1], limit + 1)


# --- Small talk -------------------------------------------------------------------

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
