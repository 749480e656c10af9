"""Language identification: Arabic varieties fold into "ar", other languages keep their label."""

from __future__ import annotations

import pytest

from processors.language import LanguageDetector, default_detector


@pytest.fixture(scope="module")
def detector() -> LanguageDetector:
    return default_detector()


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("قالت وزارة الخارجية إن المحادثات ستستأنف الأسبوع المقبل في القاهرة بمشاركة وفود إقليمية.", "ar"),
        ("ازيك يا باشا عامل ايه النهارده، انا مش فاهم حاجة خالص من اللي بيحصل ده", "ar"),
        ("كنبغي نمشي للدار البيضاء غدا باش نشوف الواليدة ديالي", "ar"),
        ("این یک متن فارسی است که برای آزمایش نوشته شده است و درباره اخبار ایران است", "fa"),
        ("The foreign ministry said talks would resume next week in Cairo.", "en"),
        ("Le ministère a annoncé la reprise des négociations la semaine prochaine au Caire.", "fr"),
    ],
)
def test_labels(detector: LanguageDetector, text: str, language: str) -> None:
    guess = detector.detect(text)
    assert guess.language == language
    assert 0.0 < guess.score <= 1.0


def test_arabic_score_sums_the_varieties(detector: LanguageDetector, sample_text: str) -> None:
    guess = detector.detect(sample_text)
    assert guess.is_arabic and guess.score > 0.95


def test_no_letters_is_undetermined(detector: LanguageDetector) -> None:
    assert detector.detect("123 456 !!! ---").language == "und"
    assert detector.detect("").language == "und"


def test_sample_is_bounded_and_includes_the_middle() -> None:
    detector = LanguageDetector(sample_chars=300)
    text = "A" * 1000 + "ب" * 1000
    sample = detector.sample(text)
    assert len(sample) <= 301 and "ب" in sample and "A" in sample
    assert detector.sample("قصير") == "قصير"


def test_model_is_not_loaded_before_first_use() -> None:
    detector = LanguageDetector()
    assert detector._identifier is None
    detector.detect("نص عربي")
    assert detector._identifier is not None
