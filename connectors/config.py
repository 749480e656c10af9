"""Connector configuration: the sources in config/feeds.yaml, validated once at start-up (pydantic).

A source is discriminated on ``type`` (``rss`` | ``web`` | ``sitemap``). An error names the file, the source
(by its ``id``, or its position when it has none) and the field.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, TypeAdapter, ValidationError, field_validator

from processors.errors import ConfigError

SOURCE_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")


class FetchPolicy(BaseModel):
    """Politeness and safety limits of the shared HTTP client (per host unless said otherwise)."""

    model_config = ConfigDict(extra="forbid")

    user_agent: str | None = None
    timeout: float = Field(default=20.0, gt=0, le=300)
    max_bytes: int = Field(default=10_000_000, gt=0, description="cap on the (decompressed) body")
    max_redirects: int = Field(default=5, ge=0, le=20)
    min_delay: float = Field(default=1.0, ge=0, description="seconds between two requests to one host")
    max_per_host: int = Field(default=2, ge=1, le=16)
    respect_robots: bool = True


class _SourceBase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    name: str
    language: str = "ar"
    country: str | None = Field(default=None, description="ISO 3166-1 alpha-2 of the outlet")
    interval: float = Field(default=300.0, ge=1, le=86_400, description="seconds between polls")
    enabled: bool = True
    fetch_full_text: bool = False
    allow_private: bool = Field(default=False, description="allow loopback/private addresses (tests, intranet feeds)")

    @field_validator("id")
    @classmethod
    def _check_id(cls, value: str) -> str:
        if not SOURCE_ID.match(value):
            raise ValueError("must be lowercase letters, digits, '_', '-' or '.', at most 64")
        return value

    @field_validator("country")
    @classmethod
    def _check_country(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Za-z]{2}", value):
            raise ValueError("must be a two-letter ISO 3166-1 code")
        return value.upper() if value else value


class RssSource(_SourceBase):
    type: Literal["rss"]
    url: HttpUrl


class WebSource(_SourceBase):
    type: Literal["web"]
    urls: list[HttpUrl] = Field(min_length=1, description="listing pages to discover article links on")
    link_patterns: list[str] = Field(min_length=1, description="regexes an article URL must match")
    fetch_full_text: bool = True

    @field_validator("link_patterns")
    @classmethod
    def _check_patterns(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"bad regex {pattern!r}: {exc}") from exc
        return patterns


class SitemapSource(_SourceBase):
    type: Literal["sitemap"]
    url: HttpUrl
    max_age_days: float = Field(default=3.0, gt=0, description="ignore entries whose lastmod is older")
    fetch_full_text: bool = True


Source = Annotated[RssSource | WebSource | SitemapSource, Field(discriminator="type")]
_SOURCE_ADAPTER: TypeAdapter[Source] = TypeAdapter(Source)  # type: ignore[arg-type, unused-ignore]  # mypy flips on this alias


class FeedsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fetch: FetchPolicy = Field(default_factory=FetchPolicy)
    sources: list[Source] = Field(default_factory=list)


def _describe(exc: ValidationError, path: Path, raw_sources: list[Any]) -> str:
    lines = []
    for err in exc.errors():
        loc = list(err["loc"])
        where = "top level"
        if len(loc) >= 2 and loc[0] == "sources" and isinstance(loc[1], int):
            index = loc[1]
            raw = raw_sources[index] if index < len(raw_sources) else None
            ident = raw.get("id") if isinstance(raw, dict) else None
            where = f"source {ident!r}" if ident else f"source #{index + 1}"
            loc = loc[2:]
            if loc and isinstance(raw, dict) and loc[0] == raw.get("type"):
                loc = loc[1:]  # drop the discriminator tag pydantic inserts
        field = ".".join(str(p) for p in loc) or "(whole entry)"
        lines.append(f"{path}: {where}, field {field!r}: {err['msg']}")
    return "\n".join(lines)


def load_feeds(path: Path) -> FeedsFile:
    """Read and validate ``path``; raise ``ConfigError`` naming the file, the source and the field."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping with a 'sources' list")
    raw_sources = data.get("sources") or []
    try:
        feeds = FeedsFile.model_validate(data)
    except ValidationError as exc:
        raw_list = raw_sources if isinstance(raw_sources, list) else []
        raise ConfigError(_describe(exc, path, raw_list)) from exc
    seen: set[str] = set()
    for source in feeds.sources:
        if source.id in seen:
            raise ConfigError(f"{path}: source {source.id!r}, field 'id': duplicate id")
        seen.add(source.id)
    return feeds


def parse_source(data: dict[str, Any]) -> Source:
    """Validate one source mapping (used by tests and by ``akhbar feeds check``)."""
    return _SOURCE_ADAPTER.validate_python(data)
