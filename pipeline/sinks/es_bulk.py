"""Elasticsearch bulk writes: per-item outcomes, bounded exponential backoff, transient vs permanent failures.

Written over ``client.bulk`` rather than ``helpers.async_streaming_bulk`` because the sink needs every item's
fate: 429 and 5xx items are retried, a missing index is created, a missing original turns a duplicate's update
into its own document, and any other 4xx item becomes a ``Rejection``. A whole request that cannot reach the
cluster (refused, timeout, 429, 5xx) is retried; when the budget is spent ``TransientError`` is raised and the
agent retries the whole batch later (idempotent writes make that safe).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from elasticsearch import ApiError, AsyncElasticsearch
from elasticsearch import ConnectionError as EsConnectionError
from elasticsearch import ConnectionTimeout as EsConnectionTimeout

from processors.errors import TransientError

log = logging.getLogger(__name__)
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class Backoff:
    """Bounded exponential backoff: ``attempts`` tries, waits initial·factorⁿ capped at ``maximum`` seconds."""

    attempts: int = 5
    initial: float = 0.5
    factor: float = 2.0
    maximum: float = 8.0

    def delays(self) -> list[float]:
        return [min(self.maximum, self.initial * self.factor**n) for n in range(self.attempts - 1)]


@dataclass
class Action:
    """One bulk item: its metadata line, its body (None for delete), and whom it concerns."""

    op: str  # index | update | delete | create
    index: str
    doc_id: str
    body: dict[str, Any] | None
    article_id: str
    fallback: Action | None = None  # what to do instead when an update finds no document (404)

    def lines(self) -> list[dict[str, Any]]:
        head = {self.op: {"_index": self.index, "_id": self.doc_id}}
        return [head] if self.body is None else [head, self.body]


@dataclass
class ItemFailure:
    action: Action
    status: int
    error_type: str
    reason: str


@dataclass
class BulkOutcome:
    failures: list[ItemFailure] = field(default_factory=list)


CreateIndex = Callable[[str], Awaitable[None]]


class BulkWriter:
    def __init__(self, client: AsyncElasticsearch, backoff: Backoff, create_index: CreateIndex) -> None:
        self.client = client
        self.backoff = backoff
        self.create_index = create_index

    async def request(self, call: Callable[[], Awaitable[Any]], what: str) -> Any:
        """Run one request with the backoff budget; raise ``TransientError`` when it is spent."""
        delays = self.backoff.delays()
        for attempt in range(len(delays) + 1):
            try:
                return await call()
            except (EsConnectionError, EsConnectionTimeout) as exc:
                problem = f"{what}: cannot reach Elasticsearch ({type(exc).__name__}: {exc})"
            except ApiError as exc:
                if exc.meta.status not in RETRY_STATUSES:
                    raise
                problem = f"{what}: Elasticsearch answered {exc.meta.status} ({exc.message})"
            if attempt < len(delays):
                log.warning("%s; retrying in %.1fs", problem, delays[attempt])
                await asyncio.sleep(delays[attempt])
        raise TransientError(problem, stage="index")

    async def write(self, actions: list[Action]) -> BulkOutcome:
        """Send ``actions``; retry what is retryable; return the permanent per-item failures."""
        outcome = BulkOutcome()
        pending = actions
        delays = self.backoff.delays()
        transient: list[ItemFailure] = []
        for attempt in range(len(delays) + 1):
            pending, transient = await self._send(pending, outcome)
            if not pending:
                return outcome
            if attempt < len(delays):
                await asyncio.sleep(delays[attempt])
        reasons = sorted({f"{f.status} {f.error_type}" for f in transient}) or ["recovery did not settle"]
        raise TransientError(f"bulk items still failing after retries: {', '.join(reasons)}", stage="index")

    async def _send(self, actions: list[Action], outcome: BulkOutcome) -> tuple[list[Action], list[ItemFailure]]:
        """One bulk request: (actions to send again, the transient failures among them)."""
        operations = [line for action in actions for line in action.lines()]
        response = await self.request(lambda: self.client.bulk(operations=operations), "bulk")
        retry: list[Action] = []
        transient: list[ItemFailure] = []
        for action, item in zip(actions, response["items"], strict=True):
            result = next(iter(item.values()))
            status = int(result.get("status", 500))
            if status < 300 or (action.op == "delete" and status == 404):
                continue
            error = result.get("error") or {}
            failure = ItemFailure(action, status, error.get("type", "unknown"), error.get("reason", ""))
            next_action = await self._recover(failure)
            if next_action is not None:
                retry.append(next_action)
                if next_action is action:
                    transient.append(failure)
            else:
                outcome.failures.append(failure)
        return retry, transient

    async def _recover(self, failure: ItemFailure) -> Action | None:
        """The action to retry for a failed item, or None when the failure is permanent."""
        action = failure.action
        if failure.status in RETRY_STATUSES:
            return action
        if failure.error_type == "index_not_found_exception":
            await self.create_index(action.index)
            return action
        if failure.error_type == "document_missing_exception" and action.fallback is not None:
            return action.fallback
        return None


def failure_reason(failure: ItemFailure) -> str:
    return f"elasticsearch {failure.status} {failure.error_type}: {failure.reason}"[:2000]


def document_json(action: Action) -> str:
    body = action.body or {}
    document = body.get("upsert") or body.get("doc") or body.get("params", {}).get("doc") or body
    return json.dumps(document, ensure_ascii=True)
