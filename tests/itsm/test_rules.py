"""The change state machine, approvals, request flow and conflict rules: pure domain functions, no I/O."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from services.itsm import service as s
from vigil.runtime.context import CallContext
from vigil.runtime.errors import Conflict, Forbidden, InvalidTransition, ValidationFailed

T0 = datetime(2026, 4, 1, 18, 0, tzinfo=UTC)
NOW = datetime(2026, 3, 1, tzinfo=UTC)


def change(**kw) -> s.Change:
    base = s.Change(
        id=kw.pop("id", s.new_id()), tenant_id="t1", number=kw.pop("number", 1), title="Deploy v2.4.1",
        description="", type="normal", risk_level="medium", status="new", requested_start=T0,
        requested_end=T0 + timedelta(hours=4), implementation_plan="", rollback_plan="",
        requested_by="alice@x", ci_ids=("ci-db",), created_by="alice@x", version=1, created_at=NOW,
        updated_at=NOW, status_times={"new": NOW})
    return replace(base, **kw)


def move(c: s.Change, target: str, **fields) -> s.Change:
    return s.apply_change_update(c, {"status": target, **fields}, "bob@x", NOW).entity


def approver(email: str, role: str = "responder") -> CallContext:
    return CallContext(tenant_id="t1", actor=email, role=role)


# ---------------------------------------------------------------------------------------------- state machine


def test_normal_change_walks_every_stage_and_approval_schedules_it():
    c = move(move(change(), "assess"), "authorize")
    assert (c.status, c.approval_status, c.required_approvals) == ("authorize", "pending", 1)
    out = s.apply_change_decision(c, approver("carol@x"), "approve", "ok", NOW)
    c = out.entity
    assert c.status == "scheduled" and c.approval_status == "approved"
    assert [e.type for e in out.events] == ["change.approval_recorded", "change.approved"]
    c = move(move(c, "implement"), "review", outcome="successful")
    c = move(c, "closed", close_notes="done")
    assert c.status == "closed" and c.outcome == "successful" and c.close_notes == "done"
    assert list(c.status_times) == ["new", "assess", "authorize", "scheduled", "implement", "review", "closed"]
    assert c.skipped_stages == ()
    assert c.version == 7


@pytest.mark.parametrize(("start", "target"), [
    ("new", "scheduled"), ("new", "authorize"), ("new", "implement"), ("assess", "scheduled"),
    ("authorize", "scheduled"), ("authorize", "implement"), ("scheduled", "review"), ("implement", "closed"),
    ("review", "implement"), ("closed", "new"), ("cancelled", "new"), ("rejected", "assess"),
    ("implement", "cancelled"),
])
def test_illegal_moves_are_invalid_transition(start, target):
    with pytest.raises(InvalidTransition) as err:
        move(change(status=start), target)
    assert err.value.fields[0].field == "status"


def test_unknown_status_is_a_validation_error():
    with pytest.raises(ValidationFailed):
        move(change(), "done")


def test_review_needs_an_outcome():
    with pytest.raises(ValidationFailed) as err:
        move(change(status="implement"), "review")
    assert err.value.fields[0].field == "outcome"
    with pytest.raises(ValidationFailed):
        move(change(status="implement"), "review", outcome="meh")


def test_assess_can_send_back_reject_or_cancel():
    assert move(change(status="assess"), "new").status == "new"
    assert move(change(status="assess"), "rejected").status == "rejected"
    for st in ("new", "assess", "authorize", "scheduled"):
        assert move(change(status=st), "cancelled").status == "cancelled"


def test_emergency_skips_assess_and_scheduling_and_records_it():
    c = move(change(type="emergency"), "authorize")
    assert c.skipped_stages == ("assess",) and c.required_approvals == 1
    c = s.apply_change_decision(c, approver("carol@x"), "approve", "", NOW).entity
    assert c.status == "implement" and c.skipped_stages == ("assess", "scheduled")


def test_high_risk_normal_change_needs_two_distinct_approvers():
    c = move(move(change(risk_level="high"), "assess"), "authorize")
    assert c.required_approvals == 2
    c = s.apply_change_decision(c, approver("carol@x"), "approve", "", NOW).entity
    assert c.status == "authorize" and len(c.approvals) == 1
    with pytest.raises(Conflict):
        s.apply_change_decision(c, approver("Carol@x"), "approve", "", NOW)
    c = s.apply_change_decision(c, approver("dave@x", "admin"), "approve", "", NOW).entity
    assert c.status == "scheduled"


def test_one_rejection_rejects():
    c = move(move(change(risk_level="critical"), "assess"), "authorize")
    out = s.apply_change_decision(c, approver("carol@x"), "reject", "too risky", NOW)
    assert out.entity.status == "rejected" and out.entity.approval_status == "rejected"
    assert out.events[-1].type == "change.rejected"


def test_requester_and_viewers_cannot_approve():
    c = move(move(change(requested_by="ops@x", created_by="alice@x"), "assess"), "authorize")
    for who in ("ops@x", "alice@x"):
        with pytest.raises(Forbidden):
            s.apply_change_decision(c, approver(who, "admin"), "approve", "", NOW)
    with pytest.raises(Forbidden):
        s.apply_change_decision(c, approver("vic@x", "viewer"), "approve", "", NOW)


def test_approvals_only_in_authorize():
    with pytest.raises(InvalidTransition):
        s.apply_change_decision(change(status="assess"), approver("carol@x"), "approve", "", NOW)
    with pytest.raises(ValidationFailed):
        s.apply_change_decision(change(status="authorize"), approver("carol@x"), "maybe", "", NOW)


def test_fields_are_editable_only_before_authorization():
    c = s.apply_change_update(change(status="assess"), {"title": "Deploy v2.4.2"}, "bob@x", NOW)
    assert c.entity.title == "Deploy v2.4.2" and c.events[0].changed_fields == ("title",)
    with pytest.raises(InvalidTransition) as err:
        s.apply_change_update(change(status="scheduled"), {"title": "x"}, "bob@x", NOW)
    assert err.value.fields[0].field == "title"


def test_window_end_before_start_is_refused():
    with pytest.raises(ValidationFailed) as err:
        s.apply_change_update(change(), {"requested_end": T0 - timedelta(hours=1)}, "bob@x", NOW)
    assert err.value.fields[0].field == "requested_end"
    with pytest.raises(ValidationFailed) as err:
        s.validate_new_change(s.NewChange(title="x", type="normal", risk_level="low", requested_start=T0,
                                          requested_end=T0))
    assert [f.field for f in err.value.fields] == ["requested_end"]


def test_new_change_validation_names_every_bad_field():
    with pytest.raises(ValidationFailed) as err:
        s.validate_new_change(s.NewChange(title=" ", type="quick", risk_level="extreme", requested_start=None,
                                          requested_end=None, ci_ids=("",)))
    assert {f.field for f in err.value.fields} == {"title", "type", "risk_level", "requested_start",
                                                   "requested_end", "ci_ids[0]"}


# ---------------------------------------------------------------------------------------------- requests


def request(**kw) -> s.ServiceRequest:
    base = s.ServiceRequest(
        id=s.new_id(), tenant_id="t1", number=1, catalog_item_id="item", catalog_item_name="Laptop",
        requested_by="alice@x", status="pending_approval", details={}, approvals=(), created_by="alice@x",
        fulfilled_by="", note="", version=1, created_at=NOW, updated_at=NOW, status_times={})
    return replace(base, **kw)


def test_request_flow_and_rules():
    r = s.apply_request_decision(request(), approver("carol@x"), "approve", "", NOW).entity
    assert r.status == "approved"
    r = s.apply_request_transition(r, "bob@x", "fulfilled", "shipped", NOW).entity
    assert (r.status, r.fulfilled_by, r.note) == ("fulfilled", "bob@x", "shipped")
    with pytest.raises(InvalidTransition):
        s.apply_request_transition(request(), "bob@x", "fulfilled", "", NOW)
    with pytest.raises(InvalidTransition):
        s.apply_request_transition(request(status="fulfilled"), "bob@x", "cancelled", "", NOW)
    with pytest.raises(Forbidden):
        s.apply_request_decision(request(), approver("alice@x"), "approve", "", NOW)
    with pytest.raises(InvalidTransition):
        s.apply_request_decision(request(status="approved"), approver("carol@x"), "reject", "", NOW)
    assert s.apply_request_decision(request(), approver("carol@x"), "reject", "", NOW).entity.status == "rejected"


# ---------------------------------------------------------------------------------------------- conflicts


def blackout(start: datetime, hours: float, ci_ids: tuple[str, ...] = ()) -> s.Blackout:
    return s.Blackout(id=s.new_id(), tenant_id="t1", name="freeze", reason="", start=start,
                      end=start + timedelta(hours=hours), ci_ids=ci_ids, created_by="a", version=1,
                      created_at=NOW, updated_at=NOW)


def test_same_ci_overlap_is_a_conflict_touching_windows_are_not():
    mine = change(ci_ids=("ci-db", "ci-api"))
    overlapping = change(number=2, ci_ids=("ci-db",), requested_start=T0 + timedelta(hours=3))
    adjacent = change(number=3, ci_ids=("ci-api",), requested_start=T0 + timedelta(hours=4),
                      requested_end=T0 + timedelta(hours=5))
    found = s.detect_conflicts(mine, [overlapping, adjacent], [], {})
    assert [(c.kind, c.ci_id, c.change_reference) for c in found] == [("same_ci", "ci-db", "CHG-00000002")]


def test_closed_cancelled_and_other_cis_do_not_conflict():
    mine = change()
    others = [change(number=2, status="closed"), change(number=3, status="cancelled"),
              change(number=4, status="rejected"), change(number=5, ci_ids=("ci-other",))]
    assert s.detect_conflicts(mine, others, [], {}) == ()


def test_dependent_ci_conflict_carries_the_path():
    mine = change(ci_ids=("ci-db",))
    other = change(number=2, ci_ids=("ci-api",))
    related = {"ci-api": s.Related(ci_id="ci-api", origin="ci-db", path=("ci-db", "ci-api"))}
    (found,) = s.detect_conflicts(mine, [other], [], related)
    assert (found.kind, found.ci_id, found.related_ci_id, found.path) == (
        "dependent_ci", "ci-db", "ci-api", ("ci-db", "ci-api"))


def test_blackouts_global_scoped_and_outside():
    mine = change(ci_ids=("ci-db",))
    found = s.detect_conflicts(mine, [], [
        blackout(T0 - timedelta(hours=1), 2),                          # all CIs, overlaps
        blackout(T0 + timedelta(hours=1), 1, ("ci-db", "ci-x")),       # scoped, hits ci-db
        blackout(T0 + timedelta(hours=1), 1, ("ci-x",)),               # scoped elsewhere
        blackout(T0 + timedelta(hours=4), 5),                          # starts as the change ends
    ], {})
    assert [(c.kind, c.ci_id) for c in found] == [("blackout", ""), ("blackout", "ci-db")]
