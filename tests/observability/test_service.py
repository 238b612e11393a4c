"""Unit tests of the observability domain (no ClickHouse): validation names the failing field, cursors round-trip
and refuse forgeries, quantiles interpolate like Prometheus, templates fold ids away, anomalies need a baseline."""

from __future__ import annotations

import base64
import re

import orjson
import pytest

from services.observability import service as svc
from services.observability.service import NS, LogQuery, Matcher, MetricQuery, TimeRange, TraceQuery
from vigil import levels
from vigil.runtime.errors import ValidationFailed

HOUR = 3600 * NS
NOW = 1_800_000_000 * NS


def fields(exc: pytest.ExceptionInfo) -> set[str]:
    return {f.field for f in exc.value.fields}


@pytest.mark.parametrize(("query", "field"), [
    (LogQuery(TimeRange(NOW, NOW - 1)), "to"),
    (LogQuery(TimeRange(0, NOW)), "from"),
    (LogQuery(TimeRange(NOW - 40 * 24 * HOUR, NOW)), "to"),
    (LogQuery(TimeRange(NOW - HOUR, NOW), limit=1001), "limit"),
    (LogQuery(TimeRange(NOW - HOUR, NOW), limit=0), "limit"),
    (LogQuery(TimeRange(NOW - HOUR, NOW), levels=("loud",)), "level"),
    (LogQuery(TimeRange(NOW - HOUR, NOW), trace_id="xyz"), "trace_id"),
    (LogQuery(TimeRange(NOW - HOUR, NOW), q="x" * 501), "q"),
])
def test_log_queries_are_validated(query, field):
    with pytest.raises(ValidationFailed) as exc:
        svc.validate_logs(query)
    assert field in fields(exc)


@pytest.mark.parametrize(("changes", "field"), [
    ({"step_seconds": 7}, "step"),
    ({"step_seconds": 10, "window": TimeRange(NOW - 30 * 24 * HOUR, NOW)}, "step"),  # too many points
    ({"aggregation": "median"}, "aggregation"),
    ({"metric_name": ""}, "metric_name"),
    ({"group_by": ("bad label!",)}, "by"),
    ({"matchers": (Matcher("env", "~", "x"),)}, "label"),
    ({"matchers": (Matcher("env", "=~", "(unclosed"),)}, "label"),
])
def test_metric_queries_are_validated(changes, field):
    base = {"metric_name": "m", "window": TimeRange(NOW - 24 * HOUR, NOW), "step_seconds": 60, "aggregation": "avg"}
    with pytest.raises(ValidationFailed) as exc:
        svc.validate_metrics(MetricQuery(**{**base, **changes}))
    assert field in fields(exc)


def test_aggregations_must_fit_the_metric_type():
    svc.check_aggregation("rate", "sum")
    svc.check_aggregation("p99", "histogram")
    for agg, kind in (("rate", "gauge"), ("p50", "sum"), ("avg", "histogram")):
        with pytest.raises(ValidationFailed) as exc:
            svc.check_aggregation(agg, kind)
        assert fields(exc) == {"aggregation"}


def test_trace_queries_are_validated():
    with pytest.raises(ValidationFailed) as exc:
        svc.validate_traces(TraceQuery(TimeRange(NOW - HOUR, NOW), status="broken", min_duration_ns=-1))
    assert fields(exc) == {"status", "min_duration"}
    with pytest.raises(ValidationFailed):
        svc.validate_trace_id("' OR 1=1 --")


