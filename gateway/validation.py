"""Validation of the HTTP shape, written once: JSON bodies through pydantic models (unknown fields refused,
types strict) and query parameters, every failure a VALIDATION_ERROR naming its fields."""

from __future__ import annotations

from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, ValidationError

from vigil.runtime.errors import FieldError, ValidationFailed

M = TypeVar("M", bound=BaseModel)

MAX_LIMIT = 200
DEFAULT_LIMIT = 50


class Body(BaseModel):
    """Base of every request body: strict types, unknown fields refused."""

    model_config = ConfigDict(extra="forbid", strict=True, str_max_length=100_000)


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
        elif err["type"] == "model_type":
            errors.append(FieldError("body", "must be a JSON object"))
        else:
            errors.append(FieldError(_field_name(err["loc"]), err["msg"]))
    return errors


async def body(request: web.Request, model: type[M]) -> M:
    raw = await request.read()
    if not raw.strip():
        raise ValidationFailed("a JSON body is required", [FieldError("body", "is required")])
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise ValidationFailed("request body failed validation", field_errors(exc)) from None


def query_int(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValidationFailed(f"invalid {name}", [FieldError(name, "must be an integer")]) from None
    if not low <= value <= high:
        raise ValidationFailed(f"invalid {name}", [FieldError(name, f"must be between {low} and {high}")])
    return value


def query_list(request: web.Request, name: str) -> list[str]:
    """`?status=open,acknowledged` and `?status=open&status=acknowledged` both mean two values."""
    values: list[str] = []
    for raw in request.query.getall(name, []):
        values.extend(v.strip() for v in raw.split(",") if v.strip())
    return values


def paging(request: web.Request) -> tuple[int, int]:
    return (query_int(request, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT),
            query_int(request, "offset", 0, 0, 10_000_000))


def refuse_unknown_query(request: web.Request, allowed: set[str]) -> None:
    unknown = sorted(set(request.query) - allowed)
    if unknown:
        raise ValidationFailed("unknown query parameters", [FieldError(u, "unknown query parameter") for u in unknown])
