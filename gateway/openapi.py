"""The OpenAPI 3.1 document of a plane, generated from its route declarations and the resource schemas: every
operation with its parameters (path, query, the headers it reads), request body, answer in the envelope,
every error it can answer, security, and the `x-required-scopes` / `x-ratelimit-class` / `x-minimum-role`
extensions. JSON Schema 2020-12 (OpenAPI 3.1's dialect) is what pydantic generates."""

from __future__ import annotations

import importlib.metadata
import re
from collections import defaultdict
from typing import Any

from pydantic import TypeAdapter
from pydantic.json_schema import GenerateJsonSchema

from gateway.events.registry import FAMILIES, Family
from gateway.routing import Plane, Route
from gateway.schemas.common import ErrorBody
from gateway.schemas.events import Event
from vigil.runtime.errors import ValidationFailed, VigilError

REF = "#/components/schemas/{model}"
PROTOBUF = "application/x-protobuf"
SECURITY: dict[str, dict[str, dict[str, Any]]] = {
    "tenant": {
        "bearerAuth": {
            "type": "http", "scheme": "bearer",
            "description": "The token of `POST /api/auth/token` on this plane (a JWT, with the tenant in "
                           "`x-tenant-id`), or an API key (`vgl_…`)."},
        "apiKeyAuth": {
            "type": "apiKey", "in": "header", "name": "X-Api-Key",
            "description": "An API key (`vgl_…`, minted at `POST /api/api-keys`): bound to its tenant, limited to "
                           "its scopes (`x-required-scopes`) and role; `x-tenant-id` may be left out."},
    },
    "control": {
        "operatorBearer": {
            "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
            "description": "The operator token of `POST /api/auth/token` on the control plane."},
    },
}
RATE_HEADERS = {
    "X-RateLimit-Limit": "requests per minute allowed for this operation's rate class",
    "X-RateLimit-Remaining": "requests left in the current minute",
    "X-RateLimit-Reset": "when the minute ends (Unix seconds)",
}
TITLES = {"tenant": "Vigil API: tenant plane", "control": "Vigil API: control plane"}
DESCRIPTION = """\
Every answer is `{"data": …}`; every error is `{"error", "code", "trace_id"}` (plus `fields` naming what failed
validation) with the HTTP status of its code. Unknown body fields and query parameters are refused.
`x-required-scopes` is the API-key scope an operation needs (a signed-in user's session holds its role's
scopes), `x-minimum-role` the role, `x-ratelimit-class` the rate-limit bucket it counts against (read, write,
ai, ingest; every answer says where the tenant stands in `X-RateLimit-*` headers), `x-quota` the plan quota it
uses up (402 `QUOTA_EXCEEDED` when it is). `Idempotency-Key` on a POST replays the first 2xx answer for 24 h; `If-Match: "<version>"` makes a
PATCH conditional where the operation lists it."""
ERROR_DESCRIPTIONS = {
    400: "the state machine does not allow this move", 401: "no valid credentials", 402: "a plan quota is used up",
    403: "not allowed: role, scope or a suspended tenant", 404: "no such object in this tenant",
    409: "a conflicting write: a stale If-Match version or a duplicate", 413: "the body is too large",
    422: "the request failed validation; `fields` names what", 429: "slow down: retry after Retry-After",
    500: "an unexpected failure", 503: "an upstream service or the pipeline is unavailable; retry after Retry-After",
}


class _Schemas:
    """Collects every type the document needs, then generates them together so references agree."""

    def __init__(self) -> None:
        self.inputs: dict[tuple[Any, str], Any] = {}

    def want(self, kind: Any, mode: str) -> tuple[Any, str]:
        key = (kind, mode)
        if key not in self.inputs:
            self.inputs[key] = TypeAdapter(kind).core_schema
        return key

    def generate(self) -> tuple[dict[tuple[Any, str], dict[str, Any]], dict[str, Any]]:
        keys = list(self.inputs)
        generator = GenerateJsonSchema(by_alias=True, ref_template=REF)
        found, definitions = generator.generate_definitions(
            [(kind, mode, self.inputs[(kind, mode)]) for kind, mode in keys])  # type: ignore[misc]
        return found, dict(sorted(definitions.items()))


