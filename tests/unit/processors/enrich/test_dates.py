"""Dates: month names of every Arabic usage, Hijri, Arabic-Indic digits, weekdays, relative expressions."""

from __future__ import annotations

import pytest


def _values(result):
    return [(d.text, d.value) for d in result.dates]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("وقع الهجوم في 12 نوفمبر 2024.", "2024-11-12"),
        ("وقع الهجوم في 12 تشرين الثاني 2024.", "2024-11-12"),
        ("وقع الهجوم في 12 نونبر 2024.", "2024-11-12"),
        ("وقع الهجوم في 5 يوليوز 2024.", "2024-07-05"),
        ("وقع الهجوم في 20 غشت 2024.", "2024-08-20"),
        ("وقع الهجوم في 20 آب 2024.", "2024-08-20"),
        ("وقع الهجوم في 3 جانفي 2024.", "2024-01-03"),
        ("وقع الهجوم في ١٢ نوفمبر ٢٠٢٤.", "2024-11-12"),
        ("في 12 نوفمبر/تشرين الثاني قصفت الطائرات.", "2024-11-12"),
        ("وقع في 10 جمادى الأولى 1446 هـ.", "2024-11-12"),
        ("تاريخ 12/11/2024 بحسب البيان.", "2024-11-12"),
    ],
)
def test_absolute_dates(enrich, text, value):
    assert [v for _, v in _values(enrich(text))] == [value]


@pytest.mark.parametrize(
    ("phrase", "value"),
    [
        ("أمس", "2024-11-12"),
        ("اليوم", "2024-11-13"),
        ("فجر اليوم", "2024-11-13"),
        ("مساء أمس", "2024-11-12"),
        ("الليلة الماضية", "2024-11-12"),
        ("قبل يومين", "2024-11-11"),
        ("منذ ثلاثة أيام", "2024-11-10"),
        ("قبل 5 أيام", "2024-11-08"),
        ("أول أمس", "2024-11-11"),
        ("يوم الاثنين", "2024-11-11"),
        ("الجمعة المقبل", "2024-11-15"),
    ],
)
def test_relative_dates_against_publication(enrich, phrase, value):
    result = enrich(f"قال المصدر إن القصف وقع {phrase} على المنطقة.")
    assert _values(result) == [(phrase, value)]


def test_a_day_and_month_without_year_take_the_nearest_year(enrich):
    assert _values(enrich("في 28 ديسمبر الماضي"))[0][1] == "2023-12-28"
    assert _values(enrich("في 2 نوفمبر"))[0][1] == "2024-11-02"


def test_offsets_point_at_the_text(enrich):
    text = "قالت المصادر إن الغارة وقعت فجر اليوم قرب المدينة."
    (mention,) = enrich(text).dates
    assert text[mention.start : mention.end] == mention.text == "فجر اليوم"
