"""Kibana (setup stage): wait until Kibana is available, then import the saved objects of config/kibana/.

Plain HTTP through httpx: the two calls we need (``GET /api/status`` and the saved-objects import) are not
covered by any maintained Python client. Kibana answers an import with HTTP 200 even when objects failed, so
the body's ``success`` and ``errors`` decide, not the status code.
"""

from __future__ import annotations

import json
import ssl
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

IMPORT_PATH = "/api/saved_objects/_import"
STATUS_PATH = "/api/status"
READY_LEVELS = frozenset({"available", "degraded"})  # degraded: some plugin is unwell, saved objects work


class KibanaError(Exception):
    """Kibana refused or failed a request; the message says what to check."""


@dataclass(frozen=True)
class ImportResult:
    success_count: int
    files: list[str]
    warnings: list[str] = field(default_factory=list)


def kibana_client(
    url: str,
    username: str | None = None,
    password: str | None = None,
    ca_certs: Path | None = None,
    verify_certs: bool = True,
    timeout: float = 60.0,
) -> httpx.Client:
    """An HTTP client for Kibana's API: basic auth when given, and the ``kbn-xsrf`` header every write needs."""
    auth = httpx.BasicAuth(username, password or "") if username else None
    verify: bool | ssl.SSLContext = verify_certs
    if ca_certs and verify_certs:
        verify = ssl.create_default_context(cafile=str(ca_certs))
    return httpx.Client(
        base_url=url.rstrip("/"), auth=auth, verify=verify, timeout=timeout, headers={"kbn-xsrf": "true"}
    )


def saved_object_files(directory: Path) -> list[Path]:
    """The NDJSON files to import, in name order; none is an error (the objects ship with the repository)."""
    files = sorted(directory.glob("*.ndjson"))
    if not files:
        raise KibanaError(f"no saved objects found: {directory}/*.ndjson does not exist")
    return files


def bundle(files: list[Path]) -> bytes:
    """All files as one NDJSON payload, so references between files resolve within a single import.

    Every line is parsed first: a broken file is reported with its name and line instead of a vague 400.
    """
    lines: list[str] = []
    for path in files:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                json.loads(line)
            except json.JSONDecodeError as exc:
                raise KibanaError(f"{path}:{number}: not a JSON object ({exc.msg})") from exc
            lines.append(line)
    return ("\n".join(lines) + "\n").encode("utf-8")


def wait_until_available(client: httpx.Client, deadline: float, poll: float = 2.0) -> str:
    """Poll ``/api/status`` until Kibana is ready; return its version. 401/403 fail at once (no use waiting)."""
    last = "no answer yet"
    while True:
        try:
            response = client.get(STATUS_PATH)
        except httpx.HTTPError as exc:
            last = f"{type(exc).__name__}: {exc}"
        else:
            _raise_for_auth(response, "read Kibana's status")
            ready, last = _status_level(response)
            if ready:
                return last
        if time.monotonic() + poll > deadline:
            raise KibanaError(f"Kibana at {client.base_url} was not available in time (last: {last})")
        time.sleep(poll)


def _status_level(response: httpx.Response) -> tuple[bool, str]:
    if response.status_code != 200:
        return False, f"HTTP {response.status_code}"
    body = _json(response)
    overall = body.get("status", {}).get("overall", {})
    level = overall.get("level") or ("available" if overall.get("state") == "green" else overall.get("state"))
    version = body.get("version", {}).get("number", "unknown")
    if level in READY_LEVELS:
        return True, str(version)
    return False, f"status {level!r}: {overall.get('summary', '')}".strip()


def import_saved_objects(client: httpx.Client, files: list[Path]) -> ImportResult:
    """Import (overwriting objects with the same ids) every file as one payload; raise on any failed object."""
    payload = bundle(files)
    try:
        response = client.post(
            IMPORT_PATH,
            params={"overwrite": "true"},
            files={"file": ("akhbar.ndjson", payload, "application/ndjson")},
        )
    except httpx.HTTPError as exc:
        raise KibanaError(f"cannot reach Kibana at {client.base_url}: {type(exc).__name__}: {exc}") from exc
    _raise_for_auth(response, "import saved objects")
    body = _json(response)
    if response.status_code != 200:
        raise KibanaError(f"Kibana rejected the import (HTTP {response.status_code}): {body.get('message', body)}")
    if not body.get("success") or body.get("errors"):
        details = "; ".join(_describe(error) for error in body.get("errors", [])) or "no details given"
        raise KibanaError(
            f"Kibana imported {body.get('successCount', 0)} objects but failed on "
            f"{len(body.get('errors', []))}: {details}"
        )
    warnings = [str(w.get("message", w)) for w in body.get("warnings", [])]
    return ImportResult(int(body.get("successCount", 0)), [p.name for p in files], warnings)


def _describe(error: dict[str, Any]) -> str:
    reason = error.get("error", {})
    text = f"{error.get('type')}/{error.get('id')}"
    if title := error.get("title") or error.get("meta", {}).get("title"):
        text += f" ({title})"
    text += f": {reason.get('type', 'unknown')}"
    if missing := reason.get("references"):
        text += " " + ", ".join(f"{ref.get('type')}/{ref.get('id')}" for ref in missing)
    if message := reason.get("message"):
        text += f" {message}"
    return text


def _raise_for_auth(response: httpx.Response, action: str) -> None:
    if response.status_code in (401, 403):
        message = _json(response).get("message", response.reason_phrase)
        raise KibanaError(
            f"Kibana refused to {action} (HTTP {response.status_code}: {message}); "
            "check the Kibana user and password given to setup (ELASTIC_PASSWORD in .env)"
        )


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {"message": response.text[:300]}
    return body if isinstance(body, dict) else {"message": str(body)[:300]}
