"""Casualties: digits, Arabic-Indic digits, number words, duals, tolls; vague amounts are not numbers."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(
    ("text", "killed", "injured"),
    [
        ("أسفرت الغارة عن مقتل 5 أشخاص وإصابة 12 آخرين.", 5, 12),
        ("أسفرت الغارة عن مقتل ٧ أشخاص.", 7, None),
        ("قتل ثلاثة مدنيين في القصف.", 3, None),
        ("أعلنت الوزارة مقتل خمسة عشر عنصرا.", 15, None),
        ("لقي أحد عشر شخصا حتفهم.", 11, None),
        ("قتل جنديان في الهجوم.", 2, None),
        ("أسفر الانفجار عن مقتل مدنيين اثنين.", 2, None),
        ("أدى الكمين إلى مقتل عنصرين من الشرطة.", 2, None),
        ("ارتفاع الحصيلة إلى 15 قتيلاً و40 جريحاً.", 15, 40),
        ("سقط العشرات بين قتيل وجريح.", None, None),
        ("عقد الوزير اجتماعا مع نظيره لبحث التعاون.", None, None),
        ("مقتل طفل وإصابة والدته بجروح.", 1, None),
        ("ارتفع عدد الشهداء إلى ما لا يقل عن 23 شهيدا.", 23, None),
        ("أصيب 4 جنود بجروح طفيفة.", None, 4),
        ("مقتل وإصابة 20 شخصا.", None, None),
        ("خلفت الحرب أكثر من 150 ألف قتيل.", 150000, None),
        ("أسفر الزلزال عن مقتل 3 آلاف شخص وإصابة 12 ألف آخرين.", 3000, 12000),
    ],
)
def test_counts(enrich, text, killed, injured):
    result = enrich(text)
    assert (result.casualties.killed, result.casualties.injured) == (killed, injured)


def test_title_counts_too(enrich):
    assert enrich("تفاصيل لاحقا.", title="مقتل 3 جنود في هجوم").casualties.killed == 3
