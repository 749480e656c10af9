"""Elasticsearch sink: monthly indices by published date behind the alias, deterministic ids, scripted merges.

Layout: ``<alias>-YYYY.MM`` (the month of ``published_at``), created from the index template, which also puts
each index behind the read alias (``akhbar-articles``). Every write first asks the alias where the batch's ids
already live (one ``ids`` search): an article keeps its index even if its date changes, so an ``_id`` never
exists twice behind the alias; a duplicate's update goes to the index that holds its original. Recent
placements are also remembered in memory, because a search cannot see documents indexed in the last second.

Writes are scripted upserts: an article replaces its document but keeps the ``reported_by`` entries gathered
there (a redelivered original must not erase them); a duplicate appends itself to its original's
``reported_by`` once (by id). An unchanged article is a no-op, so the same batch twice changes nothing.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from datetime import UTC, datetime
from importlib import resources
from typing import Any

from elasticsearch import AsyncElasticsearch, BadRequestError, NotFoundError
from pydantic_core import to_json

from pipeline.settings import Settings
from pipeline.sinks.base import Rejection, Written, completed, parse_serialized
from pipeline.sinks.documents import content_hash, is_duplicate, reported_entry, to_document
from pipeline.sinks.es_bulk import Action, Backoff, BulkWriter, document_json, failure_reason
from processors.records import EnrichedArticle

TEMPLATE_ALIAS = "akhbar-articles"
LOCATE_FIELDS = ["id", "source", "url", "published_at", "reported_by", "dedup.duplicate_of"]
RECENT_PLACEMENTS = 100_000

# Replace the document, keep reported_by entries already there; no-op when nothing changed.
UPSERT_SCRIPT = """
def doc = params.doc;
def old = ctx._source.reported_by == null ? [] : ctx._source.reported_by;
def seen = new HashSet(); seen.add(doc.id);
def merged = new ArrayList();
for (def r : old) { if (seen.add(r.id)) { merged.add(r); } }
for (def r : doc.reported_by) { if (seen.add(r.id)) { merged.add(r); } }
if (ctx._source.content_hash == doc.content_hash && merged.size() == old.size()) { ctx.op = 'noop'; return; }
def sources = new HashSet(); sources.add(doc.source);
for (def r : merged) { sources.add(r.source); }
ctx._source.clear(); ctx._source.putAll(doc);
ctx._source.reported_by = merged;
ctx._source.reported_count = merged.size() + 1;
ctx._source.outlet_count = sources.size();
"""
# Append reported_by entries not yet there (by id); no-op when all are.
APPEND_SCRIPT = """
if (ctx._source.reported_by == null) { ctx._source.reported_by = new ArrayList(); }
def list = ctx._source.reported_by;
def seen = new HashSet(); seen.add(ctx._source.id);
for (def r : list) { seen.add(r.id); }
def added = 0;
for (def r : params.entries) { if (seen.add(r.id)) { list.add(r); added++; } }
if (added == 0) { ctx.op = 'noop'; return; }
def sources = new HashSet(); sources.add(ctx._source.source);
for (def r : list) { sources.add(r.source); }
ctx._source.reported_count = list.size() + 1;
ctx._source.outlet_count = sources.size();
"""


def make_client(settings: Settings) -> AsyncElasticsearch:
    """The async client; retries are ours (``BulkWriter``), so the transport's own are off."""
    auth: dict[str, Any] = {}
    if settings.elasticsearch_api_key:
        auth["api_key"] = settings.elasticsearch_api_key
    elif settings.elasticsearch_username:
        auth["basic_auth"] = (settings.elasticsearch_username, settings.elasticsearch_password or "")
    if settings.elasticsearch_ca_certs:
        auth["ca_certs"] = str(settings.elasticsearch_ca_certs)
    return AsyncElasticsearch(
        settings.elasticsearch_url,
        verify_certs=settings.elasticsearch_verify_certs,
        max_retries=0,
        retry_on_timeout=False,
        request_timeout=30,
        **auth,
    )


