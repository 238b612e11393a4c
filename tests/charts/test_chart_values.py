"""values.yaml: every value commented, and the README documenting only keys the chart has."""

from __future__ import annotations

import json
import re

import pytest
import yaml
from chart_support import CHART

pytestmark = pytest.mark.charts


def _schema() -> dict:
    return json.loads((CHART / "values.schema.json").read_text())


def _walk(node: yaml.MappingNode, schema: dict, path: str, lines: list[str], missing: list[str]) -> None:
    for key_node, value_node in node.value:
        key = key_node.value
        sub = schema.get("properties", {}).get(key, {})
        here = f"{path}.{key}" if path else key
        if isinstance(value_node, yaml.MappingNode) and sub.get("properties") and value_node.value:
            _walk(value_node, sub, here, lines, missing)  # a parent: its children carry the comments
            continue
        above = lines[key_node.start_mark.line - 1].strip() if key_node.start_mark.line else ""
        if not above.startswith("#"):
            missing.append(here)


def test_every_value_is_commented() -> None:
    text = (CHART / "values.yaml").read_text()
    missing: list[str] = []
    _walk(yaml.compose(text), _schema(), "", text.splitlines(), missing)
    assert missing == []


def test_schema_refuses_unknown_keys_at_every_defined_level() -> None:
    def check(schema: dict, path: str) -> None:
        if "properties" in schema:
            assert schema.get("additionalProperties") is False, path or "<root>"
            for key, sub in schema["properties"].items():
                check(sub, f"{path}.{key}")
    check(_schema(), "")


def _schema_paths(schema: dict, path: str = "") -> set[str]:
    out: set[str] = set()
    for key, sub in schema.get("properties", {}).items():
        here = f"{path}.{key}" if path else key
        out |= {here} | _schema_paths(sub, here)
    return out


def _value_paths(values: dict, schema: dict, path: str = "") -> set[str]:
    out: set[str] = set()
    for key, value in values.items():
        here = f"{path}.{key}" if path else key
        out.add(here)
        sub = schema.get("properties", {}).get(key, {})
        if isinstance(value, dict) and "properties" in sub:  # free-form Kubernetes objects are not descended
            out |= _value_paths(value, sub, here)
    return out


def test_values_and_schema_define_the_same_keys() -> None:
    # No value the schema does not know, and no schema key without a default in values.yaml.
    schema = _schema()
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert _value_paths(values, schema) == _schema_paths(schema)


def test_readme_documents_only_keys_the_chart_has() -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    readme = (CHART / "README.md").read_text()
    table = [line for line in readme.splitlines() if line.startswith("| `")]
    documented = {key for line in table for key in re.findall(r"`([A-Za-z<>.]+)`", line.split("|")[1])}
    assert documented

    def exists(key: str) -> bool:
        nodes = [values]
        for part in key.split("."):
            if part == "<name>":
                nodes = [v for n in nodes for v in n.values() if isinstance(v, dict)]
            else:
                nodes = [n[part] for n in nodes if isinstance(n, dict) and part in n]
        return bool(nodes)

    assert [k for k in documented if not exists(k)] == []
    assert set(values) <= {k.split(".")[0] for k in documented}
