"""The doors' formats, parsed alone: Alertmanager v4, Grafana v1, PagerDuty Events v2 and the generic shape;
fingerprints (source's own, named fields, stable label hash); whole-batch validation."""

import json
from datetime import UTC, datetime

import pytest
from pydantic import TypeAdapter, ValidationError

from gateway.ingest import alerts as intake
from gateway.ingest.alerts import Source
from gateway.schemas import alerts as schemas
from gateway.schemas.alerts import AlertmanagerWebhook, GenericBatch, GrafanaWebhook, PagerDutyEvent
from gateway.validation import field_errors
from vigil.runtime.errors import ValidationFailed

NOW = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


def parsed(model, raw: bytes):
    """The body as the door's declaration parses it (gateway/validation.py), failures as field errors."""
    try:
        return TypeAdapter(model).validate_json(raw)
    except ValidationError as exc:
        raise ValidationFailed("request body failed validation", field_errors(exc)) from None


class formats:  # noqa: N801 - the door's two steps (parse, normalise) under the names the tests read best
    @staticmethod
    def parse_alertmanager(raw, source, at):
        return intake.from_alertmanager(parsed(AlertmanagerWebhook, raw), source, at)

    @staticmethod
    def parse_grafana(raw, source, at):
        return intake.from_grafana(parsed(GrafanaWebhook, raw), source, at)

    @staticmethod
    def parse_generic(raw, source, at):
        return intake.from_generic(parsed(GenericBatch, raw), source, at)

    @staticmethod
    def parse_pagerduty_event(raw):
        event = parsed(PagerDutyEvent, raw)
        problems = intake.pagerduty_problems(event)
        if problems:
            raise ValidationFailed("Event object is invalid", problems)
        return event

    pagerduty_message = staticmethod(intake.from_pagerduty)
AM = Source("t1", "i1", "prod-am", "alertmanager")


def am_payload(*alerts, **extra):
    return json.dumps({"version": "4", "groupKey": '{}:{alertname="HighLatency"}', "status": "firing",
                       "receiver": "vigil", "groupLabels": {"alertname": "HighLatency"}, "commonLabels": {},
                       "commonAnnotations": {}, "externalURL": "http://am:9093", "truncatedAlerts": 0,
                       "alerts": list(alerts), **extra}).encode()


def am_alert(status="firing", fingerprint="3f1c2a", **labels):
    return {"status": status, "labels": {"alertname": "HighLatency", "severity": "critical", **labels},
            "annotations": {"summary": "p99 over 2s", "description": "checkout is slow"},
            "startsAt": "2026-03-01T09:58:00.123456789Z",
            "endsAt": "0001-01-01T00:00:00Z" if status == "firing" else "2026-03-01T10:00:00Z",
            "generatorURL": "http://prom:9090/graph", "fingerprint": fingerprint}


def test_alertmanager_webhook():
    [m] = formats.parse_alertmanager(am_payload(am_alert(service="checkout")), AM, NOW)
    assert (m.tenant_id, m.integration_id, m.source, m.fingerprint, m.status) == (
        "t1", "i1", "alertmanager", "3f1c2a", "firing")
    assert (m.title, m.description, m.source_severity) == ("p99 over 2s", "checkout is slow", "critical")
    assert m.labels["service"] == "checkout" and m.source_group_key == '{}:{alertname="HighLatency"}'
    assert m.starts_at.ToDatetime(tzinfo=UTC) == datetime(2026, 3, 1, 9, 58, 0, 123456, tzinfo=UTC)
    assert not m.HasField("ends_at")  # 0001-01-01 means "no end"
    [r] = formats.parse_alertmanager(am_payload(am_alert("resolved")), AM, NOW)
    assert r.status == "resolved" and r.ends_at.ToDatetime(tzinfo=UTC) == NOW


def test_fingerprint_rules():
    no_fp = am_alert(fingerprint="")
    a = formats.parse_alertmanager(am_payload(no_fp), AM, NOW)[0].fingerprint
    reordered = {**no_fp, "labels": dict(reversed(list(no_fp["labels"].items())))}
    assert formats.parse_alertmanager(am_payload(reordered), AM, NOW)[0].fingerprint == a  # stable over order
    named = Source("t1", "i1", "x", "alertmanager", fingerprint_fields=("alertname",))
    one = formats.parse_alertmanager(am_payload(am_alert(pod="a")), named, NOW)[0].fingerprint
    two = formats.parse_alertmanager(am_payload(am_alert(pod="b", fingerprint="other")), named, NOW)[0].fingerprint
    assert one == two != "3f1c2a"  # the named fields win over the source's own