def index_template(alias: str) -> dict[str, Any]:
    """The index template (``es_template.json``) for ``alias``: indices ``<alias>-*``, behind ``alias``."""
    text = resources.files("pipeline.sinks").joinpath("es_template.json").read_text("utf-8")
    template = json.loads(text)
    template["index_patterns"] = [f"{alias}-*"]
    template["template"]["aliases"] = {alias: {}}
    return template


def index_name(alias: str, published_at: str | None) -> str:
    when = datetime.fromisoformat(published_at) if published_at else datetime.now(UTC)
    return f"{alias}-{when:%Y.%m}"


async def create_index(client: AsyncElasticsearch, name: str) -> None:
    """Create ``name`` (the template supplies settings, mappings, alias); already existing is fine."""
    try:
        await client.indices.create(index=name)
    except BadRequestError as exc:
        if exc.error != "resource_already_exists_exception":
            raise


async def apply_template(client: AsyncElasticsearch, alias: str, writer: BulkWriter) -> None:
    """Template, then this month's index (so the alias exists before the first article): idempotent."""
    template = index_template(alias)
    await writer.request(lambda: client.indices.put_index_template(name=alias, body=template), "index template")
    first = index_name(alias, None)
    await writer.request(lambda: create_index(client, first), f"create index {first}")


async def ensure_elasticsearch(settings: Settings, backoff: Backoff | None = None) -> None:
    """Template + alias + first index (the compose setup job and ``open()`` call this)."""
    client = make_client(settings)
    try:
        writer = BulkWriter(client, backoff or Backoff(), lambda name: create_index(client, name))
        await apply_template(client, settings.elasticsearch_alias, writer)
    finally:
        await client.close()


