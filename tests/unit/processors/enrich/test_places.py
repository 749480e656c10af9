"""Places: gazetteer matching with clitics and spelling variants, and context resolution of homonyms."""

from __future__ import annotations

import pytest

from processors.enrich.gazetteer import haversine_km


def _place(result, name_en_part: str):
    return next(p for p in result.places if name_en_part in (p.name_en or ""))


@pytest.mark.parametrize(
    ("text", "name_en", "country"),
    [
        ("قصفت الطائرات مواقع في الخرطوم صباحا.", "Khartoum", "SD"),
        ("وصلت تعزيزات إلى البوكمال على الحدود.", "Abu Kamal", "SY"),
        ("هجوم على قاعدة في الشدادي بريف الحسكة.", "Shaddadi", "SY"),
        ("اقتحمت القوات مدينة نابلس فجر اليوم.", "Nablus", "PS"),
        ("اشتباكات قرب بلدوين وسط الصومال.", "Beledweyne", "SO"),
        ("دعا حاكم إقليم هيران في الصومال السكان إلى الهدوء.", "Hiran", "SO"),
    ],
)
def test_gaps_of_the_packaged_data_resolve(enrich, text, name_en, country):
    place = _place(enrich(text), name_en)
    assert place.country_code == country
    assert place.lat is not None and place.lon is not None


@pytest.mark.parametrize("glued", ["ودمشق", "فدمشق", "بدمشق", "لدمشق", "كدمشق", "وبدمشق"])
def test_proclitics_glued_to_a_name(enrich, glued):
    result = enrich(f"عاد الوفد {glued} أمس.")
    loc = [e for e in result.entities if e.type == "LOC"]
    assert [e.text for e in loc] == ["دمشق"]
    assert _place(result, "Damascus").country_code == "SY"


@pytest.mark.parametrize("glued", ["والحسكة", "بالحسكة", "للحسكة", "فالحسكة"])
def test_article_clitics_and_lam_form(enrich, glued):
    result = enrich(f"وصلت التعزيزات {glued} اليوم.")
    assert [e.normalized for e in result.entities if e.type == "LOC"] == ["الحسكه"]
    assert _place(result, "Hasakah").country_code == "SY"


def test_spelling_variants_of_alef_ya_ta_marbuta(enrich):
    for variant in ("ادلب", "إدلب", "أدلب"):
        assert _place(enrich(f"غارات على {variant}."), "Idlib").country_code == "SY"
    assert _place(enrich("قصف على مدينه غزه"), "Gaza").country_code == "PS"


def test_a_name_inside_a_longer_word_is_not_a_place(enrich):
    result = enrich("أكدت المصادر الإيرانية والسورية ذلك.")
    assert result.places == []


def test_tripoli_follows_the_context(enrich):
    libya = enrich("اشتباكات في طرابلس بين فصائل ليبية، وقالت حكومة ليبيا إن الوضع هادئ.")
    lebanon = enrich("غارة قرب طرابلس في شمال لبنان.")
    assert _place(libya, "Tripoli").country_code == "LY"
    assert _place(lebanon, "Tripoli").country_code == "LB"


def test_source_country_breaks_ties(enrich):
    assert _place(enrich("وصل الوفد إلى طرابلس مساء أمس.", source_country="LY"), "Tripoli").country_code == "LY"


def test_coordinates_of_curated_cities_are_right(enrich):
    khartoum = _place(enrich("الخرطوم"), "Khartoum")
    assert haversine_km(khartoum.lat, khartoum.lon, 15.5007, 32.5599) < 5


def test_country_names_from_cldr_and_variants(enrich):
    result = enrich("زار الوزير الولايات المتحدة ثم المملكة العربية السعودية والأردن.")
    assert {p.country_code for p in result.places} == {"US", "SA", "JO"}
    assert all(p.kind == "country" for p in result.places)
