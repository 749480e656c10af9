"""Embedded store (index side): an article made ready to store (document, JSON, content hash, FTS text, tags).

Built before the batch's transaction (see ``embedded``); nothing here touches the database.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pipeline.sinks.base import Rejection
from pipeline.sinks.documents import stable_json, to_document, volatile_json, with_reported
from pipeline.sinks.embedded_schema import fts_values
from processors.records import EnrichedArticle, json_merged

ITEM_ERRORS = (UnicodeError, ValueError, TypeError, OverflowError, sqlite3.DataError, sqlite3.IntegrityError)


def document_tags(doc: dict[str, Any]) -> list[tuple[str, str]]:
    """(facet, display value) pairs of a document: what filters match and facets count."""
    tags = [("source", doc["source"])]
    tags += [("country", code) for code in doc["country_codes"]]
    tags += [("place", place["name"]) for place in doc["places"]]
    tags += [("person", name) for name in doc["persons"]]
    tags += [("organization", name) for name in doc["organizations"]]
    tags += [("event_type", name) for name in doc["event_types"]]
    return tags


def timestamp(iso: str | None) -> int | None:
    return int(datetime.fromisoformat(iso).timestamp()) if iso else None


@dataclass
class Item:
    """An article ready to store: its document, the document's JSON (UTF-8), and the text its FTS row holds."""

    article: EnrichedArticle
    document: dict[str, Any]
    body: bytes
    fts: tuple[str, str]
    digest: str = ""

    @classmethod
    def of(cls, article: EnrichedArticle) -> Item:
        document = to_document(article)
        document = with_reported(document, document["reported_by"])
        # lone surrogates and other unencodable text fail here, before SQLite; the stable part is encoded once,
        # for the content hash and the stored JSON (the same fields; the volatile ones come last)
        stable, volatile = stable_json(document), volatile_json(document)
        body = json_merged(stable, volatile)
        digest = hashlib.sha256(stable).hexdigest()
        return cls(article, document, body, fts_values(document), digest)


def duplicate_of(doc: dict[str, Any]) -> str | None:
    return doc["dedup"]["duplicate_of"] if doc["dedup"]["status"] != "unique" else None


def built(articles: list[EnrichedArticle], rejections: list[Rejection]) -> list[Item]:
    """The articles' items, in order; an article that cannot be stored becomes a rejection instead."""
    items = []
    for article in articles:
        try:
            items.append(Item.of(article))
        except ITEM_ERRORS as exc:
            rejections.append(rejection(article, exc))
    return items


def as_reported(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """An orphan duplicate document as reported_by entries: itself, then whatever it had gathered."""
    own = {"id": doc["id"], "source": doc["source"], "url": doc["url"], "published_at": doc["published_at"]}
    return [own, *(doc.get("reported_by") or [])]


def rejection(article: EnrichedArticle, exc: Exception) -> Rejection:
    # ensure_ascii escapes lone surrogates, so even the text that could not be stored is kept whole
    document = json.dumps(article.model_dump(mode="json"), ensure_ascii=True)
    return Rejection(article_id=article.id, reason=f"{type(exc).__name__}: {exc}", document=document)