def document(plane: Plane, routes: list[Route]) -> dict[str, Any]:
    schemas = _Schemas()
    error_key = schemas.want(ErrorBody, "serialization")
    parameter_models = {m for r in routes for m in (r.query, r.path_params) if m is not None}
    for model in parameter_models:
        schemas.want(model, "validation")
    for r in routes:
        if r.body is not None:
            schemas.want(r.body, "validation")
        if r.response is not None:
            schemas.want(r.response, "serialization")
    events = {f: schemas.want(Event[f.model], "serialization") for f in FAMILIES} if plane == "tenant" else {}
    found, definitions = schemas.generate()
    # Query and path models become parameters, not components of their own.
    parameters_of = {m: _inline(found[(m, "validation")], definitions) for m in parameter_models}
    for model in parameter_models:
        definitions.pop(found[(model, "validation")].get("$ref", "").rsplit("/", 1)[-1], None)

    schemes = SECURITY[plane]
    paths: dict[str, dict[str, Any]] = defaultdict(dict)
    for r in routes:
        paths[r.path][r.method.lower()] = _operation(r, found, parameters_of, found[error_key], list(schemes))
    _link_creates(routes, paths)
    out = {
        "openapi": "3.1.0",
        "info": {"title": TITLES[plane], "version": importlib.metadata.version("vigil"), "description": DESCRIPTION},
        "tags": [{"name": t} for t in sorted({t for r in routes for t in r.tags})],
        "paths": dict(paths),
        "components": {"schemas": definitions, "securitySchemes": schemes},
    }
    if events:
        out["webhooks"] = {t: _webhook(f, t, found[key]) for f, key in events.items() for t in f.known}
    return out


WEBHOOK_HEADERS = {
    "Vigil-Event": "the event type",
    "Vigil-Delivery": "the delivery id: the same on every retry of this delivery",
    "Vigil-Attempt": "1 for the first attempt, 2 for the first retry, …",
    "Vigil-Timestamp": "Unix seconds when this attempt was signed",
    "Vigil-Signature": "t=<timestamp>,v1=<hex HMAC-SHA256 of '<timestamp>.<raw body>' with the secret> (a second "
                       "v1= while a rotated-out secret still signs)",
}


def _webhook(family: Family, event_type: str, schema: dict[str, Any]) -> dict[str, Any]:
    """What a subscriber receives for one event type: the same envelope on the live stream and in MCP."""
    return {"post": {
        "operationId": f"webhook_{event_type.replace('.', '_')}",
        "summary": f"{event_type}: the {family.resource_type} after the event",
        "tags": ["webhooks"],
        "parameters": [{"name": n, "in": "header", "required": True, "description": d, "schema": {"type": "string"}}
                       for n, d in WEBHOOK_HEADERS.items()],
        "requestBody": {"required": True, "content": {"application/json": {"schema": schema}}},
        "responses": {"200": {"description": "any 2xx: delivered. 429 and 5xx (or no answer within the timeout) "
                                             "are retried on the ladder; 410 disables the subscription; any other "
                                             "answer fails the delivery"}},
        "x-required-scopes": [family.scope.value],
    }}


