"""The dedup / group / reopen / resolve decisions, pure (no database): each rule, out-of-order and late events."""

from datetime import UTC, datetime, timedelta

from services.incident.alerts.decisions import Decider, Incoming, group_key_for
from services.incident.integrations.service import IntegrationSettings
from services.incident.maintenance.service import MaintenanceWindow, Matcher
from vigil.runtime.clock import new_id

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def alert(fp="fp1", status="firing", at=T0, starts=None, ends=None, labels=None, severity="warning", **kw):
    return Incoming(id=new_id(), tenant_id="t1", integration_id="i1", integration_name="am", source="alertmanager",
                    fingerprint=fp, status=status, title=f"alert {fp}", received_at=at,
                    starts_at=starts if starts is not None else (at if status == "firing" else None),
                    ends_at=ends, labels=labels or {"alertname": "HighLatency", "service": "checkout"},
                    source_severity=severity, **kw)


class World:
    """State carried from batch to batch, as the store would keep it."""

    def __init__(self, settings=None, windows=None):
        self.settings = {("t1", "i1"): settings or IntegrationSettings()}
        self.fps, self.groups, self.incidents, self.firing = {}, {}, {}, {}
        self.windows = {"t1": windows or []}
        self.number = 0

    def run(self, *alerts, at=T0):
        d = Decider(settings=self.settings, fingerprints=self.fps, groups=self.groups, incidents=self.incidents,
                    firing=self.firing, windows=self.windows, at=at)
        for a in alerts:
            d.decide(a)
        from dataclasses import replace
        for incident, _entry, _tp in d.created:
            self.number += 1
            d.incidents[incident.id] = replace(d.incidents[incident.id], number=self.number)
        for _original, change in d.changes():
            d.incidents[change.incident.id] = replace(change.incident, number=d.incidents[change.incident.id].number)
        for s in list(self.fps.values()):
            s.stored = True
        for g in self.groups.values():
            g.stored = True
        return d

    def incident(self, record):
        return self.incidents[record.incident_id]


def test_first_alert_creates_then_repeats_are_duplicates_and_severity_rises():
    w = World()
    d = w.run(alert(severity="warning"))
    [r] = d.records
    assert r.decision == "created" and r.severity == "P3" and "no open incident" in r.reason
    d2 = w.run(alert(at=T0 + timedelta(minutes=1), starts=T0, severity="critical"), at=T0 + timedelta(minutes=1))
    assert [x.decision for x in d2.records] == ["duplicate"]
    assert d2.records[0].incident_id == r.incident_id
    assert w.incident(r).severity == "P1"  # the incident takes its alerts' highest severity
    [(original, change)] = d2.changes()
    assert change.events[0][:2] == ("incident.updated", ("severity",))


def test_resolve_resolves_when_all_alerts_of_the_group_are_resolved():
    w = World(IntegrationSettings(group_by="labels", group_labels=("alertname",)))
    d = w.run(alert("a"), alert("b"))
    assert [r.decision for r in d.records] == ["created", "joined"]
    incident_id = d.records[0].incident_id
    d = w.run(alert("a", "resolved", at=T0 + timedelta(minutes=5)), at=T0 + timedelta(minutes=5))
    assert d.records[0].decision == "resolved" and "1 alert(s)" in d.records[0].reason
    assert w.incidents[incident_id].status == "triggered"
    d = w.run(alert("b", "resolved", at=T0 + timedelta(minutes=6)), at=T0 + timedelta(minutes=6))
    assert w.incidents[incident_id].status == "resolved"
    assert w.incidents[incident_id].resolved_by == "integration:am"
    assert d.changes()[0][1].events == (("incident.transitioned", ("status",), "triggered", "resolved"),)


def test_refire_within_the_reopen_window_reopens_after_it_creates_a_linked_incident():
    w = World(IntegrationSettings(reopen_window_seconds=600))
    first = w.run(alert()).records[0]
    w.run(alert(status="resolved", at=T0 + timedelta(minutes=1)), at=T0 + timedelta(minutes=1))
    assert w.incident(first).status == "resolved"
    again = w.run(alert(at=T0 + timedelta(minutes=5)), at=T0 + timedelta(minutes=5)).records[0]
    assert (again.decision, again.incident_id) == ("reopened", first.incident_id)
    assert w.incident(first).status == "reopened" and "reopen_window=600s" == again.rule
    w.run(alert(status="resolved", at=T0 + timedelta(minutes=6)), at=T0 + timedelta(minutes=6))
    late = w.run(alert(at=T0 + timedelta(minutes=30)), at=T0 + timedelta(minutes=30)).records[0]
    assert late.decision == "created" and late.incident_id != first.incident_id
    assert late.previous_incident_id == first.incident_id and "reopen window" in late.reason