def test_cursors_are_keyset_positions_that_refuse_forgeries():
    window = TimeRange(NOW - HOUR, NOW)
    page = [svc.LogRecord(NOW - i // 2, 2**63 + i, "s", "info", 9, "b", "", "", {}, {}, "") for i in range(4)]
    cursor = svc.log_cursor(svc.next_log_cursor(LogQuery(window), page))
    # the position of the last row in (Timestamp, RecordId) order, and the first page's window: never a count
    assert cursor == svc.LogCursor(window, NOW - 1, 2**63 + 3)
    traces = [svc.TraceSummary("ab" * 16, "api", "GET /", NOW - 5, 10, 1, 0, ("api",))]
    token = svc.next_trace_cursor(TraceQuery(window, snapshot=42), traces)
    assert svc.trace_cursor(token) == svc.TraceCursor(window, NOW - 5, "ab" * 16, 42)

    valid = svc.next_log_cursor(LogQuery(window), page)
    raw = bytearray(base64.urlsafe_b64decode(valid + "=" * (-len(valid) % 4)))
    raw[12] ^= 1  # one flipped bit inside the payload
    edited = base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")
    unsigned = base64.urlsafe_b64encode(orjson.dumps(["logs", 0, 1, 5, 5])).decode()
    for bad in ("nope", "", "====", edited, unsigned, token, svc.encode_cursor("logs", [1, 2, -1, 0]),
                svc.encode_cursor("logs", [2, 1, 1, 0]), svc.encode_cursor("logs", ["x", 2, 1, 0]),
                svc.encode_cursor("logs", [1, 2, 3, -5]), svc.encode_cursor("logs", [1, 2, 3])):
        if not bad:
            assert svc.log_cursor(bad) is None  # no cursor: the first page
            continue
        with pytest.raises(ValidationFailed) as exc:
            svc.log_cursor(bad)
        assert fields(exc) == {"cursor"}, bad
    with pytest.raises(ValidationFailed):
        svc.trace_cursor(valid)  # a log cursor is no trace cursor


@pytest.mark.parametrize(("name", "level", "number"), [
    ("warning", "warn", 13), ("WARN", "warn", 13), ("Warning", "warn", 13), ("err", "error", 17),
    ("critical", "fatal", 21), ("crit", "fatal", 21), ("panic", "fatal", 21), ("emergency", "fatal", 21),
    ("information", "info", 9), ("notice", "info", 10), ("INFO2", "info", 10), ("verbose", "trace", 1),
    ("dbg", "debug", 5), ("fatal4", "fatal", 24), ("loud", "", 0), ("info5", "", 0),
])
def test_one_level_vocabulary(name, level, number):
    assert levels.severity_number(name) == number
    assert levels.level_name(name) == level
    assert (re.fullmatch(levels.PATTERN, name) is not None) == bool(level)  # what the JSON ingest schema accepts
    if level:
        svc.validate_logs(LogQuery(TimeRange(NOW - HOUR, NOW), levels=(name,)))  # the query side takes it too
        assert levels.level_of(number) == level and levels.short_name(number).lower().startswith(level)
    else:
        with pytest.raises(ValidationFailed) as exc:
            svc.validate_logs(LogQuery(TimeRange(NOW - HOUR, NOW), levels=(name,)))
        assert fields(exc) == {"level"}


def test_histogram_quantile_interpolates_within_the_bucket():
    bounds = [10.0, 100.0, 1000.0]
    assert svc.histogram_quantile(0.5, bounds, [0, 10, 0, 0]) == pytest.approx(55.0)
    assert svc.histogram_quantile(0.99, bounds, [50, 0, 50, 0]) == pytest.approx(100 + 900 * 0.98)
    assert svc.histogram_quantile(0.99, bounds, [0, 0, 0, 5]) == 1000.0  # +Inf bucket: the highest bound
    assert svc.histogram_quantile(0.5, bounds, [0, 0, 0, 0]) is None


def test_templates_fold_variable_parts():
    a = svc.template("timeout after 3000 ms calling 10.0.0.12:5432 for user 'bob' req 6f1c2a0e-1b2c-4d5e-8f90-123456789abc")
    b = svc.template("timeout after 150 ms calling 10.0.9.1:5432 for user 'eve' req 00000000-1b2c-4d5e-8f90-123456789abc")
    assert a == b == "timeout after <n> ms calling <ip> for user '<str>' req <uuid>"


def test_metric_anomalies_need_a_baseline_and_a_deviation():
    def stats(mean, sd, n, hi, lo=0.0):
        return svc.SeriesStats("m", "s", {}, {"host.name": "a"}, mean, sd, n, hi, 5, lo, 6)

    found = svc.metric_anomalies([stats(10, 1, 30, 25), stats(10, 1, 30, 11, 9), stats(10, 1, 2, 99),
                                  stats(10, 0, 30, 10, 10), stats(10, 0, 30, 12, 10)], limit=10)
    assert [(a.observed, a.at_ns) for a in found] == [(12, 5), (25, 5)]  # flat baseline that moved ranks first


def test_span_tree_hangs_children_below_parents():
    def span(sid, parent, start):
        return svc.Span("t" * 32, sid, parent, sid, "Internal", "s", start, 1, "Unset", "", {}, {}, [])

    roots = svc.span_tree([span("c", "b", 3), span("a", "", 1), span("b", "a", 2), span("orphan", "gone", 0)])
    assert [r.span_id for r in roots] == ["orphan", "a"]
    assert roots[1].children[0].span_id == "b" and roots[1].children[0].children[0].span_id == "c"


def test_anomaly_queries_name_the_query_parameters():
    with pytest.raises(ValidationFailed) as exc:
        svc.validate_anomalies(svc.AnomalyQuery(TimeRange(NOW - 8 * 24 * HOUR, NOW),
                                                services=tuple(f"s{i}" for i in range(51)), limit=0))
    assert fields(exc) == {"to", "service", "limit"}  # ?service= is the parameter, not the RPC's `services`