def _inline(schema: dict[str, Any], definitions: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    return definitions[ref.rsplit("/", 1)[-1]] if ref else schema


Found = dict[tuple[Any, str], dict[str, Any]]


def _operation(r: Route, found: Found, parameters_of: dict[Any, dict[str, Any]], error_schema: dict[str, Any],
               scheme_names: list[str]) -> dict[str, Any]:
    op: dict[str, Any] = {"operationId": r.operation_id, "summary": r.summary, "tags": list(r.tags)}
    if r.description:
        op["description"] = r.description
    parameters = _parameters(r, parameters_of)
    if parameters:
        op["parameters"] = parameters
    if r.body is not None:
        op["requestBody"] = {"required": True,
                             "content": {"application/json": {"schema": found[(r.body, "validation")]}}}
    elif r.consumes:
        op["requestBody"] = {"required": True, "content": {m: {"schema": _media_schema(m)} for m in r.consumes}}
    op["responses"] = {**_success(r, found), **_errors(r, error_schema)}
    if _rate_limited(r):
        for response in op["responses"].values():
            response.setdefault("headers", {}).update(
                {name: {"description": text, "schema": {"type": "integer"}} for name, text in RATE_HEADERS.items()})
    op["security"] = [{name: []} for name in scheme_names] if r.auth in ("tenant", "operator") else []
    op["x-required-scopes"] = [r.scope.value] if r.scope is not None else []
    if r.quota is not None:
        op["x-quota"] = r.quota
    if r.role is not None:
        op["x-minimum-role"] = r.role
    if r.rate is not None:
        op["x-ratelimit-class"] = r.rate
    return op


def _parameters(r: Route, parameters_of: dict[Any, dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if r.path_params is not None:
        for name, prop in parameters_of[r.path_params]["properties"].items():
            out.append({"name": name, "in": "path", "required": True, **_described(prop)})
    else:
        out += [{"name": n, "in": "path", "required": True, "schema": {"type": "string"}} for n in r.path_names]
    if r.query is not None:
        generated = parameters_of[r.query]
        required = set(generated.get("required", ()))
        for name, prop in generated["properties"].items():
            param = {"name": name, "in": "query", "required": name in required, **_described(prop)}
            if prop.get("type") == "array":
                param.update(style="form", explode=True)
            out.append(param)
    if r.auth == "tenant":
        out.append({"name": "x-tenant-id", "in": "header", "required": False, "schema": {"type": "string"},
                    "description": "the tenant of the token: required with a JWT; with an API key it may be left "
                                   "out (if sent, it must be the key's tenant)"})
    if r.if_match:
        out.append({"name": "If-Match", "in": "header", "required": False, "schema": {"type": "string"},
                    "description": 'the ETag (version) of the object read, e.g. "3": a stale one answers 409'})
    if r.method == "POST" and r.auth in ("tenant", "operator"):
        out.append({"name": "Idempotency-Key", "in": "header", "required": False,
                    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
                    "description": "the same key within 24 h replays the first 2xx answer"})
    return out


def _rate_limited(r: Route) -> bool:
    """Answers of tenant-plane requests that count against a rate class carry the X-RateLimit-* headers."""
    return r.rate is not None and r.plane == "tenant" and r.auth == "tenant"


def _link_creates(routes: list[Route], paths: dict[str, dict[str, Any]]) -> None:
    """OpenAPI links from each create (a POST answering 201 with an object that has an `id`) to the operations on
    the object it created: those whose path is the create's path plus one `{parameter}` (and perhaps more
    segments), with the new id for that parameter and the create's own path parameters for the others."""
    for create in routes:
        if create.method != "POST" or create.status != 201 or create.response is None \
                or "id" not in create.response.model_fields:
            continue
        links = {}
        for target in routes:
            match = re.fullmatch(re.escape(create.path) + r"/\{(\w+)\}(/.*)?", target.path)
            if match is None or target is create or set(target.path_names) - {match.group(1), *create.path_names}:
                continue
            parameters = {name: f"$request.path.{name}" for name in create.path_names}
            parameters[match.group(1)] = "$response.body#/data/id"
            links[target.operation_id] = {"operationId": target.operation_id, "parameters": parameters}
        if links:
            paths[create.path]["post"]["responses"]["201"]["links"] = links


def _described(prop: dict[str, Any]) -> dict[str, Any]:
    """A model field as a parameter: its schema (a parameter is absent rather than null) and description."""
    prop = dict(prop)
    description = prop.pop("description", None)
    prop.pop("title", None)
    options = prop.get("anyOf")
    if options and {"type": "null"} in options:
        rest = [o for o in options if o != {"type": "null"}]
        prop.pop("anyOf")
        prop.update(rest[0] if len(rest) == 1 else {"anyOf": rest})
        if prop.get("default", 0) is None:
            prop.pop("default")
    return {"schema": prop, **({"description": description} if description else {})}


def _media_schema(media: str) -> dict[str, Any]:
    if media == PROTOBUF:
        return {"type": "string", "contentMediaType": PROTOBUF}
    if media.startswith("text/"):
        return {"type": "string"}
    return {"type": "object"}


def _success(r: Route, found: Found) -> dict[str, Any]:
    answer: dict[str, Any] = {"description": r.summary}
    if r.response is not None:
        answer["content"] = {"application/json": {"schema": {
            "type": "object", "required": ["data"], "properties": {"data": found[(r.response, "serialization")]}}}}
    elif r.produces:
        answer["content"] = {m: {"schema": _media_schema(m)} for m in r.produces}
    if r.etag:
        answer["headers"] = {"ETag": {"description": 'the version of the object, e.g. "3"',
                                      "schema": {"type": "string"}}}
    return {str(r.status): answer}


def _errors(r: Route, error_schema: dict[str, Any]) -> dict[str, Any]:
    by_status: dict[int, set[str]] = defaultdict(set)
    for err in (*r.error_types(), VigilError):
        by_status[err.http_status].add(err.code)
    if r.body is not None or r.consumes:
        by_status[413].add(ValidationFailed.code)
    out = {}
    for status in sorted(by_status):
        response: dict[str, Any] = {
            "description": f"{', '.join(sorted(by_status[status]))}: {ERROR_DESCRIPTIONS.get(status, '')}".rstrip(": "),
            "content": {"application/json": {"schema": error_schema}}}
        if status in (429, 503):
            response["headers"] = {"Retry-After": {"description": "seconds to wait before retrying",
                                                   "schema": {"type": "integer"}}}
        out[str(status)] = response
    for status, model in r.own_errors.items():
        out[str(status)] = {**out.get(str(status), {}), "description": f"answered in this route's own shape ({model.__name__})",
                            "content": {"application/json": {"schema": model.model_json_schema()}}}
    # Below the application, aiohttp's HTTP parser refuses a malformed request (or a request line or header over
    # its limits) with a plain-text 400 before any route runs; every operation can meet it.
    malformed = out.setdefault("400", {"description": "a malformed HTTP request", "content": {}})
    malformed["content"]["text/plain"] = {"schema": {"type": "string"}}
    if "malformed" not in malformed["description"]:
        malformed["description"] += "; or, as text/plain, a malformed HTTP request"
    return out
