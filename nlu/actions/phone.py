"""Russian contact phone numbers: find one in what a citizen wrote and normalise it."""

from __future__ import annotations

import re

# A run of digits with the separators people type between them.
_CANDIDATE = re.compile(r"\+?[\d(][\d\s()\-.]{8,}\d")
_SEPARATORS = re.compile(r"[\s()\-.]")
# Geographic codes start with 3, 4 or 81-87; mobile codes with 9. Ten digits
# starting 89… are a mobile number with the trunk 8 and one digit lost.
_NATIONAL = re.compile(r"(?:[349]\d|8[1-7])\d{8}")


def normalise_phone(text: str) -> str | None:
    """The Russian phone number in ``text`` as ``+7XXXXXXXXXX``, or None.

    Accepts ``+7 912 345-67-89``, ``8 (912) 345-67-89``, ``89123456789``,
    ``9123456789`` and the like, with spaces, dashes, dots and brackets anywhere
    between the digits and words around the number. Refuses other countries' codes,
    too few or too many digits, and text with two numbers in it.
    """
    candidates = _CANDIDATE.findall(text)
    if len(candidates) != 1:
        return None
    raw = candidates[0]
    plus = raw.startswith("+")
    digits = _SEPARATORS.sub("", raw.lstrip("+"))
    if not digits.isdigit():
        return None
    if plus:
        if len(digits) != 11 or not digits.startswith("7"):
            return None
        national = digits[1:]
    elif len(digits) == 11 and digits[0] in "78":
        national = digits[1:]
    elif len(digits) == 10:
        national = digits
    else:
        return None
    if not _NATIONAL.fullmatch(national):
        return None
    return "+7" + national
