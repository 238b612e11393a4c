"""Versions over HTTP, for every resource that has them: the answer carries `ETag: "<version>"`; a PATCH may
send `If-Match: "<version>"` (its ETag) and is refused with 409 CONFLICT when the resource moved on; and a
PATCH body becomes an update message whose `update_mask` names exactly the fields sent."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from aiohttp import web
from google.protobuf.message import Message

from gateway.schemas.base import Body, ProtoField
from gateway.schemas.convert import json_name, to_proto
from vigil.runtime.errors import FieldError, ValidationFailed

IF_MATCH = "If-Match"
P = TypeVar("P", bound=Message)


def etag(version: int) -> str:
    return f'"{version}"'


def if_match(request: web.Request) -> int:
    """The version named by If-Match (`"3"`, `W/"3"` or `3`); 0 when the header is absent."""
    raw = request.headers.get(IF_MATCH)
    if raw is None:
        return 0
    value = raw.strip().removeprefix("W/").strip('"')
    # ASCII digits only (str.isdigit also takes "²", which int() refuses) and a version that fits the services'
    # int64: anything else is a client's mistake, not a 500.
    if not (value.isascii() and value.isdigit()) or not 1 <= int(value) < 2**63:
        raise ValidationFailed("invalid If-Match", [FieldError(IF_MATCH, "must be the version from the ETag, "
                                                                        'e.g. "3"')])
    return int(value)


def sent_fields(patch: Body, *, ignore: Iterable[str] = ()) -> set[str]:
    """The fields a PATCH body set (null is refused: a field is changed or left out), at least one."""
    sent = set(patch.model_fields_set)
    fields = type(patch).model_fields
    nulls = [FieldError(json_name(n, fields[n]), "may not be null") for n in sorted(sent) if getattr(patch, n) is None]
    if nulls:
        raise ValidationFailed("request body failed validation", nulls)
    sent -= set(ignore)
    if not sent:
        raise ValidationFailed("nothing to update", [FieldError("body", "name at least one field to change")])
    return sent


def update_message(message: type[P], patch: Body, *, ignore: Iterable[str] = (), **fixed: Any) -> P:
    """The update request for a PATCH: the fields sent, `update_mask` naming them (proto names), and the
    `fixed` values (id, expected_version). Body fields that are not the resource's (a timeline note) are
    `ignore`d here and handled by the caller."""
    ignore = tuple(ignore)
    sent = sent_fields(patch, ignore=ignore)
    fields = type(patch).model_fields
    mask = []
    for name in sent:
        marker = next((m for m in fields[name].metadata if isinstance(m, ProtoField)), None)
        mask.append(marker.name if marker else json_name(name, fields[name]))
    return to_proto(message, patch, only=sent, skip=ignore, update_mask=sorted(mask), **fixed)  # type: ignore[return-value]
