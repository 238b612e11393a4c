"""Models <-> proto messages, derived from the models' declarations.

`to_json(Model, source)` answers: the source is a proto message (the usual case), a dict or any object with the
model's fields as attributes. For each (model, source type) pair a converter is generated once, as straight-line
Python (`{"id": m.id, "created_at": iso(m.created_at), ...}`), so an answer costs what a hand-written mapping
did, and nothing is validated at run time. Rules, from the model's annotations and the proto descriptor:
Timestamp -> RFC 3339 text (`Time`, `NanoTime`), Struct -> dict, repeated and map fields -> list and dict,
nested messages -> their model, an empty proto string -> null where the model says `str | None`.

`to_proto(Message, body)` builds a request message from a request model: same-named fields (or `ProtoField`),
datetimes into Timestamps, dicts into Structs, nested models into nested messages, `Paging`/`Sorting` fields
into the `page` PageRequest.
"""

from __future__ import annotations

import keyword
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass
from google.protobuf.struct_pb2 import Struct
from google.protobuf.timestamp_pb2 import Timestamp
from pydantic import BaseModel

from gateway.schemas.base import Derived, NoSplit, Paging, Precision, ProtoField, Sorting
from vigil.common.v1 import common_pb2
from vigil.runtime.memo import LISTED_MEMO, Memo
from vigil.runtime.protos import struct_dict

TIMESTAMP = Timestamp.DESCRIPTOR.full_name
STRUCT = Struct.DESCRIPTOR.full_name
_NONE = type(None)
_EPOCH = datetime(1970, 1, 1)  # naive: isoformat() then has no offset to strip


# -- values --------------------------------------------------------------------------------------------------


@lru_cache(maxsize=16_384)
def _second(seconds: int) -> str:
    """`YYYY-MM-DDTHH:MM:SS` of a Unix second. Cached: the same incidents are read again and again (dashboards
    polling a page), and formatting through datetime cost a list page more than any other step of its JSON."""
    return (_EPOCH + timedelta(seconds=seconds)).isoformat()


def iso(ts: Timestamp) -> str | None:
    """A protobuf Timestamp as RFC 3339 UTC with microseconds (None when unset)."""
    seconds, nanos = ts.seconds, ts.nanos
    if not seconds and not nanos:
        return None
    return f"{_second(seconds)}.{nanos // 1000:06d}Z"


def iso_ns(ts: Timestamp) -> str:
    """A protobuf Timestamp as RFC 3339 UTC with nanoseconds (telemetry keeps them)."""
    return f"{_second(ts.seconds)}.{ts.nanos:09d}Z"


def iso_value(value: datetime | Timestamp | str | None, nanoseconds: bool = False) -> str | None:
    """A time the handler put in a dict or object: a datetime or a proto Timestamp as RFC 3339 (text as it is)."""
    if isinstance(value, Timestamp):
        return iso_ns(value) if nanoseconds else iso(value)
    if isinstance(value, datetime):
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        if nanoseconds:
            return value.strftime("%Y-%m-%dT%H:%M:%S") + f".{value.microsecond * 1000:09d}Z"
        return value.isoformat(timespec="microseconds").replace("+00:00", "Z")
    return value


# -- shapes of model fields ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Shape:
    kind: str  # scalar | time | model | list | map | json
    optional: bool = False
    item: Shape | None = None
    model: type[BaseModel] | None = None
    nanoseconds: bool = False
    split: bool = True


def shape_of(annotation: Any, metadata: Iterable[Any] = ()) -> Shape:
    extras = list(metadata)
    while typing.get_origin(annotation) is typing.Annotated:
        annotation, *more = typing.get_args(annotation)
        extras.extend(more)
    optional = False
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not _NONE]
        optional = len(args) < len(typing.get_args(annotation))
        if len(args) != 1:
            return Shape("json", optional)
        return _with(shape_of(args[0], extras), optional=True) if optional else shape_of(args[0], extras)
    origin = typing.get_origin(annotation)
    split = not any(isinstance(e, NoSplit) for e in extras)
    if origin in (list, tuple, set, frozenset):
        return Shape("list", optional, item=shape_of(typing.get_args(annotation)[0]), split=split)
    if origin in (dict, Mapping):
        return Shape("map", optional, item=shape_of(typing.get_args(annotation)[1]))
    if annotation is datetime:
        precision = next((e for e in extras if isinstance(e, Precision)), Precision(False))
        return Shape("time", optional, nanoseconds=precision.nanoseconds)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return Shape("model", optional, model=annotation)
    if annotation is Any or annotation is dict:
        return Shape("json", optional)
    return Shape("scalar", optional)


def _with(shape: Shape, **changes: Any) -> Shape:
    return Shape(**{**shape.__dict__, **changes})


def _marker(metadata: Iterable[Any], kind: type) -> Any:
    return next((m for m in metadata if isinstance(m, kind)), None)


def json_name(name: str, info: Any) -> str:
    return info.alias or name


# -- answers: model <- source ------------------------------------------------------------------------------------


