"""Enricher contract: copies the article, never raises, offsets always point at the text (property test)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from processors.enrich import Enricher
from processors.enrich.config import DEFAULT_GAZETTEER_DIR
from processors.errors import ConfigError
from processors.records import EnrichedArticle

from .conftest import make_article

ARABIC_WORDS = [
    "دمشق",
    "بالحسكة",
    "للحسكة",
    "وزارة",
    "الصحة",
    "الرئيس",
    "بشار",
    "الأسد",
    "مقتل",
    "خمسة",
    "عشر",
    "جنديين",
    "غارة",
    "جوية",
    "أمس",
    "فجر",
    "اليوم",
    "12",
    "١٢",
    "نوفمبر",
    "تشرين",
    "الثاني",
    "قاعدة",
    "“الإمام",
    "علي”",
    "،",
    ".",
    "مُسيّرة",
    "ـــ",
    "ﻻ",
    "على",
    "قتيلاً",
    "و40",
    "جريحاً",
    "منذ",
    "ثلاثة",
    "أيام",
    "\n",
    "🙂",
    "ABC",
]

texts = st.one_of(
    st.text(max_size=300),
    st.lists(st.sampled_from(ARABIC_WORDS), max_size=80).map(" ".join),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(title=texts, text=texts)
def test_never_raises_and_offsets_point_at_the_text(enricher, title, text):
    result = enricher.enrich(make_article(text, title=title))
    assert result.warnings == []
    for items, attribute in ((result.entities, "text"), (result.events, "trigger"), (result.dates, "text")):
        for item in items:
            field = title if item.field == "title" else text
            assert 0 <= item.start < item.end <= len(field)
            assert field[item.start : item.end] == getattr(item, attribute)
    for place in result.places:
        assert place.lat is not None and -90 <= place.lat <= 90


def test_copies_every_field_of_the_article(enrich):
    article = make_article("غارة على دمشق أمس.", title="عنوان", source_country="SY")
    enriched = enrich("غارة على دمشق أمس.", title="عنوان", source_country="SY")
    assert isinstance(enriched, EnrichedArticle)
    for name, value in article.model_dump().items():
        copied = getattr(enriched, name)
        assert (copied.model_dump() if name == "dedup" else copied) == value
    assert EnrichedArticle.model_validate_json(enriched.model_dump_json()).entities == enriched.entities


def _models(value: object) -> list[BaseModel]:
    if isinstance(value, BaseModel):
        return [value] + [m for item in value.__dict__.values() for m in _models(item)]
    return [m for item in value for m in _models(item)] if isinstance(value, list) else []


def test_records_built_without_validation_are_what_validation_gives(enrich):
    text = "قُتل خمسة أشخاص في غارة جوية على إدلب أمس، وقال وزير الخارجية أيمن الصفدي في عمّان يوم 12 نوفمبر."
    enriched = enrich(text, title="غارة على إدلب ودمشق", source_country="SY")
    assert enriched.entities and enriched.places and enriched.events and enriched.dates
    for built in _models([enriched.entities, enriched.places, enriched.events, enriched.dates]):
        validated = type(built).model_validate(built.model_dump())
        assert validated.__dict__ == built.__dict__
        assert [type(v) for v in validated.__dict__.values()] == [type(v) for v in built.__dict__.values()]
        # Only the fields the extractors give count as set (a place's mentions are added after it is made).
        given = type(built).model_validate(built.model_dump(include=built.model_fields_set))
        assert given.model_fields_set == built.model_fields_set
        assert built.__pydantic_extra__ is None and built.__pydantic_private__ is None


def test_output_matches_the_contract_shapes(enrich):
    enriched = enrich("قُتل خمسة أشخاص في غارة جوية على إدلب أمس.", title="غارة على إدلب")
    line = enriched.model_dump(mode="json")
    assert set(line["entities"][0]) >= {"text", "type", "start", "end", "field"}
    assert set(line["places"][0]) >= {"name", "name_en", "country_code", "admin1", "lat", "lon", "geonames_id"}
    assert set(line["events"][0]) >= {"type", "trigger", "start", "end"}
    assert line["casualties"] == {"killed": 5, "injured": None}
    assert set(line["dates"][0]) >= {"text", "value", "start", "end"}


def test_no_published_date_means_no_relative_dates(enricher):
    article = make_article("وقع الهجوم أمس في 12 نوفمبر 2024.").model_copy(update={"published_at": None})
    dates = enricher.enrich(article).dates
    assert [d.value for d in dates] == ["2024-11-12"]


def test_a_user_can_extend_the_gazetteer(tmp_path: Path):
    target = tmp_path / "gazetteers"
    shutil.copytree(DEFAULT_GAZETTEER_DIR, target)
    places = target / "places.yaml"
    places.write_text(
        places.read_text(encoding="utf-8").replace(
            "places:\n",
            "places:\n  - {ar: [قرية الاختبار الجديدة], en: Test Village, cc: SY, lat: 35.0, lon: 38.0, kind: city}\n",
            1,
        ),
        encoding="utf-8",
    )
    result = Enricher(target).enrich(make_article("وصل الوفد إلى قرية الاختبار الجديدة."))
    assert [p.name_en for p in result.places] == ["Test Village"]


@pytest.mark.parametrize(
    ("content", "message"),
    [("places: [\n", "cannot read"), ("places: [{ar: [x]}]\n", "invalid gazetteer")],
)
def test_bad_gazetteer_is_a_clear_config_error(tmp_path: Path, content, message):
    target = tmp_path / "gazetteers"
    shutil.copytree(DEFAULT_GAZETTEER_DIR, target)
    (target / "places.yaml").write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        Enricher(target)
