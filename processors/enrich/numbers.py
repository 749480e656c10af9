"""Enrichment: Arabic cardinal numbers — digits, Arabic-Indic digits and number words (خمسة عشر, ثلاثة وعشرين).

Written here: no maintained PyPI package parses Arabic number words without downloading data (pyarabic's
number module reads ordinals and numbers as text but not the masculine/feminine/case variants of news copy).
Keys are ``normalize_arabic`` forms (ة→ه, أ→ا, ى→ي), so one spelling covers its variants.
"""

from __future__ import annotations

import functools

from processors.normalize import normalize_arabic

_UNITS = {
    1: "واحد واحده احد احدي",
    2: "اثنان اثنين اثنتان اثنتين اثنا اثني اثنتا اثنتي",
    3: "ثلاثه ثلاث",
    4: "اربعه اربع",
    5: "خمسه خمس",
    6: "سته ست",
    7: "سبعه سبع",
    8: "ثمانيه ثماني ثمان",
    9: "تسعه تسع",
    10: "عشره عشر",
}
_TENS = {
    20: "عشرون عشرين",
    30: "ثلاثون ثلاثين",
    40: "اربعون اربعين",
    50: "خمسون خمسين",
    60: "ستون ستين",
    70: "سبعون سبعين",
    80: "ثمانون ثمانين",
    90: "تسعون تسعين",
}
_HUNDREDS = {100: "مئه مائه", 200: "مئتان مئتين مائتان مائتين", 1000: "الف", 2000: "الفان الفين"}
_SCALE = {1000: "الاف", 1_000_000: "مليون ملايين"}

WORD_VALUES: dict[str, int] = {}
for _table in (_UNITS, _TENS, _HUNDREDS):
    for _value, _words in _table.items():
        for _word in _words.split():
            WORD_VALUES[_word] = _value
SCALE_WORDS = {word: value for value, words in _SCALE.items() for word in words.split()}
# "عشر/عشره" after a unit makes a teen (خمسه عشر = 15); standing alone it is 10.
_TEEN_WORDS = {"عشر", "عشره"}


@functools.lru_cache(maxsize=1 << 12)  # words repeat: most tokens the counters read were read before
def parse_digits(token: str) -> int | None:
    key = normalize_arabic(token).replace(",", "").replace("٬", "")
    if key[:1] in ("و", "ف", "ب") and key[1:].isdigit():  # "و40 جريحا": the conjunction is glued on
        key = key[1:]
    return int(key) if key.isdigit() and len(key) <= 9 else None


# After digits the thousand is singular from 11 on (150 ألف) and plural below (3 آلاف).
_DIGIT_SCALES = {"الف": 1000, **SCALE_WORDS}


def scaled_digits(digits: int, following: str) -> int | None:
    """Digits times the scale word after them (150 ألف, 3 آلاف, 2 مليون), or None when there is none."""
    scale = _DIGIT_SCALES.get(following)
    return digits * scale if scale else None


def parse_number_words(words: list[str]) -> tuple[int, int] | None:
    """Read a number from the start of ``words`` (keys); return (value, words used) or None."""
    total, used, current = 0, 0, 0
    index = 0
    while index < len(words):
        word = words[index]
        bare = word[1:] if word[:1] == "و" and used and word[1:] in WORD_VALUES else word
        if bare in WORD_VALUES:
            value = WORD_VALUES[bare]
            if index + 1 < len(words) and words[index + 1] in _TEEN_WORDS and value < 10:
                value, index = value + 10, index + 1
            current = current * 100 if value == 100 and 0 < current < 10 else current + value
        elif bare in SCALE_WORDS and used:
            total, current = total + max(current, 1) * SCALE_WORDS[bare], 0
        else:
            break
        index += 1
        used = index
    if not used:
        return None
    return total + current, used
