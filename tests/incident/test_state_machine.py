"""Unit tests of the incident domain: the seed's state machine, validation, and what a change records."""

from datetime import UTC, datetime, timedelta

import pytest

from services.incident import service
from services.incident.service import Incident, apply_update, check_transition
from vigil.runtime.errors import InvalidTransition, ValidationFailed

LEGAL = {
    ("triggered", "open"), ("open", "acknowledged"), ("acknowledged", "investigating"),
    ("investigating", "resolved"), ("resolved", "closed"), ("resolved", "reopened"), ("reopened", "investigating"),
}


def make(status: str = "triggered", **kw) -> Incident:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    values = dict(id="00000000-0000-0000-0000-000000000001", tenant_id="t1", number=7, title="db down",
                  description="", severity="P1", status=status, source="prometheus", ci_ids=("ci-1",), assignee="",
                  labels={}, resolution_notes="", created_by="a@x", resolved_by="", dedup_key="", version=3,
                  created_at=at, updated_at=at, status_times={"triggered": at})
    values.update(kw)
    return Incident(**values)


@pytest.mark.parametrize("current", service.STATUSES)
@pytest.mark.parametrize("target", service.STATUSES)
def test_every_pair_of_statuses(current, target):
    if (current, target) in LEGAL:
        check_transition(current, target)
    else:
        with pytest.raises(InvalidTransition):
            check_transition(current, target)


def test_unknown_status_is_a_validation_error():
    with pytest.raises(ValidationFailed) as err:
        check_transition("open", "exploded")
    assert err.value.fields[0].field == "status"


def test_transition_records_who_when_and_bumps_version():
    at = datetime(2026, 1, 2, tzinfo=UTC)
    change = apply_update(make("investigating"), {"status": "resolved", "resolution_notes": "pool to 200"},
                          "bob@x", at)
    assert change.incident.status == "resolved"
    assert change.incident.status_times["resolved"] == at
    assert change.incident.resolved_by == "bob@x"
    assert change.incident.version == 4
    kinds = [e.kind for e in change.timeline]
    assert kinds == ["updated", "transitioned"]
    moved = change.timeline[1]
    assert (moved.from_status, moved.to_status, moved.actor, moved.at) == ("investigating", "resolved", "bob@x", at)
    assert [e[0] for e in change.events] == ["incident.updated", "incident.transitioned"]


def test_illegal_move_changes_nothing():
    with pytest.raises(InvalidTransition):
        apply_update(make("triggered"), {"status": "resolved", "title": "x"}, "bob@x", datetime.now(UTC))


def test_same_values_are_not_a_change():
    incident = make("open")
    change = apply_update(incident, {"status": "open", "title": incident.title}, "bob@x", datetime.now(UTC))
    assert change.timeline == () and change.incident is incident


def test_update_validation_names_fields():
    with pytest.raises(ValidationFailed) as err:
        apply_update(make(), {"severity": "P0", "title": " ", "ci_ids": ["" ]}, "a", datetime.now(UTC))
    assert {f.field for f in err.value.fields} == {"severity", "title", "ci_ids[0]"}


def test_unknown_update_fields_refused():
    with pytest.raises(ValidationFailed) as err:
        apply_update(make(), {"reference": "INC-1"}, "a", datetime.now(UTC))
    assert err.value.fields[0].field == "reference"


def test_new_incident_validation():
    with pytest.raises(ValidationFailed) as err:
        service.validate_new(service.NewIncident(title="", severity="P5", ci_ids=tuple(f"c{i}" for i in range(101))))
    assert {f.field for f in err.value.fields} == {"title", "severity", "ci_ids"}


def test_query_validation():
    with pytest.raises(ValidationFailed) as err:
        service.validate_query(service.ListQuery(status=("nope",), sort="password", order="up", limit=500, offset=-1))
    assert {f.field for f in err.value.fields} == {"status", "sort", "order", "limit", "offset"}


@pytest.mark.parametrize("key,ok", [
    ("INC-00000001", True), ("00000000-0000-0000-0000-000000000001", True), ("INC-1", False),
    ("1; DROP TABLE incidents", False), ("", False),
])
def test_incident_keys(key, ok):
    assert service.is_incident_key(key) is ok


def test_reopen_path_timestamps():
    at = datetime(2026, 1, 1, tzinfo=UTC)
    incident = make("resolved")
    for i, target in enumerate(["reopened", "investigating", "resolved", "closed"]):
        incident = apply_update(incident, {"status": target}, "a", at + timedelta(minutes=i)).incident
    assert incident.status == "closed"
    assert incident.status_times["reopened"] == at
    assert incident.status_times["closed"] == at + timedelta(minutes=3)
