"""Evaluation: quality of the enrichment on the annotated set in tests/fixtures/enrich (``make eval``).

Entities are scored as unique (type, normalised form) pairs per article; events as the set of event types per
article; places per gold place (found, right country, within 50 km for cities and sites); casualties as the
exact (killed, injured) pair. See tests/fixtures/enrich/README.md for the annotation guidelines.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from processors.enrich import Enricher
from processors.enrich.gazetteer import haversine_km
from processors.normalize import normalize_arabic
from processors.records import Article, EnrichedArticle

FIXTURES_DIR = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "enrich"
ARTICLES_DIR = FIXTURES_DIR / "articles"
HELDOUT_DIR = FIXTURES_DIR / "heldout"  # written after the rules were tuned, and never tuned on
ENTITY_TYPES = ("LOC", "ORG", "PER")
NEAR_KM = 50.0


@dataclass
class Scores:
    """True positives, false positives and false negatives per label."""

    counts: dict[str, Counter] = field(default_factory=dict)

    def add(self, label: str, gold: set[str], predicted: set[str]) -> None:
        counter = self.counts.setdefault(label, Counter())
        counter["tp"] += len(gold & predicted)
        counter["fp"] += len(predicted - gold)
        counter["fn"] += len(gold - predicted)

    def prf(self, label: str) -> tuple[float, float, float]:
        c = self.counts.get(label, Counter())
        precision = c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] else 1.0
        recall = c["tp"] / (c["tp"] + c["fn"]) if c["tp"] + c["fn"] else 1.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return precision, recall, f1

    def micro(self) -> tuple[float, float, float]:
        total = Counter()
        for c in self.counts.values():
            total.update(c)
        merged = Scores({"all": total})
        return merged.prf("all")


def load_articles(directory: Path = ARTICLES_DIR) -> list[dict[str, Any]]:
    return [yaml.safe_load(path.read_text(encoding="utf-8")) for path in sorted(directory.glob("*.yaml"))]


def to_article(item: dict[str, Any]) -> Article:
    published = item["published_at"]
    if isinstance(published, str):
        published = datetime.fromisoformat(published)
    return Article(
        id=item["id"],
        url=f"https://example.org/{item['id']}",
        source="fixture",
        source_country=item.get("source_country"),
        title=item.get("title") or "",
        text=item["text"],
        language="ar",
        published_at=published,
        published_at_method="feed",
        fetched_at=published,
        extraction_method="text",
        text_hash=item["id"],
    )


def _place_for(result: EnrichedArticle, name: str):
    key = normalize_arabic(name)
    for place in result.places:
        if key in place.mentions or normalize_arabic(place.name) == key:
            return place
    return None


def evaluate(enricher: Enricher | None = None, directory: Path = ARTICLES_DIR) -> dict[str, Any]:
    """Run the Enricher over the annotated set and return every figure (also used by the tests)."""
    enricher = enricher or Enricher()
    entities, events = Scores(), Scores()
    places = Counter()
    casualties = Counter()
    errors: list[dict[str, Any]] = []
    items = load_articles(directory)
    for item in items:
        result = enricher.enrich(to_article(item))
        gold = item["gold"]
        for kind in ENTITY_TYPES:
            gold_keys = {normalize_arabic(t) for t in gold["entities"].get(kind) or []}
            predicted = {e.normalized or normalize_arabic(e.text) for e in result.entities if e.type == kind}
            entities.add(kind, gold_keys, predicted)
            errors.append(
                {
                    "id": item["id"],
                    "type": kind,
                    "missed": sorted(gold_keys - predicted),
                    "spurious": sorted(predicted - gold_keys),
                }
            )
        predicted_types = {e.type for e in result.events}
        for event_type in set(gold["events"] or []) | predicted_types:
            events.add(
                event_type,
                {"x"} & ({"x"} if event_type in (gold["events"] or []) else set()),
                {"x"} if event_type in predicted_types else set(),
            )
        _score_places(result, gold.get("places") or [], places, errors, item["id"])
        expected = (gold["casualties"].get("killed"), gold["casualties"].get("injured"))
        got = (result.casualties.killed, result.casualties.injured)
        casualties["articles"] += 1
        casualties["exact"] += expected == got
        casualties["killed"] += expected[0] == got[0]
        casualties["injured"] += expected[1] == got[1]
        if expected != got:
            errors.append({"id": item["id"], "type": "casualties", "gold": expected, "got": got})
    return {
        "articles": len(items),
        "entities": entities,
        "events": events,
        "places": places,
        "casualties": casualties,
        "errors": errors,
    }


def _score_places(result, gold_places, places: Counter, errors: list, article_id: str) -> None:
    for gold in gold_places:
        places["gold"] += 1
        place = _place_for(result, gold["name"])
        if place is None:
            errors.append({"id": article_id, "type": "place-missing", "name": gold["name"]})
            continue
        places["found"] += 1
        right_country = place.country_code == gold["country"]
        places["country_ok"] += right_country
        if gold.get("kind") in ("city", "site"):
            places["cities"] += 1
            near = haversine_km(place.lat or 0, place.lon or 0, gold["lat"], gold["lon"]) <= NEAR_KM
            places["cities_near"] += right_country and near
            if not near:
                errors.append({"id": article_id, "type": "place-far", "name": gold["name"], "got": place.name_en})
        if not right_country:
            errors.append(
                {
                    "id": article_id,
                    "type": "place-country",
                    "name": gold["name"],
                    "gold": gold["country"],
                    "got": place.country_code,
                }
            )


def summary(report: dict[str, Any]) -> dict[str, float]:
    """The headline figures, flat (names used by the README and the regression test)."""
    figures: dict[str, float] = {}
    for kind in ENTITY_TYPES:
        figures[f"entity_f1_{kind}"] = report["entities"].prf(kind)[2]
    figures["event_micro_f1"] = report["events"].micro()[2]
    places, casualties = report["places"], report["casualties"]
    figures["place_found"] = places["found"] / max(places["gold"], 1)
    figures["place_country_accuracy"] = places["country_ok"] / max(places["found"], 1)
    figures["place_country_accuracy_all"] = places["country_ok"] / max(places["gold"], 1)
    figures["city_within_50km"] = places["cities_near"] / max(places["cities"], 1)
    figures["casualties_exact"] = casualties["exact"] / max(casualties["articles"], 1)
    return figures


def print_report(report: dict[str, Any], show_errors: bool) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table("group", "label", "precision", "recall", "F1", "support", title=f"{report['articles']} articles")
    for group, scores in (("entity", report["entities"]), ("event", report["events"])):
        for label in sorted(scores.counts):
            p, r, f = scores.prf(label)
            c = scores.counts[label]
            table.add_row(group, label, f"{p:.3f}", f"{r:.3f}", f"{f:.3f}", str(c["tp"] + c["fn"]))
        p, r, f = scores.micro()
        table.add_row(group, "[bold]micro[/bold]", f"{p:.3f}", f"{r:.3f}", f"{f:.3f}", "")
    console.print(table)
    places, casualties = report["places"], report["casualties"]
    figures = summary(report)
    console.print(
        f"places: {places['found']}/{places['gold']} gold places found ({figures['place_found']:.3f}); "
        f"country accuracy {figures['place_country_accuracy']:.3f} of found, "
        f"{figures['place_country_accuracy_all']:.3f} of all; cities/sites within {NEAR_KM:.0f} km "
        f"{places['cities_near']}/{places['cities']} ({figures['city_within_50km']:.3f})"
    )
    console.print(
        f"casualties: exact {casualties['exact']}/{casualties['articles']} ({figures['casualties_exact']:.3f}); "
        f"killed right {casualties['killed']}, injured right {casualties['injured']}"
    )
    if show_errors:
        for error in report["errors"]:
            if error.get("missed") or error.get("spurious") or "missed" not in error:
                print(json.dumps(error, ensure_ascii=False))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make eval", description=__doc__)
    parser.add_argument("--errors", action="store_true", help="list every miss and spurious prediction")
    parser.add_argument("--dir", type=Path, help="folder of annotated YAML articles (default: both sets)")
    parser.add_argument("--json", action="store_true", help="print the headline figures as JSON")
    args = parser.parse_args(argv)
    enricher = Enricher()
    sets = {"custom": args.dir} if args.dir else {"development": ARTICLES_DIR, "held-out": HELDOUT_DIR}
    reports = {name: evaluate(enricher, directory) for name, directory in sets.items()}
    if args.json:
        print(json.dumps({name: summary(report) for name, report in reports.items()}, indent=2))
        return 0
    for name, report in reports.items():
        print(f"\n== {name} set ({report['articles']} articles) ==")
        print_report(report, args.errors)
    return 0


if __name__ == "__main__":
    sys.exit(main())
