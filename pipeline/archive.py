"""Raw archive: every valid news.raw.v1 record (with its page HTML) kept on disk as daily gzip JSON lines.

The raw topic is the replay source while its retention lasts (and on the embedded broker only while it runs:
Tansu is memory-only); the archive outlives both, so `akhbar replay --archive` can re-extract months later.
Appending gzip members to one file per day keeps each write cheap and the file a valid gzip stream.
"""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

from pydantic import ValidationError

from processors.records import RawArticle


class RawArchive:
    """Append-only daily files ``raw-YYYY-MM-DD.jsonl.gz`` under ``directory``."""

    def __init__(self, directory: Path, flush_every: int = 50) -> None:
        self.directory = directory
        self.flush_every = flush_every
        self._pending: list[bytes] = []
        self._day: date | None = None
        self._lock = threading.Lock()

    def path_for(self, day: date) -> Path:
        return self.directory / f"raw-{day.isoformat()}.jsonl.gz"

    def append(self, record: bytes, now: datetime | None = None) -> None:
        """Buffer one raw record (its JSON bytes); written at ``flush_every`` records or on day change."""
        day = (now or datetime.now(UTC)).date()
        with self._lock:
            if self._day is not None and day != self._day:
                self._flush_locked()
            self._day = day
            self._pending.append(record.rstrip(b"\n") + b"\n")
            if len(self._pending) >= self.flush_every:
                self._flush_locked()

    def flush(self) -> None:
        with self._lock:
            self._flush_locked()

    def _flush_locked(self) -> None:
        if not self._pending or self._day is None:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        with gzip.open(self.path_for(self._day), "ab") as handle:
            handle.write(b"".join(self._pending))
        self._pending.clear()


def read_archive(
    directory: Path, since: date | None = None, until: date | None = None, sources: set[str] | None = None
) -> Iterator[RawArticle]:
    """Yield archived raw articles in file order, filtered by archive day and source; bad lines are skipped."""
    for path in sorted(directory.glob("raw-*.jsonl.gz")):
        day = date.fromisoformat(path.name[4:14])
        if (since and day < since) or (until and day > until):
            continue
        yield from _read_file(path, sources)


def _read_file(path: Path, sources: set[str] | None) -> Iterator[RawArticle]:
    with gzip.open(path, "rb") as handle:
        try:
            for line in handle:
                try:
                    raw = RawArticle.model_validate(json.loads(line))
                except (ValueError, ValidationError):
                    continue  # only valid records are archived; a torn last line after a crash is not one
                if not sources or raw.source in sources:
                    yield raw
        except (EOFError, gzip.BadGzipFile):
            return  # a file cut short by a crash: keep what was complete