def test_out_of_order_resolve_before_trigger_and_late_trigger_open_nothing():
    w = World()
    r = w.run(alert(status="resolved", starts=T0, ends=T0 + timedelta(minutes=2))).records[0]
    assert r.decision == "resolved" and r.incident_id is None and "remembered" in r.reason
    late = w.run(alert(at=T0 + timedelta(minutes=3), starts=T0)).records[0]
    assert late.decision == "duplicate" and "late" in late.reason and not w.incidents
    # A new episode (started after the remembered end) does open an incident.
    new = w.run(alert(at=T0 + timedelta(minutes=10), starts=T0 + timedelta(minutes=10))).records[0]
    assert new.decision == "created"


def test_stale_resolve_of_an_older_episode_does_not_resolve_the_current_one():
    w = World(IntegrationSettings(reopen_window_seconds=3600))
    w.run(alert(starts=T0))
    w.run(alert(status="resolved", ends=T0 + timedelta(minutes=1), at=T0 + timedelta(minutes=1)))
    w.run(alert(starts=T0 + timedelta(minutes=5), at=T0 + timedelta(minutes=5)))  # re-fire: reopened
    stale = w.run(alert(status="resolved", starts=T0, ends=T0 + timedelta(minutes=1), at=T0 + timedelta(minutes=6)))
    [r] = stale.records
    assert r.decision == "duplicate" and "stale resolve" in r.reason
    assert w.incident(r).status == "reopened"


def test_a_firing_alert_with_a_past_ends_at_counts_as_resolved():
    w = World()
    w.run(alert(starts=T0))
    r = w.run(alert(at=T0 + timedelta(minutes=5), starts=T0, ends=T0 + timedelta(minutes=4))).records[0]
    assert r.decision == "resolved" and w.incident(r).status == "resolved"


def test_maintenance_window_suppresses_matching_alerts_only():
    window = MaintenanceWindow(
        id=new_id(), tenant_id="t1", name="db upgrade", comment="", matchers=(Matcher("service", "=~", "check.*"),),
        ci_ids=(), integration_ids=(), starts_at=T0 - timedelta(hours=1), ends_at=T0 + timedelta(hours=1),
        created_by="x", created_at=T0, updated_at=T0, version=1)
    w = World(windows=[window])
    d = w.run(alert("a"), alert("b", labels={"service": "payments"}))
    assert [r.decision for r in d.records] == ["suppressed", "created"]
    assert d.records[0].maintenance_window_id == window.id and "db upgrade" in d.records[0].reason
    after = w.run(alert("a", at=T0 + timedelta(hours=2)), at=T0 + timedelta(hours=2)).records[0]
    assert after.decision == "created"  # still firing after the window: it pages


def test_group_window_starts_a_new_incident_after_it_passes():
    w = World(IntegrationSettings(group_by="labels", group_labels=("alertname",), group_window_seconds=300))
    first = w.run(alert("a")).records[0]
    joined = w.run(alert("b", at=T0 + timedelta(minutes=4)), at=T0 + timedelta(minutes=4)).records[0]
    later = w.run(alert("c", at=T0 + timedelta(minutes=6)), at=T0 + timedelta(minutes=6)).records[0]
    assert joined.decision == "joined" and joined.incident_id == first.incident_id
    assert later.decision == "created" and later.previous_incident_id == first.incident_id
    assert "group window of 300s" in later.reason


def test_acknowledge_moves_a_triggered_incident_to_acknowledged():
    w = World()
    first = w.run(alert(source_group_key="")).records[0]
    ack = w.run(alert(status="acknowledged", at=T0 + timedelta(minutes=1)), at=T0 + timedelta(minutes=1)).records[0]
    assert ack.decision == "acknowledged" and w.incident(first).status == "acknowledged"
    nothing = w.run(alert("zz", status="acknowledged")).records[0]
    assert nothing.decision == "duplicate"


def test_auto_resolve_never_leaves_the_incident_open():
    w = World(IntegrationSettings(auto_resolve="never"))
    first = w.run(alert()).records[0]
    r = w.run(alert(status="resolved", at=T0 + timedelta(minutes=1)), at=T0 + timedelta(minutes=1)).records[0]
    assert r.decision == "resolved" and "never auto-resolves" in r.reason
    assert w.incident(first).status == "triggered"


def test_group_keys():
    a = alert(labels={"alertname": "X", "service": "s", "pod": "p1"}, source_group_key='{}:{alertname="X"}')
    assert group_key_for(IntegrationSettings(), a) == "fingerprint:fp1"
    assert group_key_for(IntegrationSettings(group_by="group_key"), a).startswith("group_key:")
    by_labels = IntegrationSettings(group_by="labels", group_labels=("alertname", "service"))
    b = alert("fp2", labels={"alertname": "X", "service": "s", "pod": "p2"})
    assert group_key_for(by_labels, a) == group_key_for(by_labels, b)
    assert group_key_for(by_labels, a) != group_key_for(by_labels, alert(labels={"alertname": "Y", "service": "s"}))
