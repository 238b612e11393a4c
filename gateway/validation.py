"""Validation of the HTTP shape, written once and driven by the route's models: JSON bodies (`Body`), query
strings (`Query`) and path parameters (`Path`), every failure a VALIDATION_ERROR naming its fields. Shape only:
business rules (a change's window, a CI's class) are the services' to check."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, TypeAdapter, ValidationError

from gateway.schemas.base import Query
from gateway.schemas.convert import Shape, json_name, shape_of
from vigil.runtime.errors import FieldError, ValidationFailed

M = TypeVar("M", bound=BaseModel)
Q = TypeVar("Q", bound=Query)


def _field_name(loc: tuple) -> str:
    name = ""
    for part in loc:
        if isinstance(part, int):
            name += f"[{part}]"
        else:
            name += f".{part}" if name else str(part)
    return name or "body"


def field_errors(exc: ValidationError) -> list[FieldError]:
    errors = []
    for err in exc.errors(include_url=False):
        if err["type"] == "json_invalid":
            errors.append(FieldError("body", f"malformed JSON: {err['ctx'].get('error', err['msg'])}"))
        elif err["type"] == "extra_forbidden":
            errors.append(FieldError(_field_name(err["loc"]), "unknown field"))
        elif err["type"] == "model_type":  # the body itself, or an object nested in it
            errors.append(FieldError(_field_name(err["loc"]), "must be a JSON object"))
        else:
            errors.append(FieldError(_field_name(err["loc"]), err["msg"]))
    return errors


class _NonFinite(ValueError):
    pass


def _refuse(constant: str) -> Any:
    raise _NonFinite(constant)


def non_finite(raw: bytes) -> str | None:
    """`NaN`, `Infinity` or `-Infinity` where the body has one as a number: not JSON (RFC 8259), but pydantic's
    parser reads them, and they would be stored changed (null, "nan", 0). Parsed again only when the bytes hold
    one of the words, which almost no body does."""
    if b"NaN" not in raw and b"Infinity" not in raw:
        return None
    try:
        json.loads(raw, parse_constant=_refuse)
    except _NonFinite as exc:
        return str(exc)
    except (ValueError, RecursionError):  # malformed otherwise: pydantic names it
        return None
    return None


class BodyParser:
    """Parses a JSON body into its model (a `Body` model, or a TypedDict where plain dicts are all the handler
    needs, as for the log batches): straight from the bytes, in pydantic-core."""

    def __init__(self, model: Any) -> None:
        self.adapter = TypeAdapter(model)

    async def __call__(self, request: web.Request) -> Any:
        raw = await request.read()
        if not raw.strip():
            raise ValidationFailed("a JSON body is required", [FieldError("body", "is required")])
        constant = non_finite(raw)
        if constant is not None:
            raise ValidationFailed("request body failed validation", [FieldError(
                "body", f"malformed JSON: {constant} is not a JSON number")])
        try:
            return self.adapter.validate_json(raw)
        except ValidationError as exc:
            raise ValidationFailed("request body failed validation", field_errors(exc)) from None


def refuse_query(request: web.Request) -> None:
    """For routes that take no query parameters."""
    if request.query_string:
        unknown = sorted(set(request.query))
        raise ValidationFailed("unknown query parameters", [FieldError(u, "unknown query parameter") for u in unknown])


class QueryParser:
    """Parses a query string into a `Query` model: compiled once per model, run per request."""

    def __init__(self, model: type[Q]) -> None:
        self.model = model
        self.shapes: dict[str, Shape] = {}
        self.bounds: dict[str, tuple[Any, Any]] = {}
        for name, info in model.model_fields.items():
            key = json_name(name, info)
            self.shapes[key] = shape_of(info.annotation, info.metadata)
            low = next((m.ge for m in info.metadata if hasattr(m, "ge")), None)
            high = next((m.le for m in info.metadata if hasattr(m, "le")), None)
            self.bounds[key] = (low, high)
        required = any(info.is_required() for info in model.model_fields.values())
        # Query models are frozen, so the answer to an empty query string can be shared.
        self.empty: Q | None = None if required else model()

    def __call__(self, request: web.Request) -> Q:
        query = request.query
        if not query and self.empty is not None:
            return self.empty
        unknown = sorted(k for k in set(query) if k not in self.shapes)
        if unknown:
            raise ValidationFailed("unknown query parameters",
                                   [FieldError(u, "unknown query parameter") for u in unknown])
        data: dict[str, Any] = {}
        for key in set(query):
            shape = self.shapes[key]
            if shape.kind == "list":
                raw = query.getall(key)
                values = [v.strip() for r in raw for v in r.split(",") if v.strip()] if shape.split else list(raw)
                if values:
                    data[key] = values
            else:
                value = query[key]
                if value != "":
                    data[key] = value
        try:
            return self.model.model_validate(data)
        except ValidationError as exc:
            errors = [self._error(err) for err in exc.errors(include_url=False)]
        names = sorted({e.field for e in errors})
        if len(names) == 1:
            missing = all(e.message == "is required" for e in errors)
            raise ValidationFailed(f"{names[0]} is required" if missing else f"invalid {names[0]}", errors)
        raise ValidationFailed("invalid query parameters", errors)

    def _error(self, err: Any) -> FieldError:
        name = str(err["loc"][0]) if err["loc"] else "query"
        kind = err["type"]
        if kind == "missing":
            return FieldError(name, "is required")
        if kind == "int_parsing":
            return FieldError(name, "must be an integer")
        if kind == "float_parsing":
            return FieldError(name, "must be a number")
        if kind == "bool_parsing":
            return FieldError(name, "must be true or false")
        low, high = self.bounds.get(name, (None, None))
        if kind in ("greater_than_equal", "less_than_equal") and low is not None and high is not None:
            return FieldError(name, f"must be between {low} and {high}")
        return FieldError(name, err["msg"])


def path_params(request: web.Request, model: type[M]) -> M:
    try:
        return model.model_validate(request.match_info)
    except ValidationError as exc:
        errors = [FieldError(_field_name(e["loc"]), e["msg"]) for e in exc.errors(include_url=False)]
        raise ValidationFailed("invalid path", errors) from None
