"""Extraction: remove Arabic (and English) boilerplate lines — read-also links, follow-us calls, share and
related-article blocks, copyright lines — without touching real sentences.

A line is boilerplate when its normalised form *starts* with a marker phrase and the line is short, or when
it consists only of share/social-network words. A heading such as «مواضيع ذات صلة» also removes the short,
headline-like lines that follow it (the block of related links) until the first real sentence. Matching is
on `normalize_arabic` keys, so hamza, tashkeel and tatweel variants (اقرأ أيضاً / إقرأ ايضا) are all caught;
a real sentence that merely contains a marker word (وتابع الوزير …, شارك في الاجتماع …) is kept because
markers are whole phrases anchored at the start of the line.
"""

from __future__ import annotations

import functools
import re

from processors.normalize import normalize_arabic

# Lines starting with these (normalised) phrases are boilerplate when short enough.
_LEAD_MARKERS = (
    "اقرا ايضا", "اقرا المزيد", "اقرا كذلك", "طالع ايضا", "شاهد ايضا", "شاهد:",
    "اقرا:", "للمزيد:", "للمزيد من الاخبار", "المزيد من الاخبار", "المزيد:", "تابعونا", "تابعوا", "تابعنا",
    "انضموا", "انضم لقناتنا", "اشترك في النشره", "اشترك في قناتنا", "اشترك الان", "اشتركوا",
    "حمل تطبيق", "حملوا تطبيق", "لتلقي اخر الاخبار", "لمتابعة اخر الاخبار", "شارك هذا", "شارك الخبر",
    "شارك المقال", "شاركها", "مشاركه الخبر", "مواضيع ذات صله", "اخبار ذات صله", "مقالات ذات صله",
    "موضوعات ذات صله", "ذات صله:", "الاكثر قراءه", "الاكثر مشاهده", "جميع الحقوق محفوظه", "حقوق النشر",
    "كل الحقوق محفوظه", "©", "read also", "read more", "related:", "related articles", "related news",
    "share this", "follow us", "subscribe", "all rights reserved", "copyright",
)  # fmt: skip
# Headings that open a block of related links.
_BLOCK_HEADINGS = frozenset(
    normalize_arabic(h).rstrip(":")
    for h in (
        "اقرأ أيضاً", "اقرأ أيضا", "إقرأ أيضاً", "اقرأ المزيد", "مواضيع ذات صلة", "أخبار ذات صلة",
        "مقالات ذات صلة", "موضوعات ذات صلة", "ذات صلة", "الأكثر قراءة", "الأكثر مشاهدة", "المزيد من الأخبار",
        "شاهد أيضاً", "طالع أيضاً", "related articles", "related news", "read more", "read also",
    )
)  # fmt: skip
_SOCIAL_WORDS = frozenset(
    {
        "شارك", "مشاركه", "عبر", "فيسبوك", "فيس", "بوك", "تويتر", "اكس", "x", "واتساب", "واتس", "اب",
        "تلغرام", "تيليغرام", "تليجرام", "انستغرام", "انستجرام", "يوتيوب", "لينكدان", "تيك", "توك", "نسخ",
        "الرابط", "طباعه", "البريد", "الالكتروني", "ايميل", "facebook", "twitter", "whatsapp", "telegram",
        "instagram", "youtube", "linkedin", "tiktok", "email", "print", "copy", "link", "share",
    }
)  # fmt: skip
_PUNCTUATION = "-–—•*>|·:«/ "
_MARKER_FIRST = frozenset(m[0] for m in _LEAD_MARKERS) | frozenset(_PUNCTUATION)
_MAX_MARKER_LINE = 220  # a marker line is a link or a call, not a paragraph
_MAX_BLOCK_LINE = 160  # headline-like lines inside a related block
_SENTENCE_END = re.compile(r"[.!؟?…]\s*$")
_TOKEN = re.compile(r"[\w@]+|[:|/·•-]")


_MARKER_PREFIX = 40  # every marker phrase fits in this many characters
_MAX_HEADING = 40
_MAX_SOCIAL_WORDS = 12
_MAX_SOCIAL_CHARS = 160


def _is_social_line(line: str) -> bool:
    if len(line) > _MAX_SOCIAL_CHARS or line.count(" ") > _MAX_SOCIAL_WORDS + 4:  # most lines are sentences
        return False
    first = normalize_arabic(line.split(None, 1)[0]).strip(_PUNCTUATION)
    if first and first not in _SOCIAL_WORDS:  # a share line is share words only: its first word tells
        return False
    words = [t for t in _TOKEN.findall(normalize_arabic(line)) if t not in ":|/·•-"]
    return bool(words) and len(words) <= _MAX_SOCIAL_WORDS and all(w in _SOCIAL_WORDS for w in words)


@functools.lru_cache(maxsize=1 << 12)
def _may_open_marker(head: str) -> bool:
    """Whether a line starting with ``head`` (its first two characters) can start a marker phrase. Cached: lines
    open with few distinct pairs of letters, and this runs on every line of every article."""
    return normalize_arabic(head)[:1] in _MARKER_FIRST


def is_boilerplate_line(line: str) -> bool:
    """True when ``line`` on its own is boilerplate (marker phrase at its start, or share words only)."""
    stripped = line.strip()
    if not stripped:
        return False
    if len(stripped) <= _MAX_MARKER_LINE and _may_open_marker(stripped[:2]):
        # Normalising is per character, so the head of the line is enough to test the markers.
        head = normalize_arabic(stripped[:_MARKER_PREFIX]).lstrip(_PUNCTUATION)
        if head.startswith(_LEAD_MARKERS):
            return True
    return _is_social_line(stripped)


def _is_block_heading(line: str) -> bool:
    return len(line) <= _MAX_HEADING and normalize_arabic(line).strip(" :-–—•|") in _BLOCK_HEADINGS


def _looks_like_headline(line: str) -> bool:
    return len(line) <= _MAX_BLOCK_LINE and not _SENTENCE_END.search(line)


def remove_boilerplate(text: str) -> tuple[str, int]:
    """Remove boilerplate lines from ``text``; returns the cleaned text and how many lines were removed."""
    kept: list[str] = []
    removed = 0
    in_block = False
    for line in text.split("\n"):
        stripped = line.strip()
        if not stripped:
            continue
        if _is_block_heading(stripped):
            in_block, removed = True, removed + 1
            continue
        if in_block and _looks_like_headline(stripped):
            removed += 1
            continue
        in_block = False
        if is_boilerplate_line(stripped):
            removed += 1
            continue
        kept.append(stripped)
    return "\n".join(line for line in kept if line), removed
