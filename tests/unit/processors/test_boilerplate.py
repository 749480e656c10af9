"""Boilerplate removal: marker lines and related blocks go, real sentences stay."""

from __future__ import annotations

import pytest

from processors.boilerplate import is_boilerplate_line, remove_boilerplate


@pytest.mark.parametrize(
    "line",
    [
        "اقرأ أيضاً: الحكومة تطلق مناقصة جديدة",
        "إقرأ ايضا: عام على الزلزال",
        "اقْرَأْ أيضًا",
        "تابعونا على فيسبوك وتويتر",
        "تابعوا آخر الأخبار عبر قناتنا على تلغرام",
        "شارك هذا المقال",
        "فيسبوك تويتر واتساب",
        "Facebook | Twitter | WhatsApp",
        "جميع الحقوق محفوظة © 2024",
        "© وكالة الأنباء",
        "Read more: Gaza truce talks",
        "حمّل تطبيق الجزيرة",
    ],
)
def test_marker_lines_are_boilerplate(line: str) -> None:
    assert is_boilerplate_line(line)


@pytest.mark.parametrize(
    "line",
    [
        "وتابع الوزير قائلاً إن الحل يتطلب إصلاح القطاع.",
        "وشارك في الاجتماع ممثلون عن الأمم المتحدة والصليب الأحمر.",
        "تابع مجلس الأمن جلسته المغلقة حتى ساعة متأخرة من الليل.",
        "شاركت فرق الدفاع المدني في إخماد الحريق.",
        "وقال إن الحكومة تابعت الملف عن كثب، وإن على الجميع أن يقرأ أيضاً تقرير اللجنة.",
        "علي",
        "",
    ],
)
def test_real_sentences_are_kept(line: str) -> None:
    assert not is_boilerplate_line(line)


def test_long_paragraph_starting_with_a_marker_phrase_is_kept() -> None:
    paragraph = "تابعونا " + "كلمة " * 60  # over the marker-line length: a paragraph, not a call to follow
    assert not is_boilerplate_line(paragraph)


def test_related_block_after_heading_is_removed_until_the_next_sentence() -> None:
    text = "\n".join(
        [
            "أعلنت الحكومة خطة جديدة للنقل العام في عمّان.",
            "مواضيع ذات صلة",
            "ارتفاع أسعار الوقود في الأردن",
            "افتتاح خط الباص السريع",
            "وقال وزير النقل إن الخطة ستنفذ على ثلاث مراحل.",
            "شارك:",
        ]
    )
    cleaned, removed = remove_boilerplate(text)
    assert cleaned == "أعلنت الحكومة خطة جديدة للنقل العام في عمّان.\nوقال وزير النقل إن الخطة ستنفذ على ثلاث مراحل."
    assert removed == 4


def test_clean_text_is_unchanged(sample_text: str) -> None:
    cleaned, removed = remove_boilerplate(sample_text)
    assert removed == 0
    assert cleaned == "\n".join(line.strip() for line in sample_text.split("\n") if line.strip())
