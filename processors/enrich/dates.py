"""Enrichment: Arabic date mentions resolved to ISO dates against the article's publication time.

The spans are found here (dateparser's ``search_dates`` misses Levantine and Maghrebi month names and returns
junk on free text, NOTES §6): Gregorian month names of every Arabic usage, Hijri dates (converted with
hijridate's Umm al-Qura tables), numeric dates, weekdays, and relative expressions (أمس، فجر اليوم، الليلة
الماضية، قبل يومين، منذ ثلاثة أيام). A weekday means its latest occurrence on or before publication unless
followed by المقبل/القادم. A day and month without a year take the year that puts them nearest publication.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, timedelta
from typing import NamedTuple

from hijridate import Gregorian, Hijri

from processors.enrich.config import DatesConfig
from processors.enrich.matching import Lexicon, PhraseIndex, tokenize
from processors.enrich.numbers import parse_digits, parse_number_words
from processors.normalize import normalize_arabic

_AGO_WORDS = ("قبل", "منذ")  # what self._ago opens with
_FUTURE = {"المقبل", "القادم", "المقبله", "القادمه"}


class DateSpan(NamedTuple):
    start: int  # key offsets
    end: int
    value: date
    calendar: str = "gregorian"


def _alternation(names: dict[int, list[str]]) -> tuple[str, dict[str, int]]:
    lookup = {normalize_arabic(n): number for number, group in names.items() for n in group}
    ordered = sorted(lookup, key=len, reverse=True)
    return "|".join(re.escape(n) for n in ordered), lookup


class DateExtractor:
    def __init__(self, config: DatesConfig, lexicon: Lexicon | None = None) -> None:
        months, self._months = _alternation(config.months)
        hijri, self._hijri = _alternation(config.hijri_months)
        self._gregorian = re.compile(
            rf"(\d{{1,2}})\s+(?:من\s+)?(?:شهر\s+)?({months})(?:\s*/\s*(?:{months}))?"
            rf"(?:\s*(?:عام|سنه|من عام)?\s*(\d{{4}}))?(?:\s+(الماضي|المقبل|القادم|الجاري))?(?!\w)"
        )
        self._hijri_re = re.compile(
            rf"(\d{{1,2}})\s+(?:من\s+)?(?:شهر\s+)?({hijri})(?:\s*(?:عام|سنه)?\s*(\d{{4}}))?\s*(?:هـ|ه\b)?(?!\w)"
        )
        self._numeric = re.compile(r"(\d{1,4})[/.-](\d{1,2})[/.-](\d{1,4})(?!\d)")
        self._relative: PhraseIndex[int] = PhraseIndex(lexicon)
        for phrase, days in config.relative.items():
            self._relative.add(phrase, days)
            for part in config.day_parts:
                self._relative.add(f"{part} {phrase}", days)
        self._relative.build()
        self._weekdays: PhraseIndex[int] = PhraseIndex(lexicon)
        for weekday, names in config.weekdays.items():
            for name in names:
                self._weekdays.add_all(
                    [
                        name,
                        f"يوم {name}",
                        *(f"{p} {name}" for p in config.day_parts),
                        *(f"{p} يوم {name}" for p in config.day_parts),
                    ],
                    weekday,
                )
        self._weekdays.build()
        ago = "|".join(_AGO_WORDS)
        self._ago = re.compile(rf"(?:{ago})\s+((?:\S+\s+){{0,2}}?)(ايام|يوما|يوم|اسابيع|اسبوعا)(?!\w)")

    def extract(self, key: str, published: date | None) -> list[DateSpan]:
        found = self._absolute(key, published)
        if published is not None:
            found += self._relative_spans(key, published) + self._weekday_spans(key, published)
            found += self._ago_spans(key, published)
        return _without_overlaps(found)

    def _absolute(self, key: str, published: date | None) -> list[DateSpan]:
        found: list[DateSpan] = []
        digits = tokenize(key).digits()
        if not digits:
            return found
        runs = _digit_runs(digits)  # once for both kinds of start
        days, numeric = _day_starts(key, runs), _numeric_starts(key, runs)
        for m in _finditer_at(self._gregorian, key, days):
            if m.start() and key[m.start() - 1].isdigit():
                continue
            year = int(m.group(3)) if m.group(3) else None
            value = _make_date(year, self._months[m.group(2)], int(m.group(1)), published, m.group(4))
            if value:
                found.append(DateSpan(m.start(1), m.end(), value))
        for m in _finditer_at(self._hijri_re, key, days):
            if m.start() and key[m.start() - 1].isalnum():
                continue
            value = _hijri_date(m.group(3), self._hijri[m.group(2)], int(m.group(1)), published)
            if value:
                found.append(DateSpan(m.start(), m.end(), value, "hijri"))
        for m in _finditer_at(self._numeric, key, numeric):
            if m.start() and key[m.start() - 1].isdigit():
                continue
            first, month, last = (int(g) for g in m.groups())
            year, day = (first, last) if len(m.group(1)) == 4 else (last, first)
            value = _make_date(year, month, day, None) if len(str(year)) == 4 else None
            if value:
                found.append(DateSpan(m.start(), m.end(), value))
        return found

    def _relative_spans(self, key: str, published: date) -> list[DateSpan]:
        return [
            DateSpan(start, end, published + timedelta(days=values[0]))
            for start, end, _, values in self._relative.find(key)
        ]

    def _weekday_spans(self, key: str, published: date) -> list[DateSpan]:
        found = []
        for start, stop, _, values in self._weekdays.find(key):
            following = key[stop : stop + 9].split()
            future = bool(following) and following[0] in _FUTURE
            end = stop + key[stop:].index(following[0]) + len(following[0]) if future else stop
            back = (published.weekday() - values[0]) % 7
            value = published + timedelta(days=(7 - back) % 7 if future else -back)
            if future and value == published:
                value += timedelta(days=7)
            found.append(DateSpan(start, end, value))
        return found

    def _ago_spans(self, key: str, published: date) -> list[DateSpan]:
        found = []
        for m in _finditer_at(self._ago, key, _occurrences(key, _AGO_WORDS)):
            if m.start() and key[m.start() - 1].isalnum():
                continue
            words = m.group(1).split()
            count = (parse_digits(words[0]) if words else None) or _words_number(words)
            if count is None or count > 400:
                continue
            days = count * (7 if m.group(2).startswith("اسبوع") or m.group(2) == "اسابيع" else 1)
            found.append(DateSpan(m.start(), m.end(), published - timedelta(days=days)))
        return found


def _finditer_at(pattern: re.Pattern[str], key: str, starts: list[int]) -> Iterator[re.Match[str]]:
    """``pattern.finditer(key)`` for a pattern that can only start at one of ``starts`` (sorted offsets).

    The same matches in the same order: positions are tried left to right, each after the end of the last
    match, but only where a match may begin (a digit, the first letter of a word the pattern opens with),
    which spares the regex a walk over the whole field.
    """
    cursor = 0
    for start in starts:
        if start >= cursor:
            m = pattern.match(key, start)
            if m:
                yield m
                cursor = max(m.end(), start + 1)


def _digit_runs(digits: list[int]) -> list[tuple[int, int]]:
    """Maximal runs [start, end) of consecutive digit offsets."""
    runs = []
    start = previous = digits[0]
    for position in digits[1:]:
        if position != previous + 1:
            runs.append((start, previous + 1))
            start = position
        previous = position
    runs.append((start, previous + 1))
    return runs


def _day_starts(key: str, runs: list[tuple[int, int]]) -> list[int]:
    """Where ``(\\d{1,2})\\s+`` (the day of the Gregorian and Hijri patterns) can match: one of the last two
    digits of a run (``_digit_runs``) that a space follows."""
    return [
        position
        for start, end in runs
        if end < len(key) and key[end].isspace()
        for position in range(max(start, end - 2), end)
    ]


def _numeric_starts(key: str, runs: list[tuple[int, int]]) -> list[int]:
    """Where ``(\\d{1,4})[/.-]`` can match: one of the last four digits of a run that / . or - follows."""
    return [
        position
        for start, end in runs
        if end < len(key) and key[end] in "/.-"
        for position in range(max(start, end - 4), end)
    ]


def _occurrences(key: str, literals: tuple[str, ...]) -> list[int]:
    """Sorted offsets of every occurrence of each of ``literals`` in ``key``."""
    found = []
    for literal in literals:
        index = key.find(literal)
        while index >= 0:
            found.append(index)
            index = key.find(literal, index + 1)
    return sorted(found)


def _words_number(words: list[str]) -> int | None:
    parsed = parse_number_words(words)
    return parsed[0] if parsed and parsed[1] == len(words) else None


def _make_date(
    year: int | None, month: int, day: int, published: date | None, direction: str | None = None
) -> date | None:
    if year is None:
        if published is None:
            return None
        options = [_safe_date(y, month, day) for y in (published.year - 1, published.year, published.year + 1)]
        valid = [d for d in options if d]
        if direction == "الماضي":
            valid = [d for d in valid if d <= published]
        elif direction in _FUTURE:
            valid = [d for d in valid if d >= published]
        return min(valid, key=lambda d: abs((d - published).days) + (60 if d > published else 0)) if valid else None
    return _safe_date(year, month, day) if 1900 <= year <= 2100 else None


def _safe_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _hijri_date(year_text: str | None, month: int, day: int, published: date | None) -> date | None:
    try:
        if year_text:
            year = int(year_text)
        elif published is not None:
            year = Gregorian(published.year, published.month, published.day).to_hijri().year
        else:
            return None
        return Hijri(year, month, day).to_gregorian()
    except (ValueError, OverflowError):
        return None


def _without_overlaps(spans: list[DateSpan]) -> list[DateSpan]:
    chosen: list[DateSpan] = []
    for span in sorted(spans, key=lambda s: (s.start - s.end, s.start)):
        if all(span.end <= c.start or span.start >= c.end for c in chosen):
            chosen.append(span)
    return sorted(chosen, key=lambda s: s.start)
