"""Records: the one typed record per topic (news.raw.v1, news.articles.v1, news.enriched.v1, news.dlq.v1).

Each topic carries exactly one of these models, serialised as JSON. The topic name carries the major version;
a field may be added to a record without a new version, never removed or retyped.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

TOPIC_RAW = "news.raw.v1"
TOPIC_ARTICLES = "news.articles.v1"
TOPIC_ENRICHED = "news.enriched.v1"
TOPIC_DLQ = "news.dlq.v1"

DedupStatus = Literal["unique", "duplicate", "near_duplicate"]
EntityType = Literal["PER", "ORG", "LOC"]
Field_ = Literal["title", "text"]


def utcnow() -> datetime:
    return datetime.now(UTC)


class _Record(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=False)

    def to_json(self) -> bytes:
        return self.model_dump_json(exclude_none=False).encode("utf-8")


def validation_reason(exc: ValidationError) -> str:
    """A record's validation failure in one line: how many errors, and the first one's place and message."""
    first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": str(exc)}
    where = ".".join(str(p) for p in first["loc"]) or "message"
    return f"invalid record ({exc.error_count()} errors), first at {where}: {first['msg']}"


def json_with(body: bytes, name: str, value: bytes) -> bytes:
    """``body`` (a record's JSON object, dumped without the field ``name``) with ``name`` set to the JSON
    ``value``: the one field a later step decides is added without serialising the record again."""
    return json_merged(body, b'{"%s":%s}' % (name.encode(), value))


def json_merged(first: bytes, second: bytes) -> bytes:
    """Two compact JSON objects with distinct keys as one: ``first``'s members, then ``second``'s."""
    if first == b"{}":
        return second
    if second == b"{}":
        return first
    return first[:-1] + b"," + second[1:]


class RawArticle(_Record):
    """news.raw.v1: an article as a connector found it, before any processing."""

    id: str = Field(description="sha256 hex of the canonical URL")
    url: str
    source: str = Field(description="id of the source in config/feeds.yaml")
    source_name: str | None = None
    source_country: str | None = Field(default=None, description="ISO 3166-1 alpha-2 of the outlet")
    language_hint: str | None = Field(default=None, description="language declared for the source")
    title: str = ""
    text: str | None = Field(default=None, description="plain text or feed content (may hold markup)")
    summary: str | None = None
    html: str | None = Field(default=None, description="raw HTML of the article page, kept for re-extraction")
    published_at: datetime | None = Field(default=None, description="date given by the feed or sitemap")
    fetched_at: datetime = Field(default_factory=utcnow)
    authors: list[str] = Field(default_factory=list)
    image: str | None = None
    feed_url: str | None = None
    encoding: str | None = None


class ReportedBy(_Record):
    """One outlet that carried a story (the first article lists them all)."""

    id: str
    source: str
    url: str
    published_at: datetime | None = None


class DedupInfo(_Record):
    status: DedupStatus = "unique"
    duplicate_of: str | None = None
    similarity: float | None = None
    cluster_id: str | None = None


class Article(_Record):
    """news.articles.v1: deduplicated, extracted, language-identified."""

    id: str
    url: str
    source: str
    source_name: str | None = None
    source_country: str | None = None
    title: str
    text: str
    language: str
    language_score: float | None = None
    published_at: datetime
    published_at_method: str = Field(description="page | feed | fetch_time: which date was used")
    fetched_at: datetime
    authors: list[str] = Field(default_factory=list)
    image: str | None = None
    extraction_method: str = Field(description="feed | trafilatura | fallback | text")
    text_hash: str = Field(description="sha256 of the normalised text (exact duplicate key)")
    truncated: bool = False
    dedup: DedupInfo = Field(default_factory=DedupInfo)
    warnings: list[str] = Field(default_factory=list)


class Entity(_Record):
    text: str
    type: EntityType
    start: int
    end: int
    field: Field_ = "text"
    normalized: str | None = None


class Place(_Record):
    name: str
    name_en: str | None = None
    country_code: str | None = None
    admin1: str | None = None
    lat: float | None = None
    lon: float | None = None
    geonames_id: int | None = None
    kind: str | None = Field(default=None, description="country | admin1 | city | site")
    mentions: list[str] = Field(default_factory=list, description="normalised surface forms that named it")


class Event(_Record):
    type: str
    trigger: str
    start: int
    end: int
    field: Field_ = "text"


class Casualties(_Record):
    killed: int | None = None
    injured: int | None = None


class DateMention(_Record):
    text: str
    value: str = Field(description="YYYY-MM-DD")
    start: int
    end: int
    calendar: str = "gregorian"
    field: Field_ = "text"


class EnrichedArticle(Article):
    """news.enriched.v1: the final document, ready to index."""

    entities: list[Entity] = Field(default_factory=list)
    places: list[Place] = Field(default_factory=list)
    events: list[Event] = Field(default_factory=list)
    casualties: Casualties = Field(default_factory=Casualties)
    dates: list[DateMention] = Field(default_factory=list)
    reported_by: list[ReportedBy] = Field(default_factory=list)
    enriched_at: datetime = Field(default_factory=utcnow)


class DeadLetter(_Record):
    """news.dlq.v1: anything a stage could not process, with the original payload."""

    stage: str
    reason: str
    error_type: str
    topic: str | None = None
    partition: int | None = None
    offset: int | None = None
    key: str | None = None
    article_id: str | None = None
    payload: str = Field(description="the original message, decoded as UTF-8 with replacement")
    failed_at: datetime = Field(default_factory=utcnow)
