"""Sinks: where enriched articles are indexed (Elasticsearch or the embedded store)."""
