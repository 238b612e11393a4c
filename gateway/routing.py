"""Route declarations: everything about a route, said once where the handler is.

    routes = Routes("tenant", tags=("incidents",), scopes="incidents")

    @routes.get("/api/incidents/{id}", summary="Get an incident", path=ById, response=Incident)
    async def get_incident(request: web.Request, path: ById) -> incident_pb2.Incident:
        return (await call(upstreams(request).incident.GetIncident(...))).incident

A declaration carries the plane, the authentication (`public`, `tenant`, `operator`, or `integration` for
doors whose handler checks an integration key), the minimum role, the API-key scope, the rate-limit class, the
body/query/path models, the response model and status, the plan quota it uses up (`quota=`), the errors it can
answer, a summary and tags. From it:

- the middleware (gateway/middleware.py) authenticates and authorizes the caller;
- the endpoint validates the inputs and passes them to the handler as `body=`, `query=`, `path=` (and
  `expected_version=` from If-Match when `if_match=True`), each only when declared;
- the handler returns the answer's source (a proto message, a dict, or an object with the response model's
  fields) and the endpoint answers `{"data": <response model's JSON>}` with the declared status, adding
  `ETag` when the response model has a `version` (a handler may also return a `web.StreamResponse`);
- the OpenAPI document describes the operation;
- `tool="name"` makes the route an MCP tool of that name (gateway/mcp/tools.py).

Defaults: a GET needs the viewer role and the family's read scope and is rate class `read`; anything else
needs the responder role and the family's write scope and is class `write`; an `ai` route uses up the
`ai_calls_per_day` quota. Route modules in gateway/routes/
each hold one `Routes` and are collected automatically: adding a route touches one file.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel

from gateway import envelope, validation, versioning
from gateway.limits import MeteredQuota
from gateway.schemas.base import Body, Path, Query
from gateway.schemas.convert import to_json
from gateway.scopes import RateClass, Scope, family
from vigil.runtime.errors import (
    Conflict,
    Forbidden,
    NotFound,
    QuotaExceeded,
    RateLimited,
    Unauthenticated,
    Unavailable,
    ValidationFailed,
    VigilError,
)

Plane = Literal["tenant", "control"]
Auth = Literal["public", "tenant", "operator", "integration"]
Role = Literal["viewer", "responder", "admin", "operator"]
Handler = Callable[..., Awaitable[Any]]
READ_METHODS = frozenset({"GET", "HEAD"})
JSON = "application/json"


class _Default:
    def __repr__(self) -> str:
        return "DEFAULT"


DEFAULT: Any = _Default()


@dataclass(frozen=True, eq=False)
class Route:
    method: str
    path: str
    handler: Handler
    plane: Plane
    summary: str
    auth: Auth
    role: Role | None
    scope: Scope | None
    rate: RateClass | None
    tags: tuple[str, ...]
    quota: MeteredQuota | None = None
    body: type[Body] | type | None = None  # a Body model, or a TypedDict
    query: type[Query] | None = None
    path_params: type[Path] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    errors: tuple[type[VigilError], ...] = ()
    if_match: bool = False
    # Media types for bodies that are not a JSON model (OTLP's protobuf); the JSON envelope otherwise.
    consumes: tuple[str, ...] = ()
    produces: tuple[str, ...] = ()
    description: str = ""
    # The MCP tool this route is (gateway/mcp/tools.py), by name; None: not a tool.
    tool: str | None = None
    # A POST that only reads (a search with its filters in the body; the MCP endpoint, whose tool calls are each
    # authorized as their own route): readers may call it.
    read_only: bool = False
    # Error statuses answered in the route's own JSON shape instead of the envelope (a door that speaks a
    # source's protocol, e.g. PagerDuty's), with the model of that shape.
    own_errors: dict[int, type[BaseModel]] = field(default_factory=dict)
    endpoint: Handler = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "endpoint", _endpoint(self))

    @property
    def reads(self) -> bool:
        return self.method in READ_METHODS or self.read_only

    @property
    def operation_id(self) -> str:
        return self.handler.__name__

    @property
    def etag(self) -> bool:
        return self.response is not None and "version" in self.response.model_fields

    @property
    def path_names(self) -> list[str]:
        return re.findall(r"{(\w+)(?::[^}]*)?}", self.path)

    def error_types(self) -> tuple[type[VigilError], ...]:
        """Every error this operation can answer: the declared ones and those that follow from the declaration."""
        found: list[type[VigilError]] = [ValidationFailed]  # every route refuses unknown query parameters
        if self.auth in ("tenant", "operator", "integration"):
            found += [Unauthenticated, Forbidden]
        if self.path_names:
            found.append(NotFound)
        if self.if_match:
            found.append(Conflict)
        if self.quota is not None:
            found.append(QuotaExceeded)
        if self.rate is not None and self.plane == "tenant" and self.auth in ("tenant", "integration"):
            found.append(RateLimited)
        if self.plane == "tenant" and self.auth in ("tenant", "integration"):
            found.append(Unavailable)  # an upstream service is down
        found += [e for e in self.errors if e not in found]
        return tuple(found)


def _endpoint(route: Route) -> Handler:
    """The aiohttp handler: parse what the route declares, call the handler, answer in the envelope."""
    params = set(inspect.signature(route.handler).parameters)
    wanted = {"body": route.body, "query": route.query, "path": route.path_params,
              "expected_version": route.if_match or None}
    for name, declared in wanted.items():
        if (name in params) != bool(declared):
            raise TypeError(f"{route.operation_id}: declares {name}={declared!r} but the handler "
                            f"{'does not take' if declared else 'takes'} `{name}`")
    handler, model, status, etag = route.handler, route.response, route.status, route.etag
    path_model, if_match = route.path_params, route.if_match
    parse_query = validation.QueryParser(route.query) if route.query is not None else None
    parse_body = validation.BodyParser(route.body) if route.body is not None else None

    async def endpoint(request: web.Request) -> web.StreamResponse:
        kwargs: dict[str, Any] = {}
        if parse_query is not None:
            kwargs["query"] = parse_query(request)
        elif request.query_string:
            validation.refuse_query(request)
        if path_model is not None:
            kwargs["path"] = validation.path_params(request, path_model)
        if parse_body is not None:
            kwargs["body"] = await parse_body(request)
        if if_match:
            kwargs["expected_version"] = versioning.if_match(request)
        result = await handler(request, **kwargs)
        if isinstance(result, web.StreamResponse):
            return result
        data = to_json(model, result) if model is not None else result
        if etag:
            return envelope.ok(data, status, {"ETag": versioning.etag(data["version"])})
        return envelope.ok(data, status)

    endpoint.__name__ = endpoint.__qualname__ = route.operation_id
    endpoint.vigil_route = route  # type: ignore[attr-defined]
    return endpoint


def route_of(request: web.Request) -> Route | None:
    """The declaration of the route this request matched (None for 404/405 and aiohttp's own routes)."""
    return getattr(request.match_info.handler, "vigil_route", None)


class Routes:
    """The routes of one module: its plane, tags and scope family are the defaults of each declaration."""

    def __init__(self, plane: Plane, *, tags: tuple[str, ...], scopes: str | None = None,
                 auth: Auth | None = None) -> None:
        self.plane: Plane = plane
        self.tags = tags
        self.read_scope, self.write_scope = family(scopes) if scopes else (None, None)
        self.auth: Auth = auth or ("operator" if plane == "control" else "tenant")
        self.routes: list[Route] = []

    def __iter__(self) -> Iterator[Route]:
        return iter(self.routes)

    def route(self, method: str, template: str, *, summary: str, auth: Auth | None = None,
              role: Role | None = None, scope: Scope | None = DEFAULT, rate: RateClass | None = DEFAULT,
              quota: MeteredQuota | None = DEFAULT, tags: tuple[str, ...] | None = None,
              path: type[Path] | None = None, **options: Any) -> Callable[[Handler], Handler]:
        auth = auth or self.auth
        reading = method in READ_METHODS
        if role is None and auth in ("tenant", "operator"):
            role = "operator" if auth == "operator" else ("viewer" if reading else "responder")
        if scope is DEFAULT:
            scope = None if auth == "public" else (self.read_scope if reading else self.write_scope)
        if rate is DEFAULT:
            rate = "read" if reading else "write"
        if quota is DEFAULT:
            quota = "ai_calls_per_day" if rate == "ai" else None

        def declare(handler: Handler) -> Handler:
            self.routes.append(Route(
                method=method, path=template, handler=handler, plane=self.plane, summary=summary, auth=auth,
                role=role, scope=scope, rate=rate, quota=quota, tags=tags or self.tags, path_params=path,
                description=inspect.cleandoc(handler.__doc__ or ""), **options))
            return handler

        return declare

    def get(self, template: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route("GET", template, **kw)

    def post(self, template: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route("POST", template, **kw)

    def search(self, template: str, **kw: Any) -> Callable[[Handler], Handler]:
        """A POST that only reads (a search whose filters do not fit in a query string): the role, scope and
        rate class of a GET."""
        return self.route("POST", template, role="viewer", scope=self.read_scope, rate="read", read_only=True, **kw)

    def put(self, template: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route("PUT", template, **kw)

    def patch(self, template: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route("PATCH", template, **kw)

    def delete(self, template: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route("DELETE", template, **kw)
