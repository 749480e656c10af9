"""Elasticsearch search: the query model as query DSL over the alias (matching, filters, facets, sort).

The user's words never reach a query-string parser: each clause becomes a ``match``/``match_phrase``/``prefix``
query. Highlights are computed from ``_source`` with the same highlighter as the embedded store, so both
backends return identical plain-text segments.
"""

from __future__ import annotations

from typing import Any

from elasticsearch import NotFoundError

from pipeline.search import SearchQuery, SearchResult, hit_from_document
from pipeline.settings import Settings
from pipeline.sinks.es_bulk import Backoff, BulkWriter
from pipeline.sinks.highlight import highlight_title, snippet
from pipeline.sinks.querytext import Clause, ParsedQuery, parse_query
from processors.normalize import normalize_arabic

FACET_FIELDS = {
    "source": "source",
    "country": "country_codes",
    "place": "places.name",
    "person": "persons",
    "organization": "organizations",
    "event_type": "event_types",
}
FILTER_FIELDS = {
    "source": "source",
    "country": "country_codes",
    "place": "places.name.norm",
    "person": "persons.norm",
    "organization": "organizations.norm",
    "event_type": "event_types",
}
PROCLITICS = ("", "ال", "و", "وال", "بال", "كال", "فال", "لل", "ب", "ل", "ف", "ك")
SOURCE_EXCLUDES = ["entities", "events", "dates", "content_hash"]


def clause_query(clause: Clause) -> dict[str, Any]:
    if clause.kind == "phrase":
        text = " ".join(clause.words)
        return {"multi_match": {"query": text, "type": "phrase", "fields": ["title.exact^4", "text.exact"]}}
    if clause.kind == "prefix":
        keys = [p + clause.words[0] for p in PROCLITICS]
        should = [{"prefix": {field: {"value": key}}} for key in keys for field in ("title.exact", "text.exact")]
        return {"bool": {"should": should, "minimum_should_match": 1}}
    return {
        "multi_match": {
            "query": clause.text,
            "type": "most_fields",
            "fields": ["title^4", "text", "title.exact^2", "text.exact^0.5"],
        }
    }


def text_query(parsed: ParsedQuery) -> dict[str, Any]:
    must = []
    for group in parsed.must:
        queries = [clause_query(clause) for clause in group]
        must.append(queries[0] if len(queries) == 1 else {"bool": {"should": queries, "minimum_should_match": 1}})
    return {"must": must, "must_not": [clause_query(clause) for clause in parsed.must_not]}


def filters(query: SearchQuery) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for facet, values in query.filters().items():
        cleaned = [v.strip() for v in values if v.strip()]
        if not cleaned:
            continue
        if facet == "country":
            cleaned = [v.upper() for v in cleaned]
        elif FILTER_FIELDS[facet].endswith(".norm"):
            cleaned = [normalize_arabic(v) for v in cleaned]
        found.append({"terms": {FILTER_FIELDS[facet]: cleaned}})
    dates: dict[str, str] = {}
    if query.since:
        dates["gte"] = query.since.isoformat()
    if query.until:
        dates["lt"] = query.until.isoformat()
    if dates:
        found.append({"range": {"published_at": dates}})
    return found


def request_body(query: SearchQuery, parsed: ParsedQuery) -> dict[str, Any]:
    """The search request (exposed for tests: what is asked of Elasticsearch)."""
    bool_query = {**text_query(parsed), "filter": filters(query)}
    by_date = [{"published_at": {"order": "desc", "missing": "_last"}}]
    ranked = query.sort == "relevance" and bool(parsed.must)
    return {
        "query": {"bool": bool_query},
        "sort": ["_score", *by_date] if ranked else [*by_date, "_score"],
        "from": query.offset,
        "size": query.limit,
        "track_total_hits": True,
        "aggs": {facet: {"terms": {"field": field, "size": query.facet_size}} for facet, field in FACET_FIELDS.items()}
        if query.facet_size
        else {},
        "_source": {"excludes": SOURCE_EXCLUDES},
    }


def result_from_response(response: dict[str, Any], parsed: ParsedQuery) -> SearchResult:
    hits = []
    for hit in response["hits"]["hits"]:
        document = hit["_source"]
        result = hit_from_document(document, hit.get("_score"))
        result.title_highlight = highlight_title(document.get("title") or "", parsed)
        result.snippet = snippet(document.get("text") or "", parsed)
        hits.append(result)
    facets = {
        facet: [{"value": bucket["key"], "count": bucket["doc_count"]} for bucket in body.get("buckets", [])]
        for facet, body in (response.get("aggregations") or {}).items()
    }
    return SearchResult.model_validate(
        {
            "backend": "elasticsearch",
            "total": response["hits"]["total"]["value"],
            "hits": hits,
            "facets": facets,
            "took_ms": float(response.get("took", 0)),
        }
    )


async def search_elasticsearch(settings: Settings, query: SearchQuery, backoff: Backoff | None = None) -> SearchResult:
    from pipeline.sinks.elasticsearch import make_client

    parsed = parse_query(query.text)
    client = make_client(settings)
    try:
        writer = BulkWriter(client, backoff or Backoff(attempts=3, initial=0.2), lambda name: _never(name))
        body = request_body(query, parsed)
        try:
            response = await writer.request(
                lambda: client.search(index=settings.elasticsearch_alias, body=body), "search"
            )
        except NotFoundError:  # no index behind the alias yet
            return SearchResult(backend="elasticsearch", total=0, hits=[])
        return result_from_response(dict(response), parsed)
    finally:
        await client.close()


async def _never(name: str) -> None:
    raise AssertionError(f"search does not create indices ({name})")
