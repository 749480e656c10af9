"""The shipped config/feeds.yaml: valid, at least 15 real Arabic sources across the region, examples parse."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from connectors.config import load_feeds, parse_source

DEFAULT = Path(__file__).parents[3] / "config" / "feeds.yaml"


def test_default_feeds_file_is_valid_and_broad() -> None:
    feeds = load_feeds(DEFAULT)
    enabled = [s for s in feeds.sources if s.enabled]
    assert len(enabled) >= 15
    assert all(s.language == "ar" for s in enabled)
    assert len({s.country for s in enabled if s.country}) >= 18
    hosts = {str(getattr(s, "url", "")).split("/")[2] for s in enabled}
    assert len(hosts) == len(enabled), "one outlet per source"
    assert all(not s.allow_private for s in enabled)
    assert feeds.fetch.min_delay >= 1 and feeds.fetch.respect_robots


def test_commented_examples_of_each_type_are_valid() -> None:
    text = DEFAULT.read_text(encoding="utf-8")
    block = text[text.index("# --- One documented example") :]
    lines = [re.sub(r"^#  ?", "", line) for line in block.splitlines()[1:] if line.startswith("#  ")]
    examples = yaml.safe_load("\n".join(lines))
    assert {e["type"] for e in examples} == {"rss", "web", "sitemap"}
    for example in examples:
        parse_source(example)