def test_a_bad_alert_rejects_the_whole_batch_naming_it():
    bad = {**am_alert(), "status": "exploded"}
    with pytest.raises(ValidationFailed) as err:
        formats.parse_alertmanager(am_payload(am_alert(), bad), AM, NOW)
    assert [f.field for f in err.value.fields] == ["alerts[1].status"]
    with pytest.raises(ValidationFailed) as err:
        formats.parse_alertmanager(b'{"version": "4", "alerts": [', AM, NOW)
    assert err.value.fields[0].field == "body"
    with pytest.raises(ValidationFailed) as err:
        formats.parse_alertmanager(am_payload(*[am_alert(fingerprint=str(i)) for i in range(1001)]), AM, NOW)
    assert err.value.fields[0].field == "alerts"
    with pytest.raises(ValidationFailed):
        formats.parse_alertmanager(json.dumps({"version": "3", "alerts": [am_alert()]}).encode(), AM, NOW)


def test_grafana_webhook():
    body = {"receiver": "vigil", "status": "firing", "orgId": 1, "version": "1", "groupKey": "{}:{}",
            "state": "alerting", "title": "[FIRING:1] DiskFull", "message": "disk is full",
            "alerts": [{"status": "firing", "labels": {"alertname": "DiskFull", "severity": "warning"},
                        "annotations": {}, "startsAt": "2026-03-01T09:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
                        "generatorURL": "http://grafana/alerting", "fingerprint": "abc", "silenceURL": "http://s",
                        "dashboardURL": "http://d", "panelURL": "http://p", "values": {"B": 97.5, "C": 1}}]}
    [m] = formats.parse_grafana(json.dumps(body).encode(), Source("t1", "i2", "g", "grafana"), NOW)
    assert (m.fingerprint, m.title, m.description, m.source_severity) == ("abc", "DiskFull", "disk is full", "warning")
    assert m.details["values"]["B"] == 97.5 and m.details["dashboardURL"] == "http://d"


def test_pagerduty_event():
    source = Source("t1", "i3", "pd", "pagerduty")
    event = formats.parse_pagerduty_event(json.dumps({
        "routing_key": "vgi_x", "event_action": "trigger", "dedup_key": "db-1",
        "payload": {"summary": "DB down", "source": "db-1.prod", "severity": "error", "component": "postgres",
                    "group": "prod", "class": "availability", "custom_details": {"free": 0}}}).encode())
    m = formats.pagerduty_message(event, source, NOW)
    assert (m.fingerprint, m.status, m.title, m.source_severity) == ("db-1", "firing", "DB down", "error")
    assert m.labels["class"] == "availability" and m.details["custom_details"]["free"] == 0
    keyless = formats.pagerduty_message(formats.parse_pagerduty_event(json.dumps({
        "routing_key": "k", "event_action": "trigger",
        "payload": {"summary": "s", "source": "x", "severity": "info"}}).encode()), source, NOW)
    assert len(keyless.fingerprint) == 32  # a new dedup key, as PagerDuty makes one
    with pytest.raises(ValidationFailed) as err:
        formats.parse_pagerduty_event(json.dumps({"routing_key": "k", "event_action": "resolve"}).encode())
    assert err.value.fields[0].field == "dedup_key"
    with pytest.raises(ValidationFailed):
        formats.parse_pagerduty_event(json.dumps({"routing_key": "k", "event_action": "trigger", "payload": {
            "summary": "s", "source": "x", "severity": "catastrophic"}}).encode())


def test_generic_shape_is_strict():
    source = Source("t1", "i4", "gen", "generic")
    [m] = formats.parse_generic(json.dumps({"alerts": [{"title": "Queue backlog", "severity": "critical",
                                                         "labels": {"service": "billing"}}]}).encode(), source, NOW)
    assert (m.title, m.status, m.source_severity) == ("Queue backlog", "firing", "critical")
    with pytest.raises(ValidationFailed) as err:
        formats.parse_generic(json.dumps({"alerts": [{"title": "x", "colour": "red"}]}).encode(), source, NOW)
    assert err.value.fields[0].field == "alerts[0].colour"
    with pytest.raises(ValidationFailed) as err:
        formats.parse_generic(json.dumps({"alerts": [{"title": "x", "starts_at": "2026-03-01T10:00:00"}]}).encode(),
                              source, NOW)
    assert err.value.fields[0].field == "alerts[0].starts_at"  # a time without a zone is refused