class Converter:
    """A compiled source -> JSON function; `fn` is set once compiled (nested and recursive models refer to it)."""

    __slots__ = ("fn", "memoised")

    def __init__(self) -> None:
        self.fn: Callable[[Any], dict[str, Any]] = _uncompiled
        self.memoised = False  # lists of it memoise their items' JSON (below)


def _uncompiled(_source: Any) -> dict[str, Any]:
    raise RuntimeError("converter used before it was compiled")


_CONVERTERS: dict[tuple[type[BaseModel], type], Converter] = {}


def converter(model: type[BaseModel], source: type) -> Converter:
    conv = _CONVERTERS.get((model, source))
    if conv is None:
        conv = _CONVERTERS[(model, source)] = Converter()
        try:
            conv.fn = _compile(model, source)
            # Versioned resources (incidents, changes, CIs, ...) are what dashboards poll; telemetry rows are
            # mostly seen once and would only push them out.
            conv.memoised = issubclass(source, Message) and "version" in source.DESCRIPTOR.fields_by_name
        except Exception:
            del _CONVERTERS[(model, source)]
            raise
    return conv


def to_json(model: type[BaseModel], source: Any) -> Any:
    """The JSON value of `source` as `model` describes it (None stays None)."""
    if source is None:
        return None
    return converter(model, type(source)).fn(source)


# List items' JSON, by converter and the item message's bytes: a polled page answers the same items again.
# The bytes name the input exactly, and a converter is a function of its message alone (`Derived` included).
_RENDERED: Memo[tuple[Converter, bytes], dict[str, Any]] = Memo(LISTED_MEMO)


def to_json_list(model: type[BaseModel], sources: Iterable[Any]) -> list[Any]:
    """The JSON values of a list's items; versioned resources' are memoised by their bytes (read-only: shared)."""
    items = list(sources)
    if not items:
        return items
    conv = converter(model, type(items[0]))  # a repeated field, or a list the handler built: one type
    fn = conv.fn
    if not conv.memoised:
        return [fn(x) for x in items]
    return [_RENDERED.get_or_make((conv, x.SerializeToString()), fn, x) for x in items]


def _compile(model: type[BaseModel], source: type) -> Callable[[Any], dict[str, Any]]:
    namespace: dict[str, Any] = {"iso": iso, "iso_ns": iso_ns, "iso_value": iso_value,
                                 "struct_dict": struct_dict, "to_json": to_json, "to_json_list": to_json_list}
    descriptor = source.DESCRIPTOR if issubclass(source, Message) else None
    lines = []
    for name, info in model.model_fields.items():
        key = json_name(name, info)
        shape = shape_of(info.annotation, info.metadata)
        derived = _marker(info.metadata, Derived)
        where = f"{model.__name__}.{name} from {source.__name__}"
        if derived is not None:
            fn = f"derived_{len(namespace)}"
            namespace[fn] = derived.compute
            expr = _loose(shape, f"{fn}(m)", namespace)
        else:
            proto_name = (_marker(info.metadata, ProtoField) or ProtoField(key)).name
            if descriptor is not None:
                fd = descriptor.fields_by_name.get(proto_name)
                if fd is None:
                    raise TypeError(f"{where}: the message has no field {proto_name!r}")
                expr = _proto(shape, fd, _attr(proto_name), namespace, where)
            elif issubclass(source, Mapping):
                expr = _loose(shape, f"m[{proto_name!r}]", namespace)
            else:
                expr = _loose(shape, _attr(proto_name), namespace)
        lines.append(f"        {key!r}: {expr},")
    code = "def convert(m):\n    return {\n" + "\n".join(lines) + "\n    }\n"
    exec(compile(code, f"<to_json {model.__name__} from {source.__name__}>", "exec"), namespace)  # noqa: S102
    return namespace["convert"]


def _attr(name: str, obj: str = "m") -> str:
    return f"getattr({obj}, {name!r})" if keyword.iskeyword(name) else f"{obj}.{name}"


def _bind(namespace: dict[str, Any], value: Any, prefix: str) -> str:
    name = f"{prefix}_{len(namespace)}"
    namespace[name] = value
    return name


