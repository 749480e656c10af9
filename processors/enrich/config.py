"""Enrichment: the gazetteer YAML files (config/gazetteers), validated once when the Enricher is built."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from processors.errors import ConfigError

DEFAULT_GAZETTEER_DIR = Path(__file__).resolve().parents[2] / "config" / "gazetteers"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CuratedPlace(_Strict):
    ar: list[str] = Field(min_length=1)
    en: str
    cc: str | None
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    kind: str = "city"
    admin1: str | None = None
    geonames_id: int | None = None
    cue_only: bool = False


class PlacesConfig(_Strict):
    places: list[CuratedPlace]
    country_variants: dict[str, list[str]] = Field(default_factory=dict)
    region_countries: list[str] = Field(default_factory=list)
    not_places: list[str] = Field(default_factory=list)
    demonyms: dict[str, list[str]] = Field(default_factory=dict)
    genitive_nouns: list[str] = Field(default_factory=list)


class EntitiesConfig(_Strict):
    person_titles: list[str]
    person_skip: list[str] = Field(default_factory=list)
    known_people: list[str] = Field(default_factory=list)
    first_names: list[str] = Field(default_factory=list)
    name_stop: list[str] = Field(default_factory=list)
    org_heads: list[str]
    org_modifier_stop: list[str] = Field(default_factory=list)
    known_orgs: list[str] = Field(default_factory=list)
    generic_heads: list[str] = Field(default_factory=list)
    org_qualifiers: list[str] = Field(default_factory=list)
    org_compound_heads: list[str] = Field(default_factory=list)
    org_genitives: list[str] = Field(default_factory=list)
    loc_strong_cues: list[str] = Field(default_factory=list)
    loc_settlement_cues: list[str] = Field(default_factory=list)
    loc_facility_cues: list[str] = Field(default_factory=list)
    loc_compound_first: list[str] = Field(default_factory=list)


class EventType(_Strict):
    description: str
    triggers: list[str] = Field(min_length=1)
    weak_triggers: list[str] = Field(default_factory=list)
    yields_to: list[str] = Field(default_factory=list)
    not_after: list[str] = Field(default_factory=list)
    not_before: list[str] = Field(default_factory=list)

    @field_validator("triggers", "weak_triggers")
    @classmethod
    def _star_at_end(cls, phrases: list[str]) -> list[str]:
        """Only a trailing * is a wildcard: one inside a phrase would be matched literally, i.e. never."""
        inner = [phrase for phrase in phrases if "*" in phrase.rstrip("*")]
        if inner:
            raise ValueError(f"* only at the end of a trigger: {inner}")
        return phrases


class EventsConfig(_Strict):
    event_types: dict[str, EventType]


class CasualtiesConfig(_Strict):
    killed_before: list[str]
    injured_before: list[str]
    killed_after: list[str]
    injured_after: list[str]
    killed_tolls: list[str] = Field(default_factory=list)
    injured_tolls: list[str] = Field(default_factory=list)
    killed_if_people: list[str] = Field(default_factory=list)
    people_plurals: list[str] = Field(default_factory=list)
    killed_dual: list[str] = Field(default_factory=list)
    injured_dual: list[str] = Field(default_factory=list)
    killed_verbs_after: list[str] = Field(default_factory=list)
    injured_verbs_after: list[str] = Field(default_factory=list)
    victim_nouns: list[str] = Field(default_factory=list)
    dual_nouns: list[str] = Field(default_factory=list)
    fillers: list[str] = Field(default_factory=list)


class DatesConfig(_Strict):
    months: dict[int, list[str]]
    hijri_months: dict[int, list[str]]
    weekdays: dict[int, list[str]]
    relative: dict[str, int]
    day_parts: list[str] = Field(default_factory=list)


class GazetteerConfig(_Strict):
    places: PlacesConfig
    entities: EntitiesConfig
    events: EventsConfig
    casualties: CasualtiesConfig
    dates: DatesConfig


_FILES: dict[str, type[BaseModel]] = {
    "places": PlacesConfig,
    "entities": EntitiesConfig,
    "events": EventsConfig,
    "casualties": CasualtiesConfig,
    "dates": DatesConfig,
}


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read gazetteer {path}: {exc}") from exc


def load_gazetteer_config(directory: Path | None = None) -> GazetteerConfig:
    """Read and validate ``<dir>/{places,entities,events,casualties,dates}.yaml``; ConfigError if bad."""
    root = directory or DEFAULT_GAZETTEER_DIR
    parts: dict[str, BaseModel] = {}
    for name, model in _FILES.items():
        path = root / f"{name}.yaml"
        try:
            parts[name] = model.model_validate(_read_yaml(path))
        except ValidationError as exc:
            raise ConfigError(f"invalid gazetteer {path}: {exc}") from exc
    return GazetteerConfig.model_validate(parts)
