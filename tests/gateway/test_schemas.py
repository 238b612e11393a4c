"""Unit tests of the schema machinery: answers derived from response models and protos, request messages
derived from request models, PATCH masks, and query-string parsing with its messages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Annotated

import orjson
import pytest
from google.protobuf import json_format
from google.protobuf.timestamp_pb2 import Timestamp
from multidict import MultiDict
from pydantic import Field, ValidationError
from yarl import URL

from gateway.schemas.base import Derived, NoSplit, Paging, ProtoField, Query, Resource, Time
from gateway.schemas.cmdb import BulkImport, ConfigurationItem, ImpactQuery, ItemPatch, NewItem
from gateway.schemas.common import Page, whole
from gateway.schemas.convert import iso, iso_ns, struct_dict, to_json, to_json_list, to_proto
from gateway.schemas.incidents import Incident, NewIncident
from gateway.schemas.itsm import ChangeQuery, NewChange
from gateway.schemas.telemetry import Span, Trace
from gateway.validation import QueryParser, field_errors
from gateway.versioning import update_message
from vigil.cmdb.v1 import cmdb_pb2
from vigil.incident.v1 import incident_pb2
from vigil.itsm.v1 import itsm_pb2
from vigil.observability.v1 import observability_pb2
from vigil.runtime.errors import ValidationFailed

T0 = datetime(2026, 4, 1, 12, 30, 15, 123456, tzinfo=UTC)


def test_answers_follow_the_model_and_the_proto():
    msg = incident_pb2.Incident(id="i1", reference="INC-00000001", title="DB down", severity="P1", status="open",
                                ci_ids=["a", "b"], labels={"team": "db", "n": 3, "tags": ["x", {"y": None}]},
                                version=4, created_at=T0, updated_at=T0)
    msg.status_times["open"].FromDatetime(T0 + timedelta(seconds=1))
    answer = to_json(Incident, msg)
    assert list(answer) == list(Incident.model_fields)  # every field, in the model's order
    assert answer["created_at"] == "2026-04-01T12:30:15.123456Z" and answer["version"] == 4
    assert answer["labels"] == json_format.MessageToDict(msg.labels) == {"team": "db", "n": 3.0,
                                                                        "tags": ["x", {"y": None}]}
    assert answer["status_times"] == {"open": "2026-04-01T12:30:16.123456Z"}
    assert answer["ci_ids"] == ["a", "b"] and type(answer["ci_ids"]) is list
    Incident.model_validate(answer)


def test_list_items_of_versioned_resources_are_rendered_once_per_content():
    page = incident_pb2.ListIncidentsResponse()
    for n in range(3):
        page.items.add(id=f"i{n}", tenant_id="t", title=f"DB down {n}", version=1, created_at=T0, updated_at=T0,
                       labels={"team": "db"})
    first = to_json_list(Incident, page.items)
    again = to_json_list(Incident, incident_pb2.ListIncidentsResponse.FromString(page.SerializeToString()).items)
    assert [a is b for a, b in zip(first, again, strict=True)] == [True] * 3  # the same bytes: rendered once
    assert first == [to_json(Incident, m) for m in page.items]
    page.items[1].title, page.items[1].version = "DB back", 2
    changed = to_json_list(Incident, page.items)
    assert changed[1]["title"] == "DB back" and changed[1]["version"] == 2 and changed[1] is not first[1]
    assert changed[0] is first[0] and changed[2] is first[2]
    # rows without a version (telemetry) are mostly seen once: rendered each time, never kept
    span = observability_pb2.Span(span_id="s1", name="root", start=T0)
    assert to_json_list(Span, [span])[0] is not to_json_list(Span, [span])[0]


def test_optional_strings_are_null_when_empty_and_renamed_and_derived_fields():
    item = cmdb_pb2.ConfigurationItem(id="c1", name="db", environment="prod", created_at=T0, updated_at=T0,
                                      **{"class": "database"})
    assert to_json(ConfigurationItem, item)["class"] == "database"
    span = observability_pb2.Span(span_id="s1", name="root", duration_ns=2_500_000, status_code="Error",
                                  status_message="boom", start=T0)
    span.children.add(span_id="s2", parent_span_id="s1", name="child", start=T0)
    answer = to_json(Trace, observability_pb2.GetTraceResponse(trace_id="t", roots=[span], span_count=2))
    root = answer["spans"][0]
    assert root["parent_span_id"] is None and root["duration_ms"] == 2.5
    assert root["status"] == {"code": "Error", "message": "boom"}
    assert root["start"] == "2026-04-01T12:30:15.123456000Z"  # telemetry keeps nanoseconds
    assert root["children"][0]["parent_span_id"] == "s1" and root["children"][0]["children"] == []
    Span.model_validate(root)


def test_answers_from_dicts_and_objects():
    class Row:
        def __init__(self) -> None:
            self.id, self.version, self.at = "r1", 2, datetime(2026, 4, 1, 14, 30, tzinfo=timezone(timedelta(hours=2)))

    class RowAnswer(Resource):
        id: str
        version: int
        at: Time

    assert to_json(RowAnswer, Row()) == {"id": "r1", "version": 2, "at": "2026-04-01T12:30:00.000000Z"}
    entries = [incident_pb2.TimelineEntry(id="e1", kind="created", at=T0)]
    from gateway.schemas.incidents import TimelineEntry

    answer = to_json(Page[TimelineEntry], whole(entries))
    assert answer["total"] == 1 and answer["items"][0]["from_status"] is None


def test_a_model_that_does_not_fit_its_proto_is_refused_naming_the_field():
    class Wrong(Resource):
        id: str
        colour: str

    with pytest.raises(TypeError, match=r"Wrong.colour .* no field 'colour'"):
        to_json(Wrong, incident_pb2.Incident(id="x"))

    class WrongType(Resource):
        created_at: str

    with pytest.raises(TypeError, match="Timestamp needs a Time"):
        to_json(WrongType, incident_pb2.Incident())


def test_timestamps_as_rfc3339_text_exactly():
    """Exact to the microsecond (nanosecond) at any date protobuf allows; unset is null."""
    assert iso(Timestamp()) is None
    assert iso(Timestamp(seconds=int(T0.timestamp()), nanos=123456000)) == "2026-04-01T12:30:15.123456Z"
    assert iso(Timestamp(seconds=217675717020, nanos=982757000)) == "8867-11-13T20:57:00.982757Z"  # float lost this
    assert iso(Timestamp(seconds=-62135596800)) == "0001-01-01T00:00:00.000000Z"
    assert iso(Timestamp(seconds=253402300799, nanos=999999000)) == "9999-12-31T23:59:59.999999Z"
    assert iso(Timestamp(seconds=-1, nanos=500000000)) == "1969-12-31T23:59:59.500000Z"
    assert iso_ns(Timestamp(seconds=int(T0.timestamp()), nanos=5)) == "2026-04-01T12:30:15.000000005Z"
    assert iso_ns(Timestamp()) == "1970-01-01T00:00:00.000000000Z"


def test_request_messages_from_request_models():
    body = NewIncident(title="x", severity="P2", labels={"team": "db", "on_call": True}, ci_ids=["c"])
    msg = to_proto(incident_pb2.CreateIncidentRequest, body)
    assert (msg.title, msg.severity, list(msg.ci_ids)) == ("x", "P2", ["c"])
    assert struct_dict(msg.labels) == {"team": "db", "on_call": True}
    start = datetime(2026, 4, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))
    change = NewChange(title="c", requested_start=start, requested_end=start + timedelta(hours=1))
    built = to_proto(itsm_pb2.CreateChangeRequest, change)
    assert iso(built.requested_start) == "2026-04-01T12:00:00.000000Z"
    item = to_proto(cmdb_pb2.NewItem, NewItem.model_validate({"name": "db", "class": "database",
                                                              "attributes": {"ip": "10.0.0.1"}}))
    assert getattr(item, "class") == "database" and struct_dict(item.attributes) == {"ip": "10.0.0.1"}


def test_queries_fill_the_page_and_renamed_fields():
    query = ChangeQuery.model_validate({"ci_id": ["a", "b"], "conflicting": "true", "limit": "5", "sort": "title"})
    msg = to_proto(itsm_pb2.ListChangesRequest, query)
    assert list(msg.ci_ids) == ["a", "b"] and msg.conflicting_only is True
    assert (msg.page.limit, msg.page.offset, msg.page.sort) == (5, 0, "title")

    class Stray(Paging):
        colour: str = ""

    with pytest.raises(TypeError, match="no field 'colour'"):
        to_proto(itsm_pb2.ListChangesRequest, Stray())


def test_patch_messages_carry_exactly_the_fields_sent():
    patch = ItemPatch.model_validate({"class": "server", "owner": "dba"})
    msg = update_message(cmdb_pb2.UpdateItemRequest, patch, id="c1", expected_version=3)
    assert list(msg.update_mask) == ["class", "owner"] and getattr(msg, "class") == "server"
    assert (msg.id, msg.expected_version, msg.name) == ("c1", 3, "")
    with pytest.raises(ValidationFailed) as err:
        update_message(cmdb_pb2.UpdateItemRequest, ItemPatch.model_validate({"class": None}), id="c1")
    assert [f.field for f in err.value.fields] == ["class"] and err.value.fields[0].message == "may not be null"
    with pytest.raises(ValidationFailed) as err:
        update_message(cmdb_pb2.UpdateItemRequest, ItemPatch(), id="c1")
    assert err.value.message == "nothing to update"


class _Request:
    def __init__(self, query: str) -> None:
        self.query = MultiDict(URL(f"/?{query}").query)


def parse(model: type[Query], query: str) -> Query:
    return QueryParser(model)(_Request(query))  # type: ignore[arg-type]


def fields_of(model: type[Query], query: str) -> dict[str, str]:
    with pytest.raises(ValidationFailed) as err:
        parse(model, query)
    return {f.field: f.message for f in err.value.fields}


def test_query_strings():
    assert parse(ImpactQuery, "ci_id=a,b&ci_id=c&depth=2").ci_id == ["a", "b", "c"]
    assert parse(ImpactQuery, "ci_id=a&depth=").depth == 0  # empty counts as absent
    assert fields_of(ImpactQuery, "depth=1") == {"ci_id": "is required"}
    assert fields_of(ImpactQuery, "ci_id=a&depth=x") == {"depth": "must be an integer"}
    assert fields_of(ImpactQuery, "ci_id=a&limit=500") == {"limit": "must be between 1 and 200"}
    assert fields_of(ImpactQuery, "ci_id=a&colour=red&size=9") == {"colour": "unknown query parameter",
                                                                   "size": "unknown query parameter"}
    assert fields_of(ChangeQuery, "from=yesterday")["from"].startswith("must be an ISO 8601 time")
    assert fields_of(ChangeQuery, "conflicting=perhaps") == {"conflicting": "must be true or false"}
    assert parse(ChangeQuery, "from=2026-04-01T10:00:00 02:00").from_ == datetime(2026, 4, 1, 8, tzinfo=UTC)

    class Labels(Query):
        label: Annotated[list[str], NoSplit()] = Field(default_factory=list)

    assert parse(Labels, "label=a%3Db,c&label=d").label == ["a=b,c", "d"]


def test_queries_without_parameters_share_one_frozen_answer():
    parser = QueryParser(ChangeQuery)
    first, second = parser(_Request("")), parser(_Request(""))  # type: ignore[arg-type]
    assert first is second and first.limit == 50
    with pytest.raises(Exception):  # noqa: B017 - pydantic's frozen-instance error
        first.limit = 10


def test_derived_values_run_on_the_source():
    class Doubled(Resource):
        twice: Annotated[int, Derived(lambda m: m.version * 2)]
        ref: Annotated[str | None, ProtoField("reference")]

    assert to_json(Doubled, incident_pb2.Incident(version=21)) == {"twice": 42, "ref": None}


def test_telemetry_times_and_counts_stay_within_64_bits():
    """Found by schemathesis: a Unix time in microseconds near 1e17, or a histogram count of 1e38, overflowed the
    row contract's 64-bit integers (a 500); both are now field errors."""
    from gateway.schemas.telemetry import MetricBatch, parse_time

    errors: list = []
    assert parse_time(6.2e16, "t", errors) == 0 and errors[0].message == "is out of range"
    assert parse_time(1_700_000_000, "t", []) == 1_700_000_000 * 10**9
    # The same bounds for text: before 1970 (a row ClickHouse would refuse after a 202) or past 2096.
    for text in ("1969-12-31T23:59:59Z", "0001-01-01T00:00:00+14:00", "2100-01-01T00:00:00Z"):
        errors = []
        assert parse_time(text, "t", errors) == 0 and [e.message for e in errors] == ["is out of range"]
    assert parse_time("1970-01-01T00:00:00.000000001Z", "t", []) == 1
    with pytest.raises(ValidationError):
        MetricBatch.model_validate({"metrics": [{"name": "m", "service": "s", "bucket_counts": [10**38]}]})



