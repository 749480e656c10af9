"""Limits: byte-safe cuts, boundary-aware truncation, immense-term removal, URL bounds."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from processors.limits import bound_title, bound_url, break_long_runs, truncate_text, truncate_utf8


def test_truncate_utf8_never_splits_a_character() -> None:
    assert truncate_utf8("غزة", 3) == "غ"  # 2 bytes per letter: the third byte would split «ز»
    assert truncate_utf8("abc", 10) == "abc"


@given(st.text(), st.integers(min_value=0, max_value=200))
def test_truncate_utf8_fits(value: str, limit: int) -> None:
    cut = truncate_utf8(value, limit)
    assert len(cut.encode("utf-8", "replace")) <= limit
    assert value.startswith(cut) or "\ufffd" in cut or any(0xD800 <= ord(c) <= 0xDFFF for c in value)


def test_truncate_text_prefers_line_then_sentence_then_word() -> None:
    text = "السطر الأول كامل.\n" + "كلمة " * 10
    assert truncate_text(text, 30) == ("السطر الأول كامل.\nكلمة كلمة", True)
    assert truncate_text("جملة أولى. جملة ثانية طويلة", 14) == ("جملة أولى.", True)
    assert truncate_text("قصير", 10) == ("قصير", False)


@given(st.text(), st.integers(min_value=1, max_value=500))
def test_truncate_text_bound(value: str, limit: int) -> None:
    cut, truncated = truncate_text(value, limit)
    assert len(cut) <= limit
    assert truncated == (len(value) > limit)


def test_break_long_runs() -> None:
    assert break_long_runs("نص عادي " + "A" * 300 + " ونهاية", 200) == ("نص عادي  ونهاية", True)
    assert break_long_runs("نص عادي", 200) == ("نص عادي", False)
    assert break_long_runs("ب" * 200, 200) == ("ب" * 200, False)  # at the limit: kept
    assert break_long_runs("أ\u00a0" + "ب" * 201 + "\u2003ج", 200) == ("أ\u00a0\u2003ج", True)  # Unicode spaces
    assert break_long_runs("ب" * 201 + "\x1c" + "ج" * 5, 200) == ("\x1c" + "ج" * 5, True)


@given(st.text(alphabet=st.sampled_from("ab \u00a0\u2003\x1c\n\t\u200bج"), max_size=60), st.integers(1, 8))
def test_break_long_runs_drops_exactly_the_runs_the_regex_finds(value: str, max_run: int) -> None:
    long_run = rf"\S{{{max_run + 1},}}"
    assert break_long_runs(value, max_run) == (re.sub(long_run, "", value), re.search(long_run, value) is not None)


def test_bound_title_and_url() -> None:
    assert bound_title("  عنوان \n على سطرين ", 100) == "عنوان على سطرين"
    assert len(bound_title("ا" * 50_000, 100)) == 100
    assert bound_url("https://a.example/x.jpg", 100) == "https://a.example/x.jpg"
    assert bound_url("javascript:alert(1)", 100) is None
    assert bound_url("https://a.example/" + "x" * 200, 100) is None
    assert bound_url("https://a.example/a b", 100) is None