def nested(depth: int) -> dict:
    value: dict = {"leaf": 1}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


def test_what_a_door_accepts_can_be_parsed_back_and_the_rest_is_refused_naming_the_field():
    """Free-form JSON rides in a protobuf Struct, which protobuf parses only about 33 objects deep: anything
    deeper, and numbers a double cannot hold, used to be accepted (202) and then dead-lettered by the incident
    service, or to fail the request with a 500. Times beyond year 9999 in UTC were a 500 too."""
    from vigil.incident.v1 import alerts_pb2

    generic, pagerduty = Source("t1", "i4", "gen", "generic"), Source("t1", "i3", "pd", "pagerduty")
    deepest = {"alerts": [{"title": "x", "details": nested(schemas.MAX_DETAILS_DEPTH)}]}
    [m] = formats.parse_generic(json.dumps(deepest).encode(), generic, NOW)
    assert alerts_pb2.AlertMessage.FromString(m.SerializeToString()).details == m.details
    stored = alerts_pb2.AlertEvent(alert=alerts_pb2.Alert(details=m.details))
    assert alerts_pb2.AlertEvent.FromString(stored.SerializeToString()) == stored
    pd = {"routing_key": "k", "event_action": "trigger", "payload": {
        "summary": "s", "source": "x", "severity": "info", "custom_details": nested(schemas.MAX_DETAILS_DEPTH)}}
    m = formats.pagerduty_message(formats.parse_pagerduty_event(json.dumps(pd).encode()), pagerduty, NOW)
    assert alerts_pb2.AlertMessage.FromString(m.SerializeToString()).details == m.details

    huge = "1" + "0" * 400
    refused = [
        (formats.parse_generic, {"alerts": [{"title": "x"}, {"title": "y", "details": nested(
            schemas.MAX_DETAILS_DEPTH + 1)}]}, "alerts[1].details"),
        (formats.parse_generic, {"alerts": [{"title": "x", "details": {"n": [0, "HUGE"]}}]}, "alerts[0].details"),
        (formats.parse_generic, {"alerts": [{"title": "x", "details": {"n": "INF"}}]}, "alerts[0].details"),
        (formats.parse_generic, {"alerts": [{"title": "x", "starts_at": "9999-12-31T23:00:00-05:00"}]},
         "alerts[0].starts_at"),
        (formats.parse_alertmanager, {"version": "4", "alerts": [
            {"status": "firing", "labels": {"a": "b"}, "startsAt": "9999-12-31T23:00:00-05:00"}]},
         "alerts[0].startsAt"),
        (formats.parse_grafana, {"version": "1", "orgId": "HUGE", "alerts": [
            {"status": "firing", "labels": {"a": "b"}}]}, "orgId"),
        (formats.parse_grafana, {"version": "1", "alerts": [
            {"status": "firing", "labels": {"a": "b"}, "values": {"B": "HUGE"}}]}, "alerts[0].values"),
    ]
    for parse, body, field in refused:
        raw = json.dumps(body).replace('"HUGE"', huge).replace('"INF"', "1e400").encode()
        with pytest.raises(ValidationFailed) as err:
            parse(raw, generic, NOW)
        assert [f.field for f in err.value.fields] == [field], raw[:200]
    for payload, field in ((dict(pd["payload"], custom_details=nested(schemas.MAX_DETAILS_DEPTH + 1)),
                            "payload.custom_details"),
                           (dict(pd["payload"], custom_details={"n": "HUGE"}), "payload.custom_details"),
                           (dict(pd["payload"], timestamp="0001-01-01T00:00:00+01:00"), "payload.timestamp")):
        raw = json.dumps(dict(pd, payload=payload)).replace('"HUGE"', huge).encode()
        with pytest.raises(ValidationFailed) as err:
            formats.parse_pagerduty_event(raw)
        assert [f.field for f in err.value.fields] == [field]