def _takes_time(annotation) -> bool:
    import typing

    from pydantic import AwareDatetime

    if annotation in (datetime, AwareDatetime):
        return True
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) is Annotated:
        return _takes_time(args[0])
    return any(_takes_time(a) for a in args)


def _time_fields():
    """Every field of a request model (`Body`, `Query`) of gateway/schemas that takes a time."""
    import importlib
    import pkgutil

    import gateway.schemas
    from gateway.schemas.base import Body

    seen = set()
    for module in pkgutil.iter_modules(gateway.schemas.__path__):
        for model in vars(importlib.import_module(f"gateway.schemas.{module.name}")).values():
            if not (isinstance(model, type) and issubclass(model, Body | Query)) or model in seen:
                continue
            seen.add(model)
            for name, info in model.model_fields.items():
                if _takes_time(info.annotation):
                    yield pytest.param(model, name, info, id=f"{model.__name__}.{name}")


@pytest.mark.parametrize("model,name,info", list(_time_fields()))
@pytest.mark.parametrize("edge", ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00"])
def test_a_time_outside_the_utc_range_fails_its_field(model, name, info, edge):
    """A time that leaves the years 1-9999 once in UTC fails validation, naming its field: it used to pass and
    overflow later (converting to UTC or to a protobuf Timestamp), a 500 on every route that takes a time."""
    from pydantic import TypeAdapter

    adapter = TypeAdapter(Annotated[info.annotation, *info.metadata] if info.metadata else info.annotation)

    def parse(text: str):  # a query string's value is text; a body's is JSON
        return adapter.validate_python(text) if issubclass(model, Query) else adapter.validate_json(f'"{text}"')

    with pytest.raises(ValidationError, match="out of range"):
        parse(edge)
    assert parse("2026-04-01T18:00:00+02:00") == datetime(2026, 4, 1, 16, tzinfo=UTC)


def test_a_bad_criticality_is_named_as_the_field_itself():
    """docs/cmdb.md: a 422 names the failing field; `criticality`, not one error per member of a union
    (`criticality.literal['low',...]` and `criticality.literal['']`)."""
    with pytest.raises(ValidationError) as exc:
        NewItem.model_validate({"name": "db", "class": "database", "criticality": "extreme"})
    assert [e.field for e in field_errors(exc.value)] == ["criticality"]
    with pytest.raises(ValidationError) as exc:
        BulkImport.model_validate({"items": [{"name": "db", "class": "database"},
                                             {"name": "x", "class": "server", "criticality": "extreme"}]})
    assert [e.field for e in field_errors(exc.value)] == ["items[1].criticality"]
    assert NewItem.model_validate({"name": "db", "class": "database"}).criticality == ""


def test_integral_numbers_in_a_struct_come_back_as_integers():
    """A CMDB item's attributes (any JSON object, docs/cmdb.md) travel as a protobuf Struct, whose numbers are
    doubles: {"port": 5432} must come back as 5432, not 5432.0, which a typed client refuses for an integer."""
    msg = cmdb_pb2.NewItem(name="db", **{"class": "database"})
    msg.attributes.update({"port": 5432, "ratio": 0.5, "neg": -3, "nested": {"ids": [1, 2.5]}, "flag": True,
                           "huge": 2.0**60})
    out = struct_dict(msg.attributes)
    assert out == {"port": 5432, "ratio": 0.5, "neg": -3, "nested": {"ids": [1, 2.5]}, "flag": True, "huge": 2.0**60}
    assert type(out["port"]) is int and type(out["neg"]) is int and type(out["nested"]["ids"][0]) is int
    assert type(out["ratio"]) is float and type(out["huge"]) is float and out["flag"] is True
    item = cmdb_pb2.ConfigurationItem(id="x", name="db", version=1, **{"class": "database"})
    item.attributes.update({"port": 5432})
    assert b'"port":5432}' in orjson.dumps(to_json(ConfigurationItem, item))


def test_a_tenant_status_filter_outside_the_statuses_is_refused():
    """`GET /api/tenants?status=bogus` answered an empty page, as if no tenant were bogus, instead of naming it."""
    from gateway.schemas.identity import TenantQuery

    assert parse(TenantQuery, "status=suspended").status == "suspended"
    assert parse(TenantQuery, "").status is None and parse(TenantQuery, "status=").status is None
    assert list(fields_of(TenantQuery, "status=bogus")) == ["status"]
