"""Random JSON of every wrong type and absurd text, for the channels' garbage tests."""

from __future__ import annotations

import random
import string
from typing import Any

ODD_TEXTS = [
    "😀🙏🏽👨‍👩‍👧‍👦",
    "\u200b\u200c\u200d\u2060\ufeff",
    "Здрав\u200bствуйте",
    "\u202eперевёрнутый",
    "\x00\x01\x02",
    "одинокий \udcff суррогат",
    "'; DROP TABLE messages; --",
    "<script>alert(1)</script>",
    "/start@djinn extra",
    "/" * 50,
    " \n\t ",
]


def random_scalar(rng: random.Random) -> Any:
    return rng.choice(
        [
            None,
            rng.randint(-(2**70), 2**70),
            rng.random() * 1e308,
            "".join(rng.choices(string.printable, k=rng.randint(0, 40))),
            rng.choice([True, False]),
            [],
            {},
            rng.choice(ODD_TEXTS),
        ]
    )


def random_value(rng: random.Random, depth: int = 0) -> Any:
    if depth > 2 or rng.random() < 0.5:
        return random_scalar(rng)
    if rng.random() < 0.5:
        return [random_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {
        str(random_scalar(rng)): random_value(rng, depth + 1) for _ in range(rng.randint(0, 4))
    }
