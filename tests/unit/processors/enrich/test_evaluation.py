"""Quality floors on the annotated set (a little under the measured figures, so a regression fails)."""

from __future__ import annotations

from benchmarks.evaluate import ARTICLES_DIR, HELDOUT_DIR, evaluate, load_articles, summary

# Measured on the development set when these floors were set (see README "Enrichment quality").
FLOORS = {
    "entity_f1_LOC": 0.90,
    "entity_f1_ORG": 0.81,  # 0.84 on the first 43 articles; the 29 added in issue 5 are harder (0.83 measured)
    "entity_f1_PER": 0.82,
    "event_micro_f1": 0.93,
    "place_country_accuracy": 0.96,
    "city_within_50km": 0.95,
    "casualties_exact": 0.93,
    "place_found": 0.90,
}


def test_annotated_set_is_large_and_varied():
    articles = load_articles(ARTICLES_DIR)
    assert len(articles) >= 40
    assert len({a["source_country"] for a in articles}) >= 8
    assert {"conflict", "politics", "economy", "protest", "disaster"} <= {a["topic"] for a in articles}
    assert any(a["id"].startswith("sy-01") for a in articles)  # the real sample from shared/samples


def test_quality_floors(enricher):
    figures = summary(evaluate(enricher))
    below = {name: round(figures[name], 3) for name, floor in FLOORS.items() if figures[name] < floor}
    assert not below, f"below the floor: {below}"


# The held-out set was never tuned on: floors well under its first measurement, to catch collapses only.
HELDOUT_FLOORS = {
    "entity_f1_LOC": 0.88,
    "entity_f1_ORG": 0.75,
    "entity_f1_PER": 0.65,
    "event_micro_f1": 0.78,
    "place_country_accuracy": 0.95,
    "casualties_exact": 0.9,
}


def test_heldout_floors(enricher):
    figures = summary(evaluate(enricher, HELDOUT_DIR))
    below = {name: round(figures[name], 3) for name, floor in HELDOUT_FLOORS.items() if figures[name] < floor}
    assert not below, f"below the floor: {below}"