class ElasticsearchSink:
    def __init__(
        self, settings: Settings, client: AsyncElasticsearch | None = None, backoff: Backoff | None = None
    ) -> None:
        self.alias = settings.elasticsearch_alias
        self.client = client or make_client(settings)
        self.writer = BulkWriter(self.client, backoff or Backoff(), lambda name: create_index(self.client, name))
        self._placements: OrderedDict[str, str] = OrderedDict()  # article id → index, most recent last

    async def open(self) -> None:
        await apply_template(self.client, self.alias, self.writer)

    async def close(self) -> None:
        await self.client.close()

    async def write_serialized(self, values: list[bytes]) -> Written:
        """Parsed here: Elasticsearch does the heavy part of indexing in its own processes."""
        docs, written = parse_serialized(values)
        return completed(written, docs, await self.write(docs) if docs else [])

    async def write(self, docs: list[EnrichedArticle]) -> list[Rejection]:
        rejections: list[Rejection] = []
        prepared: list[tuple[EnrichedArticle, dict[str, Any]]] = []
        for article in docs:
            try:
                document = to_document(article)
                to_json(document)  # unencodable text is this item's problem, not the batch's
                prepared.append((article, document))
            except ValueError as exc:
                rejections.append(Rejection(article.id, f"{type(exc).__name__}: {exc}", _article_json(article)))
        if not prepared:
            return rejections
        found = await self._locate(prepared)
        actions = self._plan(prepared, found)
        outcome = await self.writer.write(actions)
        failed = {failure.action.article_id for failure in outcome.failures}
        for failure in outcome.failures:
            rejections.append(
                Rejection(failure.action.article_id, failure_reason(failure), document_json(failure.action))
            )
        for action in actions:
            if action.op == "update" and action.article_id not in failed and action.doc_id == action.article_id:
                self._remember(action.doc_id, action.index)
        return rejections

    async def _locate(self, prepared: list[tuple[EnrichedArticle, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
        """Documents already behind the alias: by id (articles, originals) or pointing at an original here."""
        ids = {article.id for article, _ in prepared}
        ids |= {article.dedup.duplicate_of for article, _ in prepared if is_duplicate(article)}  # type: ignore[misc]
        originals = [article.id for article, _ in prepared if not is_duplicate(article)]
        query = {"bool": {"should": [{"ids": {"values": sorted(ids)}}, {"terms": {"dedup.duplicate_of": originals}}]}}

        async def search() -> Any:
            return await self.client.search(
                index=self.alias, query=query, size=1000, source_includes=LOCATE_FIELDS, ignore_unavailable=True
            )

        try:
            response = await self.writer.request(search, "locate")
        except NotFoundError:  # no index behind the alias yet: nothing is located
            return {}
        return {hit["_id"]: {**hit["_source"], "_index": hit["_index"]} for hit in response["hits"]["hits"]}

    def _where(self, article_id: str, found: dict[str, dict[str, Any]]) -> str | None:
        if article_id in found:
            return str(found[article_id]["_index"])
        return self._placements.get(article_id)

    def _plan(
        self, prepared: list[tuple[EnrichedArticle, dict[str, Any]]], found: dict[str, dict[str, Any]]
    ) -> list[Action]:
        """Bulk actions: originals first (so a duplicate of the same batch finds its original), then duplicates."""
        actions: list[Action] = []
        batch_originals = {article.id: doc for article, doc in prepared if not is_duplicate(article)}
        for article, doc in sorted(prepared, key=lambda pair: is_duplicate(pair[0])):
            if is_duplicate(article):
                actions += self._plan_duplicate(article, doc, found, batch_originals)
            else:
                actions += self._plan_original(doc, found)
        return actions

    def _plan_original(self, doc: dict[str, Any], found: dict[str, dict[str, Any]]) -> list[Action]:
        orphans = [
            d
            for d in found.values()
            if (d.get("dedup") or {}).get("duplicate_of") == doc["id"] and d["id"] != doc["id"]
        ]
        entries = [entry for orphan in orphans for entry in _as_entries(orphan)]
        upsert = _with_hash({**doc, "reported_by": doc["reported_by"] + entries})
        index = self._where(doc["id"], found) or index_name(self.alias, doc["published_at"])
        body = {"script": {"source": UPSERT_SCRIPT, "lang": "painless", "params": {"doc": upsert}}, "upsert": upsert}
        actions = [Action("update", index, doc["id"], body, doc["id"])]
        actions += [Action("delete", o["_index"], o["id"], None, o["id"]) for o in orphans]
        return actions

    def _plan_duplicate(
        self,
        article: EnrichedArticle,
        doc: dict[str, Any],
        found: dict[str, dict[str, Any]],
        batch: dict[str, dict[str, Any]],
    ) -> list[Action]:
        original_id = article.dedup.duplicate_of or ""
        own = self._plan_original(doc, found)[0]
        index = self._where(original_id, found)
        if index is None and original_id in batch:
            index = self._where(original_id, {}) or index_name(self.alias, batch[original_id]["published_at"])
        if index is None:
            return [own]  # the original is not indexed: keep this one as its own document (never lose one)
        earlier = found.get(article.id)  # this duplicate, indexed alone before its original came
        entries = [reported_entry(article), *((earlier or {}).get("reported_by") or [])]
        body = {"script": {"source": APPEND_SCRIPT, "lang": "painless", "params": {"entries": entries}}}
        actions = [Action("update", index, original_id, body, article.id, fallback=own)]
        if earlier is not None:
            actions.append(Action("delete", earlier["_index"], article.id, None, article.id))
        return actions

    def _remember(self, article_id: str, index: str) -> None:
        self._placements[article_id] = index
        self._placements.move_to_end(article_id)
        while len(self._placements) > RECENT_PLACEMENTS:
            self._placements.popitem(last=False)


def _with_hash(doc: dict[str, Any]) -> dict[str, Any]:
    return {**doc, "content_hash": content_hash(doc)}


def _as_entries(doc: dict[str, Any]) -> list[dict[str, Any]]:
    own = {"id": doc["id"], "source": doc["source"], "url": doc["url"], "published_at": doc.get("published_at")}
    return [own, *(doc.get("reported_by") or [])]


def _article_json(article: EnrichedArticle) -> str:
    return json.dumps(article.model_dump(mode="json"), ensure_ascii=True)
