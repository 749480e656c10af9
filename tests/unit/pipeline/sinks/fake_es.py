"""A local HTTP server on 127.0.0.1 that answers as Elasticsearch documents its APIs (for the sink's tests).

It keeps documents per index, applies the sink's two painless scripts by their documented meaning (replace
keeping reported_by / append entries by id, ``ctx.op = 'noop'`` when nothing changes), answers ``ids`` and
``terms`` searches over an alias, and can be told to fail: whole requests (429, 503) or single bulk items.
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from pipeline.sinks.elasticsearch import APPEND_SCRIPT, UPSERT_SCRIPT

HEADERS = {"X-Elastic-Product": "Elasticsearch", "Content-Type": "application/vnd.elasticsearch+json;compatible-with=9"}


def error_body(status: int, kind: str, reason: str) -> dict[str, Any]:
    return {
        "error": {"root_cause": [{"type": kind, "reason": reason}], "type": kind, "reason": reason},
        "status": status,
    }


@dataclass
class FakeElasticsearch:
    indices: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    templates: dict[str, dict[str, Any]] = field(default_factory=dict)
    request_failures: deque[int] = field(default_factory=deque)  # statuses for the next whole requests
    item_failures: dict[str, deque[tuple[int, str]]] = field(default_factory=dict)  # _id → (status, type)
    auto_create: bool = True
    bulk_requests: int = 0
    log: list[tuple[str, str]] = field(default_factory=list)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        return app

    def json(self, body: Any, status: int = 200) -> web.Response:
        return web.Response(text=json.dumps(body), status=status, headers=HEADERS)

    def alias_members(self, name: str) -> list[str]:
        if name in self.indices:
            return [name]
        return [index for index in self.indices if self._aliases(index) and name in self._aliases(index)]

    def _aliases(self, index: str) -> set[str]:
        for template in self.templates.values():
            prefix = template["index_patterns"][0].rstrip("*")
            if index.startswith(prefix):
                return set(template["template"]["aliases"])
        return set()

    def documents(self, alias: str) -> dict[str, dict[str, Any]]:
        return {doc_id: doc for index in self.alias_members(alias) for doc_id, doc in self.indices[index].items()}

    async def handle(self, request: web.Request) -> web.Response:
        path = request.path.strip("/")
        self.log.append((request.method, path))
        if self.request_failures:
            status = self.request_failures.popleft()
            return self.json(error_body(status, "es_rejected_execution_exception", "queue full"), status)
        if path == "":
            return self.json({"version": {"number": "9.1.0"}, "tagline": "You Know, for Search"})
        if path.startswith("_index_template/"):
            self.templates[path.split("/", 1)[1]] = await request.json()
            return self.json({"acknowledged": True})
        if path == "_bulk":
            return self.json(self.bulk(await request.text()))
        if path.endswith("/_search"):
            return self.search(path.rsplit("/", 1)[0], await request.json())
        if request.method == "PUT" and "/" not in path:
            return self.create(path)
        return self.json(error_body(404, "not_implemented", path), 404)

    def create(self, index: str) -> web.Response:
        if index in self.indices:
            return self.json(error_body(400, "resource_already_exists_exception", index), 400)
        self.indices[index] = {}
        return self.json({"acknowledged": True, "index": index})

    def search(self, alias: str, body: dict[str, Any]) -> web.Response:
        docs = self.documents(alias)
        ids: set[str] = set()
        pointing: set[str] = set()
        for clause in body["query"]["bool"]["should"]:
            ids |= set(clause.get("ids", {}).get("values", []))
            pointing |= set(clause.get("terms", {}).get("dedup.duplicate_of", []))
        hits = []
        for index in self.alias_members(alias):
            for doc_id, doc in self.indices[index].items():
                if doc_id in ids or (doc.get("dedup") or {}).get("duplicate_of") in pointing:
                    hits.append({"_index": index, "_id": doc_id, "_source": doc})
        return self.json({"hits": {"total": {"value": len(hits)}, "hits": hits}, "docs_seen": len(docs)})

    def bulk(self, text: str) -> dict[str, Any]:
        self.bulk_requests += 1
        lines = [json.loads(line) for line in text.splitlines() if line.strip()]
        items = []
        position = 0
        while position < len(lines):
            op, meta = next(iter(lines[position].items()))
            body = None if op == "delete" else lines[position + 1]
            position += 1 if op == "delete" else 2
            items.append({op: {"_index": meta["_index"], "_id": meta["_id"], **self.apply(op, meta, body)}})
        return {"took": 1, "errors": any(next(iter(i.values()))["status"] >= 300 for i in items), "items": items}

    def apply(self, op: str, meta: dict[str, str], body: dict[str, Any] | None) -> dict[str, Any]:
        index, doc_id = meta["_index"], meta["_id"]
        queued = self.item_failures.get(doc_id)
        if queued:
            status, kind = queued.popleft()
            return {"status": status, "error": {"type": kind, "reason": f"injected {kind}"}}
        if index not in self.indices:
            if not self.auto_create:
                return {"status": 404, "error": {"type": "index_not_found_exception", "reason": index}}
            self.indices[index] = {}
        docs = self.indices[index]
        if op == "delete":
            return {"status": 200 if docs.pop(doc_id, None) else 404, "result": "deleted"}
        assert op == "update" and body is not None
        return self.update(docs, doc_id, body)

    def update(self, docs: dict[str, dict[str, Any]], doc_id: str, body: dict[str, Any]) -> dict[str, Any]:
        script, params = body["script"]["source"], body["script"]["params"]
        if doc_id not in docs:
            if "upsert" not in body:
                return {"status": 404, "error": {"type": "document_missing_exception", "reason": doc_id}}
            docs[doc_id] = body["upsert"]
            return {"status": 201, "result": "created"}
        old = docs[doc_id]
        if script == UPSERT_SCRIPT:
            new = replace_keeping_reported(old, params["doc"])
        elif script == APPEND_SCRIPT:
            new = append_reported(old, params["entries"])
        else:
            return {"status": 400, "error": {"type": "script_exception", "reason": "unknown script"}}
        if new is None:
            return {"status": 200, "result": "noop"}
        docs[doc_id] = new
        return {"status": 200, "result": "updated"}


def _counts(doc: dict[str, Any]) -> dict[str, Any]:
    doc["reported_count"] = len(doc["reported_by"]) + 1
    doc["outlet_count"] = len({doc["source"], *(r["source"] for r in doc["reported_by"])})
    return doc


def replace_keeping_reported(old: dict[str, Any], doc: dict[str, Any]) -> dict[str, Any] | None:
    seen = {doc["id"]}
    merged = []
    for entry in [*(old.get("reported_by") or []), *doc["reported_by"]]:
        if entry["id"] not in seen:
            seen.add(entry["id"])
            merged.append(entry)
    if old.get("content_hash") == doc["content_hash"] and len(merged) == len(old.get("reported_by") or []):
        return None
    return _counts({**doc, "reported_by": merged})


def append_reported(old: dict[str, Any], entries: list[dict[str, Any]]) -> dict[str, Any] | None:
    current = list(old.get("reported_by") or [])
    seen = {old["id"], *(r["id"] for r in current)}
    added = [e for e in entries if e["id"] not in seen and not seen.add(e["id"])]  # type: ignore[func-returns-value]
    if not added:
        return None
    return _counts({**old, "reported_by": current + added})


async def start(fake: FakeElasticsearch) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(fake.app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"
