"""MCP tools, generated from the route declarations that name one (`tool="list_incidents"`).

A tool is its route: its input schema is the route's path, query and body models merged into one object (JSON
Schema from the same pydantic models that validate the REST call), its output schema the route's response
model, its description the route's summary and docstring. Calling a tool makes the route's HTTP call on this
gateway's own tenant plane with the caller's credentials, so it runs through exactly what the REST call runs
through: authentication, tenant status, role and API-key scope, rate limits, audit, validation, the handler.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, TypeAdapter

from gateway.routing import Route
from gateway.schemas.base import Body

IF_MATCH_ARGUMENT = "if_match_version"


@dataclass(frozen=True)
class Tool:
    name: str
    route: Route
    description: str
    input_schema: dict[str, Any]
    output_schema: dict[str, Any] | None
    path_names: tuple[str, ...] = ()
    query_names: tuple[str, ...] = ()
    body_names: tuple[str, ...] = ()
    list_names: frozenset[str] = field(default_factory=frozenset)

    @property
    def read_only(self) -> bool:
        return self.route.method == "GET"

    def request(self, arguments: dict[str, Any]) -> tuple[str, str, list[tuple[str, str]], Any, dict[str, str]]:
        """(method, path, query pairs, JSON body or None, headers) of the route's call for these arguments."""
        unknown = set(arguments) - {*self.path_names, *self.query_names, *self.body_names, IF_MATCH_ARGUMENT}
        if unknown:
            raise ValueError(f"unknown arguments: {', '.join(sorted(unknown))}")
        path = self.route.path
        for name in self.path_names:
            if name not in arguments:
                raise ValueError(f"missing argument: {name}")
            path = path.replace("{" + name + "}", urllib.parse.quote(str(arguments[name]), safe=""))
        query: list[tuple[str, str]] = []
        for name in self.query_names:
            if name not in arguments or arguments[name] is None:
                continue
            values = arguments[name] if name in self.list_names else [arguments[name]]
            query += [(name, _text(v)) for v in values]
        body = {n: arguments[n] for n in self.body_names if n in arguments} if self.route.body is not None else None
        headers = {}
        if self.route.if_match and arguments.get(IF_MATCH_ARGUMENT) is not None:
            headers["If-Match"] = f'"{arguments[IF_MATCH_ARGUMENT]}"'
        return self.route.method, path, query, body, headers


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _schema(model: type[BaseModel], mode: str) -> dict[str, Any]:
    return TypeAdapter(model).json_schema(mode=mode)  # type: ignore[arg-type]


def _merge(parts: list[dict[str, Any]]) -> dict[str, Any]:
    merged: dict[str, Any] = {"type": "object", "properties": {}, "additionalProperties": False}
    required: list[str] = []
    definitions: dict[str, Any] = {}
    for part in parts:
        for name, prop in part.get("properties", {}).items():
            if name in merged["properties"]:
                raise TypeError(f"argument {name!r} appears twice")
            merged["properties"][name] = prop
        required += part.get("required", [])
        definitions.update(part.get("$defs", {}))
    if required:
        merged["required"] = required
    if definitions:
        merged["$defs"] = definitions
    return merged


def tool_of(route: Route) -> Tool:
    assert route.tool is not None
    parts, names = [], {}
    for kind, model in (("path", route.path_params), ("query", route.query), ("body", route.body)):
        if model is None:
            names[kind] = ()
            continue
        if kind == "body" and not (isinstance(model, type) and issubclass(model, Body)):
            raise TypeError(f"{route.operation_id}: a tool's body must be a Body model")
        schema = _schema(model, "validation")
        parts.append(schema)
        names[kind] = tuple(schema.get("properties", {}))
    if route.if_match:
        parts.append({"properties": {IF_MATCH_ARGUMENT: {
            "type": "integer", "minimum": 1,
            "description": "the version read (its ETag): the change is refused when the resource moved on"}}})
    input_schema = _merge(parts)
    lists = frozenset(n for n in names["query"] if input_schema["properties"][n].get("type") == "array")
    output = _schema(route.response, "serialization") if route.response is not None else None
    description = route.summary + (f"\n\n{route.description}" if route.description else "")
    return Tool(route.tool, route, description, input_schema, output, names["path"], names["query"],
                names["body"], lists)


def tools(routes: list[Route]) -> dict[str, Tool]:
    found = {}
    for route in routes:
        if route.tool:
            if route.tool in found:
                raise ValueError(f"tool {route.tool} is declared twice")
            found[route.tool] = tool_of(route)
    return found
