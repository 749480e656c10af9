"""Connectors: per-source state persisted in ``data_dir/connectors`` (validators, seen ids, health).

One JSON file per source, replaced atomically. A restart reads it back, so conditional GETs keep working and
articles already published are not published again. The seen-id memory is bounded (oldest forgotten first);
downstream deduplication by article id covers anything older.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
SEEN_LIMIT = 20_000
UNHEALTHY_AFTER = 5


@dataclass
class Validators:
    """What the last 200 response of one URL looked like."""

    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None


@dataclass
class Health:
    status: str = "new"  # new | ok | failing | unhealthy
    consecutive_failures: int = 0
    last_poll: float | None = None
    last_success: float | None = None
    last_new_article: float | None = None
    last_error: str | None = None
    last_error_at: float | None = None
    unhealthy_since: float | None = None
    interval: float | None = None
    next_poll: float | None = None
    polls: int = 0
    published: int = 0
    last_entries: int = 0
    last_encoding: str | None = None
    last_modified: str | None = None
    last_problems: list[str] = field(default_factory=list)

    def record_success(self, now: float) -> None:
        self.status = "ok"
        self.consecutive_failures = 0
        self.unhealthy_since = None
        self.last_success = now

    def record_failure(self, error: str, now: float) -> None:
        self.consecutive_failures += 1
        self.last_error = error
        self.last_error_at = now
        if self.consecutive_failures >= UNHEALTHY_AFTER:
            if self.status != "unhealthy":
                self.unhealthy_since = now
            self.status = "unhealthy"
        else:
            self.status = "failing"


@dataclass
class SourceState:
    source_id: str
    validators: dict[str, Validators] = field(default_factory=dict)
    seen: OrderedDict[str, float] = field(default_factory=OrderedDict)
    health: Health = field(default_factory=Health)
    extra: dict[str, Any] = field(default_factory=dict)

    def is_seen(self, article_id: str) -> bool:
        return article_id in self.seen

    def mark_seen(self, article_id: str, now: float | None = None) -> None:
        self.seen[article_id] = now or time.time()
        self.seen.move_to_end(article_id)
        while len(self.seen) > SEEN_LIMIT:
            self.seen.popitem(last=False)

    def validators_for(self, url: str) -> Validators:
        return self.validators.setdefault(url, Validators())

    def to_json(self) -> dict[str, Any]:
        return {
            "source_id": self.source_id,
            "validators": {url: asdict(v) for url, v in self.validators.items()},
            "seen": list(self.seen.items()),
            "health": asdict(self.health),
            "extra": self.extra,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SourceState:
        health_fields = Health.__dataclass_fields__
        return cls(
            source_id=data["source_id"],
            validators={url: Validators(**v) for url, v in (data.get("validators") or {}).items()},
            seen=OrderedDict((str(k), float(t)) for k, t in data.get("seen") or []),
            health=Health(**{k: v for k, v in (data.get("health") or {}).items() if k in health_fields}),
            extra=dict(data.get("extra") or {}),
        )


class StateStore:
    """Loads and saves ``SourceState`` files under one directory; saves only what changed."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._states: dict[str, SourceState] = {}
        self._dirty: set[str] = set()

    def path(self, source_id: str) -> Path:
        return self.directory / f"{source_id}.json"

    def get(self, source_id: str) -> SourceState:
        state = self._states.get(source_id)
        if state is None:
            state = self._states[source_id] = self._load(source_id)
        return state

    def _load(self, source_id: str) -> SourceState:
        path = self.path(source_id)
        try:
            return SourceState.from_json(json.loads(path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            return SourceState(source_id)
        except (OSError, ValueError, TypeError, KeyError) as exc:
            # A corrupt file must not stop the connector: start afresh, keep the bad file for inspection.
            log.warning("state of %s unreadable (%s); starting afresh", source_id, exc)
            path.replace(path.with_suffix(".corrupt"))
            return SourceState(source_id)

    def mark_dirty(self, source_id: str) -> None:
        self._dirty.add(source_id)

    def flush(self) -> int:
        """Write every changed state; return how many were written."""
        if not self._dirty:
            return 0
        self.directory.mkdir(parents=True, exist_ok=True)
        dirty, self._dirty = self._dirty, set()
        for source_id in dirty:
            self._write(self._states[source_id])
        return len(dirty)

    def _write(self, state: SourceState) -> None:
        target = self.path(state.source_id)
        tmp = target.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(state.to_json(), ensure_ascii=False), encoding="utf-8")
        tmp.replace(target)

    def all_saved(self) -> list[SourceState]:
        """Every state file in the directory (for ``akhbar feeds list``)."""
        states = []
        for path in sorted(self.directory.glob("*.json")):
            try:
                states.append(SourceState.from_json(json.loads(path.read_text(encoding="utf-8"))))
            except (OSError, ValueError, TypeError, KeyError):
                continue
        return states