def _proto(shape: Shape, fd: FieldDescriptor, access: str, ns: dict[str, Any], where: str) -> str:
    message: Descriptor | None = fd.message_type
    if message is not None and message.GetOptions().map_entry:
        if shape.kind != "map":
            raise TypeError(f"{where}: a map field needs a dict annotation")
        value_fd = message.fields_by_name["value"]
        return "{{k: {} for k, v in {}.items()}}".format(_proto(shape.item, value_fd, "v", ns, where), access) \
            if value_fd.message_type is not None else f"dict({access})"
    if fd.is_repeated:
        if shape.kind != "list":
            raise TypeError(f"{where}: a repeated field needs a list annotation")
        if message is None:
            return f"list({access})"
        return f"[{_proto(shape.item, _Element(fd), 'x', ns, where)} for x in {access}]"
    if message is not None and message.full_name == TIMESTAMP:
        if shape.kind != "time":
            raise TypeError(f"{where}: a Timestamp needs a Time annotation")
        return f"iso_ns({access})" if shape.nanoseconds else f"iso({access})"
    if message is not None and message.full_name == STRUCT:
        if shape.kind not in ("map", "json"):
            raise TypeError(f"{where}: a Struct needs a dict annotation")
        return f"struct_dict({access})"
    if message is not None:
        if shape.kind != "model":
            raise TypeError(f"{where}: message {message.full_name} needs a model annotation")
        conv = _bind(ns, converter(shape.model, GetMessageClass(message)), "conv")  # type: ignore[arg-type]
        return f"{conv}.fn({access})"
    if shape.kind not in ("scalar", "json"):
        raise TypeError(f"{where}: a scalar field cannot be {shape.kind}")
    if shape.optional and fd.type == FieldDescriptor.TYPE_STRING:
        return f"({access} or None)"
    return access


class _Element:
    """One element of a repeated field: its descriptor's type, not repeated."""

    def __init__(self, fd: FieldDescriptor) -> None:
        self.message_type = fd.message_type
        self.type = fd.type
        self.is_repeated = False


def _loose(shape: Shape, access: str, ns: dict[str, Any]) -> str:
    """From a dict or object: values are taken as they are, except times, nested models and containers."""
    if shape.kind == "time":
        return f"iso_value({access}, {shape.nanoseconds})"
    if shape.kind == "model":
        return f"to_json({_bind(ns, shape.model, 'model')}, {access})"
    if shape.kind == "list":
        if shape.item is not None and shape.item.kind == "model":
            return f"to_json_list({_bind(ns, shape.item.model, 'model')}, {access})"
        if shape.item is not None and shape.item.kind == "time":
            return f"[iso_value(x, {shape.item.nanoseconds}) for x in {access}]"
        return f"list({access})"
    if shape.kind == "map" and shape.item is not None:
        if shape.item.kind == "model":
            return "{{k: to_json({}, v) for k, v in {}.items()}}".format(_bind(ns, shape.item.model, "model"), access)
        return f"dict({access})"
    return access


# -- requests: model -> proto ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Plan:
    steps: tuple[tuple[str, str, Callable[[Any], Any] | None], ...]  # (model attribute, proto field, transform)
    paged: bool


_PLANS: dict[tuple[type[BaseModel], type[Message], frozenset[str]], _Plan] = {}
_PAGE_FIELDS = ("limit", "offset", "sort", "order", "cursor")


def _plan(model: type[BaseModel], message: type[Message], skip: frozenset[str]) -> _Plan:
    key = (model, message, skip)
    plan = _PLANS.get(key)
    if plan is not None:
        return plan
    descriptor = message.DESCRIPTOR
    page = descriptor.fields_by_name.get("page")
    paged = (issubclass(model, Paging | Sorting) and page is not None
             and page.message_type.full_name == common_pb2.PageRequest.DESCRIPTOR.full_name)
    steps = []
    for name, info in model.model_fields.items():
        if name in skip or (paged and name in _PAGE_FIELDS):
            continue
        proto_name = (_marker(info.metadata, ProtoField) or ProtoField(json_name(name, info))).name
        fd = descriptor.fields_by_name.get(proto_name)
        if fd is None:
            raise TypeError(f"{model.__name__}.{name}: {descriptor.name} has no field {proto_name!r}")
        steps.append((name, proto_name, _transform(fd)))
    plan = _PLANS[key] = _Plan(tuple(steps), paged)
    return plan


def _transform(fd: FieldDescriptor) -> Callable[[Any], Any] | None:
    message = fd.message_type
    if message is None or message.full_name in (TIMESTAMP, STRUCT) or message.GetOptions().map_entry:
        return None  # scalars, datetimes, dicts: the message constructor takes them as they are
    cls = GetMessageClass(message)
    if fd.is_repeated:
        return lambda values: [to_proto(cls, v) if isinstance(v, BaseModel) else v for v in values]
    return lambda value: to_proto(cls, value) if isinstance(value, BaseModel) else value


def to_proto(message: type[Message], body: BaseModel, *, only: Iterable[str] | None = None,
             skip: Iterable[str] = (), **fixed: Any) -> Message:
    """`message` built from the model's fields (all of them, or `only` these), plus the `fixed` values. Model
    fields the message lacks are an error, unless named in `skip`."""
    plan = _plan(type(body), message, frozenset(skip))
    chosen = None if only is None else set(only)
    values: dict[str, Any] = {}
    for name, proto_name, transform in plan.steps:
        if chosen is not None and name not in chosen:
            continue
        value = getattr(body, name)
        if value is None:
            continue
        values[proto_name] = transform(value) if transform is not None else value
    if plan.paged:
        values["page"] = common_pb2.PageRequest(**{f: getattr(body, f) for f in _PAGE_FIELDS if hasattr(body, f)})
    values.update(fixed)
    return message(**values)
