"""Elasticsearch search: the query DSL built from the query model, and results read from a response."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from pipeline.search import SearchQuery
from pipeline.sinks.elasticsearch_search import request_body, result_from_response
from pipeline.sinks.querytext import parse_query

FIXTURE = Path(__file__).resolve().parents[3] / "fixtures" / "es" / "search-response.json"


def test_clauses_become_match_phrase_and_prefix_queries() -> None:
    query = SearchQuery(text='غزة "وقف إطلاق النار" مستش* -رفح')
    body = request_body(query, parse_query(query.text))
    must = body["query"]["bool"]["must"]
    assert must[0]["multi_match"]["query"] == "غزة"
    assert must[0]["multi_match"]["fields"][0] == "title^4"
    assert must[1]["multi_match"] == {
        "query": "وقف اطلاق النار",
        "type": "phrase",
        "fields": ["title.exact^4", "text.exact"],
    }
    prefixes = {next(iter(q["prefix"].values()))["value"] for q in must[2]["bool"]["should"]}
    assert {"مستش", "المستش", "والمستش"} <= prefixes
    assert body["query"]["bool"]["must_not"][0]["multi_match"]["query"] == "رفح"
    assert body["sort"][0] == "_score"


def test_or_groups_and_filters() -> None:
    query = SearchQuery(
        text="لبنان OR سوريا",
        sources=["bbc"],
        countries=["lb"],
        places=["بيروت"],
        persons=["نبيه برّي"],
        since=datetime(2024, 1, 1, tzinfo=UTC),
        sort="date",
    )
    body = request_body(query, parse_query(query.text))
    group = body["query"]["bool"]["must"][0]["bool"]
    assert [q["multi_match"]["query"] for q in group["should"]] == ["لبنان", "سوريا"]
    filters = body["query"]["bool"]["filter"]
    assert {"terms": {"source": ["bbc"]}} in filters
    assert {"terms": {"country_codes": ["LB"]}} in filters
    assert {"terms": {"places.name.norm": ["بيروت"]}} in filters
    assert {"terms": {"persons.norm": ["نبيه بري"]}} in filters
    assert {"range": {"published_at": {"gte": "2024-01-01T00:00:00+00:00"}}} in filters
    assert body["sort"][0] == {"published_at": {"order": "desc", "missing": "_last"}}
    assert body["aggs"]["place"] == {"terms": {"field": "places.name", "size": 10}}
    assert body["track_total_hits"] is True


def test_result_from_a_response_keeps_hostile_titles_as_plain_text() -> None:
    parsed = parse_query("غزة")
    result = result_from_response(json.loads(FIXTURE.read_text("utf-8")), parsed)
    assert result.backend == "elasticsearch"
    assert result.total == 1
    hit = result.hits[0]
    assert hit.title_highlight[0] == ("<img src=x onerror=alert(1)> قصف على ", False)
    assert ("غزة", True) in hit.title_highlight
    assert hit.places[0].lat == 31.5
    assert hit.reported_count == 2
    assert [(v.value, v.count) for v in result.facets["place"]] == [("غزة", 1)]
