"""The index template: strict mapping covers every document field; analysis uses documented built-ins."""

from __future__ import annotations

from typing import Any

from pipeline.sinks.documents import MAX_KEYWORD_CHARS, content_hash, to_document
from pipeline.sinks.elasticsearch import index_template
from tests.unit.pipeline.sinks.factory import make_article

# Built-in names, from the Elasticsearch reference (text analysis: tokenizers, token filters, normalizers).
BUILTIN_TOKENIZERS = {"standard"}
BUILTIN_FILTERS = {"lowercase", "decimal_digit", "arabic_normalization"}
FILTER_TYPES = {"stop", "stemmer", "stemmer_override", "keyword_marker"}
NORMALIZER_FILTERS = {"arabic_normalization", "decimal_digit", "lowercase"}  # per-character filters only
LUCENE_TERM_BYTES = 32_766


def mapping() -> dict[str, Any]:
    return index_template("akhbar-articles")["template"]["mappings"]


def unmapped(document: dict[str, Any], properties: dict[str, Any], prefix: str = "") -> list[str]:
    missing = []
    for key, value in document.items():
        field = properties.get(key)
        if field is None:
            missing.append(prefix + key)
        elif field.get("enabled") is False or field.get("type") == "geo_point":
            continue
        elif "properties" in field:
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, dict):
                    missing += unmapped(item, field["properties"], f"{prefix}{key}.")
    return missing


def test_every_document_field_is_mapped() -> None:
    article = make_article(persons=["مايكل كوريلا"], organizations=["القيادة المركزية"], events=["airstrike"], killed=3)
    document = to_document(article)
    document["content_hash"] = content_hash(document)
    document["reported_by"] = [{"id": "x", "source": "b", "url": "https://b.com", "published_at": None}]
    assert mapping()["dynamic"] == "strict"
    assert unmapped(document, mapping()["properties"]) == []


def test_keyword_fields_stay_under_the_lucene_term_limit() -> None:
    def keywords(properties: dict[str, Any]) -> list[dict[str, Any]]:
        found = []
        for field in properties.values():
            if field.get("type") == "keyword":
                found.append(field)
            found += keywords(field.get("properties", {})) + keywords(field.get("fields", {}))
        return found

    for field in keywords(mapping()["properties"]):
        assert 4 * field["ignore_above"] <= LUCENE_TERM_BYTES  # UTF-8 uses at most 4 bytes a character
    assert 4 * MAX_KEYWORD_CHARS <= LUCENE_TERM_BYTES


def test_long_entity_values_are_cut() -> None:
    document = to_document(make_article(persons=["ا" * 50_000]))
    assert len(document["persons"][0]) == MAX_KEYWORD_CHARS


def test_analysis_uses_documented_components() -> None:
    analysis = index_template("akhbar-articles")["template"]["settings"]["analysis"]
    custom_filters = analysis["filter"]
    assert {f["type"] for f in custom_filters.values()} <= FILTER_TYPES
    assert custom_filters["akhbar_arabic_stemmer"] == {"type": "stemmer", "language": "arabic"}
    assert custom_filters["akhbar_arabic_stop"] == {"type": "stop", "stopwords": "_arabic_"}
    for analyzer in analysis["analyzer"].values():
        assert analyzer["tokenizer"] in BUILTIN_TOKENIZERS
        assert set(analyzer["filter"]) <= BUILTIN_FILTERS | set(custom_filters)
    # the built-in arabic chain, in order: lowercase, decimal_digit, stop, normalization, (marker), stemmer
    chain = analysis["analyzer"]["akhbar_arabic"]["filter"]
    assert chain[:4] == ["lowercase", "decimal_digit", "akhbar_arabic_stop", "arabic_normalization"]
    assert chain[-1] == "akhbar_arabic_stemmer"
    assert set(analysis["normalizer"]["akhbar_keyword"]["filter"]) <= NORMALIZER_FILTERS


def test_text_fields_have_unstemmed_and_keyword_subfields() -> None:
    properties = mapping()["properties"]
    assert properties["title"]["analyzer"] == "akhbar_arabic"
    assert properties["title"]["fields"]["exact"]["analyzer"] == "akhbar_arabic_exact"
    assert properties["title"]["fields"]["keyword"]["type"] == "keyword"
    assert properties["text"]["fields"]["exact"]["analyzer"] == "akhbar_arabic_exact"
    assert properties["places"]["properties"]["location"]["type"] == "geo_point"
    for name in ("persons", "organizations", "locations"):
        assert properties[name]["type"] == "keyword"
        assert properties[name]["fields"]["norm"]["normalizer"] == "akhbar_keyword"
    assert properties["casualties"]["properties"]["killed"]["type"] == "integer"
