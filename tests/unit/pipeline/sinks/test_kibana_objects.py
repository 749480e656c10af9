"""Kibana saved objects (config/kibana/*.ndjson): they parse, ids are pinned, references and fields resolve."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pipeline.sinks.elasticsearch import index_template

KIBANA = Path(__file__).resolve().parents[4] / "config" / "kibana"
TYPES = {"index-pattern", "search", "lens", "map", "dashboard"}


def objects() -> list[dict[str, Any]]:
    found = []
    for path in sorted(KIBANA.glob("*.ndjson")):
        found += [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]
    return found


def mapped_fields(properties: dict[str, Any], prefix: str = "") -> dict[str, str]:
    fields = {}
    for name, field in properties.items():
        path = prefix + name
        if "type" in field:
            fields[path] = field["type"]
        fields.update(mapped_fields(field.get("properties", {}), path + "."))
        fields.update(mapped_fields(field.get("fields", {}), path + "."))
    return fields


FIELDS = mapped_fields(index_template("akhbar-articles")["template"]["mappings"]["properties"])


def test_every_object_has_a_pinned_unique_id_and_known_type() -> None:
    found = objects()
    assert {o["type"] for o in found} == TYPES
    keys = [(o["type"], o["id"]) for o in found]
    assert len(keys) == len(set(keys))
    assert all(o["id"].startswith("akhbar-") for o in found)
    assert all(o["coreMigrationVersion"] and o["typeMigrationVersion"] for o in found)


def test_every_reference_resolves() -> None:
    found = objects()
    present = {(o["type"], o["id"]) for o in found}
    for obj in found:
        for reference in obj["references"]:
            assert (reference["type"], reference["id"]) in present, (obj["id"], reference)


def test_data_view_is_the_alias_with_published_at_as_time_field() -> None:
    [view] = [o for o in objects() if o["type"] == "index-pattern"]
    assert view["id"] == "akhbar-articles"
    assert view["attributes"]["title"] == "akhbar-articles"
    assert FIELDS[view["attributes"]["timeFieldName"]] == "date"


def test_dashboard_panels_match_references() -> None:
    [dashboard] = [o for o in objects() if o["type"] == "dashboard"]
    panels = json.loads(dashboard["attributes"]["panelsJSON"])
    names = {r["name"] for r in dashboard["references"]}
    assert {f"{p['panelIndex']}:{p['panelRefName']}" for p in panels} == names
    assert {r["type"] for r in dashboard["references"]} == {"lens", "map", "search"}
    assert len(panels) == 9


@pytest.mark.parametrize("lens", [o for o in objects() if o["type"] == "lens"], ids=lambda o: o["id"])
def test_lens_columns_use_mapped_aggregatable_fields(lens: dict[str, Any]) -> None:
    layers = lens["attributes"]["state"]["datasourceStates"]["formBased"]["layers"]
    names = {r["name"] for r in lens["references"]}
    for layer_id, layer in layers.items():
        assert f"indexpattern-datasource-layer-{layer_id}" in names
        assert set(layer["columnOrder"]) == set(layer["columns"])
        for column in layer["columns"].values():
            field = column.get("sourceField")
            if field and field != "___records___":
                assert FIELDS.get(field) in {"keyword", "date", "integer", "long"}, field


def test_saved_search_and_map_fields_exist() -> None:
    [search] = [o for o in objects() if o["type"] == "search"]
    assert all(column in FIELDS for column in search["attributes"]["columns"])
    source = json.loads(search["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])
    assert source["indexRefName"] in {r["name"] for r in search["references"]}
    [kibana_map] = [o for o in objects() if o["type"] == "map"]
    layers = json.loads(kibana_map["attributes"]["layerListJSON"])
    documents = [layer for layer in layers if layer["sourceDescriptor"]["type"] == "ES_SEARCH"]
    assert FIELDS[documents[0]["sourceDescriptor"]["geoField"]] == "geo_point"
    assert documents[0]["sourceDescriptor"]["indexPatternRefName"] in {r["name"] for r in kibana_map["references"]}
