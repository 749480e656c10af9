"""config/feeds.yaml validation: every error names the file, the source and the field."""

from __future__ import annotations

import pytest

from connectors.config import RssSource, WebSource, load_feeds
from processors.errors import ConfigError


def write(tmp_path, text):
    path = tmp_path / "feeds.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_valid_file_is_discriminated_on_type(tmp_path):
    feeds = load_feeds(
        write(
            tmp_path,
            """
sources:
  - {id: a, name: أ, type: rss, url: "https://example.com/rss", country: sy}
  - {id: b, name: ب, type: web, urls: ["https://example.com/"], link_patterns: ["/news/\\\\d+"]}
""",
        )
    )
    assert isinstance(feeds.sources[0], RssSource) and feeds.sources[0].country == "SY"
    assert isinstance(feeds.sources[1], WebSource) and feeds.sources[1].fetch_full_text


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ('{id: bbc, name: x, type: rss, url: "not a url"}', "source 'bbc', field 'url'"),
        ('{id: bbc, name: x, type: rss, url: "https://e.com/r", interval: 0}', "source 'bbc', field 'interval'"),
        ('{id: bbc, name: x, type: telegram, url: "https://e.com"}', "source 'bbc'"),
        ('{name: x, type: rss, url: "https://e.com/r"}', "source #1, field 'id'"),
        ('{id: w, name: x, type: web, urls: ["https://e.com"], link_patterns: ["(unclosed"]}', "field 'link_patterns'"),
        ('{id: r, name: x, type: rss, url: "https://e.com/r", colour: red}', "source 'r', field 'colour'"),
    ],
)
def test_errors_name_file_source_and_field(tmp_path, entry, expected):
    path = write(tmp_path, f"sources:\n  - {entry}\n")
    with pytest.raises(ConfigError) as info:
        load_feeds(path)
    assert str(path) in str(info.value)
    assert expected in str(info.value)


def test_duplicate_ids_are_refused(tmp_path):
    path = write(
        tmp_path,
        """
sources:
  - {id: a, name: x, type: rss, url: "https://e.com/1"}
  - {id: a, name: y, type: rss, url: "https://e.com/2"}
""",
    )
    with pytest.raises(ConfigError, match="source 'a', field 'id': duplicate"):
        load_feeds(path)


def test_unreadable_and_invalid_yaml(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_feeds(tmp_path / "missing.yaml")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_feeds(write(tmp_path, "sources: [\n"))
