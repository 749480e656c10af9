"""Offline processing: `akhbar process` — raw articles as JSON lines on stdin, one JSON line out per input.

The same ``ArticleChain`` as the Faust agents, in input order, deduplicating across the whole batch. A line
that cannot be processed yields an error line (with its line number) and processing goes on; an expected drop
(not Arabic, too short) yields a line saying so. Nothing is silently lost: outputs == inputs. A line without
``id`` gets the id of its URL (or of its title and text); without ``url``, ``https://stdin.invalid/<id>``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from typing import Any

from pydantic import ValidationError

from processors.chain import ArticleChain
from processors.errors import Dropped, PermanentError
from processors.records import RawArticle
from processors.urls import article_id


def raw_from_input(data: Any) -> RawArticle:
    """Accept the lenient input shape (only ``title`` and one of ``text``/``html`` required)."""
    if not isinstance(data, dict):
        raise PermanentError("each line must be a JSON object", stage="parse")
    if not isinstance(data.get("title"), str):
        raise PermanentError("field 'title' is required (a string)", stage="parse")
    if not data.get("text") and not data.get("html"):
        raise PermanentError("one of the fields 'text' or 'html' is required", stage="parse")
    fields = dict(data)
    url = fields.get("url") or ""
    if not fields.get("id"):
        fields["id"] = _derive_id(url, fields)
    if not url:
        # An article without a URL still needs an absolute one downstream (links, the sinks' records); the
        # reserved .invalid domain (RFC 2606) says plainly that it points nowhere.
        fields["url"] = f"https://stdin.invalid/{fields['id']}"
    fields.setdefault("source", "stdin")
    try:
        return RawArticle.model_validate(fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise PermanentError(f"field {where!r}: {first['msg']}", stage="parse") from exc


def _derive_id(url: str, fields: dict[str, Any]) -> str:
    if url:
        try:
            return article_id(url)
        except ValueError:
            pass
    body = f"{fields.get('title', '')}\n{fields.get('text') or fields.get('html') or ''}"
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def process_lines(lines: Iterable[str], chain: ArticleChain) -> Iterator[dict[str, Any]]:
    """Yield one output object per non-blank input line, in order."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        yield process_line(number, line, chain)


def process_line(number: int, line: str, chain: ArticleChain) -> dict[str, Any]:
    try:
        raw = raw_from_input(json.loads(line))
        return chain.process(raw).model_dump(mode="json")
    except json.JSONDecodeError as exc:
        return _error(number, "parse", f"not JSON: {exc.msg} at column {exc.colno}")
    except Dropped as drop:
        return {"line": number, "status": "dropped", "reason": drop.reason}
    except PermanentError as exc:
        return _error(number, exc.stage, exc.reason)
    except Exception as exc:  # a bug must not stop the batch: report it on this line
        return _error(number, "process", f"{type(exc).__name__}: {exc}")


def _error(number: int, stage: str, reason: str) -> dict[str, Any]:
    return {"line": number, "status": "error", "error": {"stage": stage, "reason": reason}}
