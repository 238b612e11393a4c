"""What happens to each alert: pure decisions over the state read in the batch's transaction (no SQL, gRPC or
Kafka here; services/incident/alerts/store.py reads the state, runs `Decider` and writes what it decided).

State: each fingerprint of an integration has a row (firing, acknowledged or resolved; the current episode's
start and end; its incident and group), and each group (by fingerprint, by the source's groupKey, or by chosen
labels) points to its current incident. Decisions, in the order the alerts of one fingerprint were accepted:

- `suppressed`: a firing alert received inside a maintenance window that matches it (no incident, no state).
- `duplicate`: the fingerprint is already firing on an open incident (a repeat), or the event is older than
  the state it would change (a firing whose episode already resolved, a resolve older than the current
  episode's start, an acknowledge with nothing firing).
- `joined`: a new firing episode whose group has an open incident (within the group window).
- `reopened`: the group's incident was resolved less than the reopen window ago; it moves resolved -> reopened.
- `created`: otherwise a new incident (linked to the group's previous one, if any).
- `resolved`: the source says the episode ended; when none of the incident's fingerprints is firing any more
  and the integration's policy is all_resolved, the incident resolves.
- `acknowledged`: PagerDuty's acknowledge; a triggered or open incident moves to acknowledged.

The alert source speaks for the system: its resolve and acknowledge move an incident directly (triggered ->
resolved is allowed for it), unlike people, who follow the incident state machine step by step.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from services.incident.integrations.service import IntegrationSettings
from services.incident.maintenance.service import MaintenanceWindow, covering
from services.incident.service import MAX_CI_IDS, SEVERITIES, Change, Incident, TimelineEntry
from vigil.runtime.clock import new_id

DECISIONS = ("created", "joined", "reopened", "resolved", "acknowledged", "suppressed", "duplicate")
FIRING = ("firing", "acknowledged")  # fingerprint states that keep an incident open
CLOSED = ("resolved", "closed")
MAX_IMPACTED = 500


@dataclass(frozen=True, slots=True)
class Incoming:
    """One accepted alert (the intake message), with what the CMDB and ITSM said about it."""

    id: str
    tenant_id: str
    integration_id: str
    integration_name: str
    source: str
    fingerprint: str
    status: str
    title: str
    received_at: datetime
    description: str = ""
    source_severity: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    source_group_key: str = ""
    url: str = ""
    traceparent: str = ""
    ci_ids: tuple[str, ...] = ()
    ci_lookup: str = "ok"
    impacted_ci_ids: tuple[str, ...] = ()
    change_ids: tuple[str, ...] = ()
    change_lookup: str = "skipped"

    @property
    def state_key(self) -> tuple[str, str, str]:
        return (self.tenant_id, self.integration_id, self.fingerprint)

    def effective_status(self) -> str:
        """A firing alert whose end is already past when it arrives (a stale endsAt) has ended."""
        if self.status == "firing" and self.ends_at is not None and self.ends_at <= self.received_at:
            return "resolved"
        return self.status

    @property
    def began(self) -> datetime:
        return self.starts_at or self.received_at

    @property
    def ended(self) -> datetime:
        return self.ends_at or self.received_at


@dataclass(slots=True)
class FingerprintState:
    tenant_id: str
    integration_id: str
    fingerprint: str
    group_id: str | None
    incident_id: str | None
    status: str
    starts_at: datetime
    ends_at: datetime | None
    updated_at: datetime
    stored: bool = True  # False: a new row to insert


@dataclass(slots=True)
class GroupState:
    id: str
    tenant_id: str
    integration_id: str
    group_key: str
    incident_id: str
    opened_at: datetime
    version: int
    stored: bool = True


@dataclass(frozen=True, slots=True)
class AlertRecord:
    alert: Incoming
    severity: str
    group_key: str
    decision: str
    reason: str
    rule: str
    incident_id: str | None = None
    previous_incident_id: str | None = None
    maintenance_window_id: str | None = None


def group_key_for(settings: IntegrationSettings, alert: Incoming) -> str:
    if settings.group_by == "group_key" and alert.source_group_key:
        return "group_key:" + hashlib.sha256(alert.source_group_key.encode()).hexdigest()[:40]
    if settings.group_by == "labels" and settings.group_labels:
        return "labels:" + hashlib.sha256(_group_labels(settings, alert).encode()).hexdigest()[:40]
    return "fingerprint:" + alert.fingerprint


def _group_labels(settings: IntegrationSettings, alert: Incoming) -> str:
    return ",".join(f"{n}={alert.labels.get(n, '')}" for n in settings.group_labels)


def group_rule(settings: IntegrationSettings, alert: Incoming) -> str:
    if settings.group_by == "group_key" and alert.source_group_key:
        return f"group_by=group_key ({alert.source_group_key[:200]})"
    if settings.group_by == "labels" and settings.group_labels:
        return f"group_by=labels ({_group_labels(settings, alert)[:200]})"
    return "group_by=fingerprint"


def higher_severity(a: str, b: str) -> str:
    return min(a, b, key=SEVERITIES.index)


@dataclass(slots=True)
class _Pending:
    """The changes one batch makes to an incident that existed before it: written as one version bump."""

    original: Incident
    timeline: list[TimelineEntry] = field(default_factory=list)
    events: list[tuple[str, tuple[str, ...], str, str]] = field(default_factory=list)


class Decider:
    """Applies the decisions of a batch, in order, to the state read in its transaction. Afterwards the store
    writes: `created` (new incidents), `changes()` (one versioned change per existing incident touched, and
    the further changes of incidents created in this batch), `fingerprints`/`groups` that were touched, and
    `records` (every alert with its decision)."""

    def __init__(self, *, settings: dict[tuple[str, str], IntegrationSettings],
                 fingerprints: dict[tuple[str, str, str], FingerprintState],
                 groups: dict[tuple[str, str, str], GroupState], incidents: dict[str, Incident],
                 firing: dict[str, int], windows: dict[str, list[MaintenanceWindow]], at: datetime) -> None:
        self.settings = settings
        self.fingerprints = fingerprints
        self.groups = groups
        self.incidents = incidents
        self.firing = firing
        self.windows = windows
        self.at = at
        self.records: list[AlertRecord] = []
        self.created: list[tuple[Incident, TimelineEntry, str]] = []
        self.created_ids: set[str] = set()
        self.pending: dict[str, _Pending] = {}
        self.touched_fingerprints: dict[tuple[str, str, str], FingerprintState] = {}
        self.touched_groups: dict[tuple[str, str, str], GroupState] = {}

    # -- the decisions

    def decide(self, alert: Incoming) -> AlertRecord:
        settings = self.settings.get((alert.tenant_id, alert.integration_id)) or IntegrationSettings()
        severity = settings.severity_for(alert.source_severity) if alert.source_severity else settings.default_severity
        status = alert.effective_status()
        if status == "firing":
            record = self._firing(settings, alert, severity)
        elif status == "acknowledged":
            record = self._acknowledge(settings, alert, severity)
        else:
            record = self._resolve(settings, alert, severity)
        self.records.append(record)
        return record

    def _record(self, settings: IntegrationSettings, alert: Incoming, severity: str, decision: str, reason: str,
                rule: str, **kw) -> AlertRecord:
        return AlertRecord(alert=alert, severity=severity, group_key=group_key_for(settings, alert),
                           decision=decision, reason=reason, rule=rule, **kw)

    def _firing(self, settings: IntegrationSettings, alert: Incoming, severity: str) -> AlertRecord:
        fp = self.fingerprints.get(alert.state_key)
        window = covering(self.windows.get(alert.tenant_id, []), alert.integration_id, alert.labels, alert.ci_ids,
                          alert.received_at)
        if window is not None:
            return self._record(settings, alert, severity, "suppressed",
                                f"fingerprint {alert.fingerprint} matched {window.describe()}; no incident opened",
                                "maintenance_window", maintenance_window_id=window.id,
                                incident_id=fp.incident_id if fp and fp.status in FIRING else None)
        incident = self.incidents.get(fp.incident_id) if fp and fp.incident_id else None
        if fp is not None and fp.status in FIRING and incident is not None and incident.status not in CLOSED:
            if alert.began < fp.starts_at:
                return self._record(settings, alert, severity, "duplicate",
                                    f"fingerprint {alert.fingerprint} is firing since {fp.starts_at.isoformat()}; "
                                    f"this alert began earlier ({alert.began.isoformat()}), so it is stale",
                                    "out_of_order", incident_id=incident.id)
            self._touch_fingerprint(fp, updated_at=self.at)
            self._raise(incident, severity, alert)
            return self._record(settings, alert, severity, "duplicate",
                                f"fingerprint {alert.fingerprint} is already firing on {_ref(incident)}",
                                "dedup=fingerprint", incident_id=incident.id)
        if fp is not None and fp.status == "resolved" and fp.ends_at is not None and alert.began <= fp.ends_at:
            return self._record(settings, alert, severity, "duplicate",
                                f"late: this episode of fingerprint {alert.fingerprint} began "
                                f"{alert.began.isoformat()} and already resolved at {fp.ends_at.isoformat()}",
                                "out_of_order", incident_id=fp.incident_id)
        return self._new_episode(settings, alert, severity, fp)

    def _new_episode(self, settings: IntegrationSettings, alert: Incoming, severity: str,
                     fp: FingerprintState | None) -> AlertRecord:
        key = group_key_for(settings, alert)
        rule = group_rule(settings, alert)
        group = self.groups.get((alert.tenant_id, alert.integration_id, key))
        incident = self.incidents.get(group.incident_id) if group else None
        previous = None
        if group is not None and incident is not None:
            within_group_window = (not settings.group_window_seconds or
                                   alert.began - group.opened_at <= timedelta(seconds=settings.group_window_seconds))
            if incident.status not in CLOSED and within_group_window:
                self._attach(fp, alert, group, incident)
                self._raise(incident, severity, alert)
                window = f", group window {settings.group_window_seconds}s" if settings.group_window_seconds else ""
                return self._record(settings, alert, severity, "joined",
                                    f"fingerprint {alert.fingerprint} joined {_ref(incident)}, open for its group "
                                    f"({rule}{window})", rule, incident_id=incident.id)
            resolved_at = incident.status_times.get("resolved")
            if (incident.status == "resolved" and resolved_at is not None and
                    alert.began - resolved_at <= timedelta(seconds=settings.reopen_window_seconds)):
                self._transition(incident, "reopened", alert,
                                 f"reopened by alert {alert.title!r} (fingerprint {alert.fingerprint}): resolved "
                                 f"{resolved_at.isoformat()}, within the reopen window of "
                                 f"{settings.reopen_window_seconds}s")
                self._attach(fp, alert, group, self.incidents[incident.id])
                self._raise(self.incidents[incident.id], severity, alert)
                return self._record(settings, alert, severity, "reopened",
                                    f"fingerprint {alert.fingerprint} fired again; {_ref(incident)} was resolved at "
                                    f"{resolved_at.isoformat()}, less than the reopen window of "
                                    f"{settings.reopen_window_seconds}s before", f"reopen_window={settings.reopen_window_seconds}s",
                                    incident_id=incident.id)
            previous = incident
        created = self._create(alert, severity, key, group)
        group = self.groups[(alert.tenant_id, alert.integration_id, key)]
        self._attach(fp, alert, group, created)
        if previous is None:
            reason = f"no open incident for the group of fingerprint {alert.fingerprint} ({rule})"
        elif previous.status == "closed":
            reason = f"the group's previous incident {_ref(previous)} is closed"
        elif previous.status == "resolved":
            reason = (f"the group's previous incident {_ref(previous)} was resolved more than the reopen window "
                      f"of {settings.reopen_window_seconds}s before")
        else:
            reason = (f"the group window of {settings.group_window_seconds}s since {_ref(previous)} opened has "
                      "passed")
        return self._record(settings, alert, severity, "created", reason, rule, incident_id=created.id,
                            previous_incident_id=previous.id if previous else None)

    def _acknowledge(self, settings: IntegrationSettings, alert: Incoming, severity: str) -> AlertRecord:
        fp = self.fingerprints.get(alert.state_key)
        incident = self.incidents.get(fp.incident_id) if fp and fp.incident_id and fp.status in FIRING else None
        if fp is None or incident is None:
            return self._record(settings, alert, severity, "duplicate",
                                f"acknowledge for fingerprint {alert.fingerprint}, which has no firing alert",
                                "out_of_order")
        if fp.status == "firing":
            self._touch_fingerprint(fp, status="acknowledged", updated_at=self.at)
        if incident.status in ("triggered", "open"):
            self._transition(incident, "acknowledged", alert,
                             f"acknowledged by the source ({alert.integration_name}) for fingerprint {alert.fingerprint}")
            reason = f"{_ref(incident)} acknowledged by the source"
        else:
            reason = f"{_ref(incident)} is already {incident.status}"
        return self._record(settings, alert, severity, "acknowledged", reason, "source_acknowledge",
                            incident_id=incident.id)

    def _resolve(self, settings: IntegrationSettings, alert: Incoming, severity: str) -> AlertRecord:
        fp = self.fingerprints.get(alert.state_key)
        ended = alert.ended
        if fp is None:
            # A resolve before its trigger: remember the ended episode, so that its late trigger opens nothing.
            state = FingerprintState(alert.tenant_id, alert.integration_id, alert.fingerprint, None, None,
                                     "resolved", alert.began if alert.starts_at else ended, ended, self.at,
                                     stored=False)
            self.fingerprints[alert.state_key] = state
            self.touched_fingerprints[alert.state_key] = state
            return self._record(settings, alert, severity, "resolved",
                                f"fingerprint {alert.fingerprint} had no firing alert; its end at "
                                f"{ended.isoformat()} is remembered so a late trigger of it opens nothing",
                                "resolve_before_trigger")
        if fp.status not in FIRING:
            return self._record(settings, alert, severity, "duplicate",
                                f"fingerprint {alert.fingerprint} already resolved at "
                                f"{(fp.ends_at or fp.updated_at).isoformat()}", "out_of_order",
                                incident_id=fp.incident_id)
        if ended < fp.starts_at:
            return self._record(settings, alert, severity, "duplicate",
                                f"stale resolve: it ended {ended.isoformat()}, before the current episode of "
                                f"fingerprint {alert.fingerprint} began ({fp.starts_at.isoformat()})",
                                "out_of_order", incident_id=fp.incident_id)
        incident_id = fp.incident_id
        self._touch_fingerprint(fp, status="resolved", ends_at=ended, updated_at=self.at)
        if incident_id:
            self.firing[incident_id] = max(0, self.firing.get(incident_id, 0) - 1)
        incident = self.incidents.get(incident_id) if incident_id else None
        if incident is None:
            return self._record(settings, alert, severity, "resolved", f"fingerprint {alert.fingerprint} resolved",
                                "source_resolve")
        still = self.firing.get(incident.id, 0)
        if still:
            reason = f"fingerprint {alert.fingerprint} resolved; {still} alert(s) of {_ref(incident)} still firing"
        elif settings.auto_resolve == "never":
            reason = (f"fingerprint {alert.fingerprint} resolved, the last firing alert of {_ref(incident)}; "
                      "the integration never auto-resolves")
        elif incident.status in CLOSED:
            reason = f"fingerprint {alert.fingerprint} resolved; {_ref(incident)} is already {incident.status}"
        else:
            self._transition(incident, "resolved", alert,
                             f"all alerts resolved (auto_resolve=all_resolved); the last was fingerprint "
                             f"{alert.fingerprint}", resolved_by=f"integration:{alert.integration_name}")
            reason = f"fingerprint {alert.fingerprint} resolved, the last firing alert: {_ref(incident)} resolved"
        return self._record(settings, alert, severity, "resolved", reason,
                            f"auto_resolve={settings.auto_resolve}", incident_id=incident.id)

    # -- state changes

    def _touch_fingerprint(self, fp: FingerprintState, **changes: Any) -> None:
        for name, value in changes.items():
            setattr(fp, name, value)
        self.touched_fingerprints[(fp.tenant_id, fp.integration_id, fp.fingerprint)] = fp

    def _attach(self, fp: FingerprintState | None, alert: Incoming, group: GroupState, incident: Incident) -> None:
        """The fingerprint starts a firing episode on the incident."""
        if fp is not None and fp.status in FIRING and fp.incident_id:
            self.firing[fp.incident_id] = max(0, self.firing.get(fp.incident_id, 0) - 1)
        if fp is None:
            fp = FingerprintState(alert.tenant_id, alert.integration_id, alert.fingerprint, group.id, incident.id,
                                  "firing", alert.began, None, self.at, stored=False)
            self.fingerprints[alert.state_key] = fp
            self.touched_fingerprints[alert.state_key] = fp
        else:
            self._touch_fingerprint(fp, group_id=group.id, incident_id=incident.id, status="firing",
                                    starts_at=alert.began, ends_at=None, updated_at=self.at)
        self.firing[incident.id] = self.firing.get(incident.id, 0) + 1

    def _create(self, alert: Incoming, severity: str, key: str, group: GroupState | None) -> Incident:
        actor = f"integration:{alert.integration_name}"
        incident = Incident(
            id=new_id(), tenant_id=alert.tenant_id, number=0, title=(alert.title or f"alert {alert.fingerprint}")[:500],
            description=alert.description[:20_000], severity=severity, status="triggered", source=alert.source,
            ci_ids=alert.ci_ids[:MAX_CI_IDS], assignee="", labels=dict(alert.labels), resolution_notes="",
            created_by=actor, resolved_by="", dedup_key=key[:255], version=1, created_at=self.at,
            updated_at=self.at, status_times={"triggered": self.at},
            impacted_ci_ids=alert.impacted_ci_ids[:MAX_IMPACTED], change_ids=alert.change_ids)
        entry = TimelineEntry(id=new_id(), incident_id=incident.id, kind="created", actor=actor, at=self.at,
                              to_status="triggered",
                              message=f"created from alert {alert.title!r} (fingerprint {alert.fingerprint})")
        self.created.append((incident, entry, alert.traceparent))
        self.created_ids.add(incident.id)
        self.incidents[incident.id] = incident
        if group is None:
            group = GroupState(new_id(), alert.tenant_id, alert.integration_id, key, incident.id, alert.began, 0,
                               stored=False)
            self.groups[(alert.tenant_id, alert.integration_id, key)] = group
        else:
            group.incident_id, group.opened_at = incident.id, alert.began
        self.touched_groups[(alert.tenant_id, alert.integration_id, key)] = group
        return incident

    def _pending(self, incident: Incident) -> _Pending:
        pending = self.pending.get(incident.id)
        if pending is None:
            pending = self.pending[incident.id] = _Pending(incident)
        return pending

    def _raise(self, incident: Incident, severity: str, alert: Incoming) -> None:
        """The incident takes the highest severity of its alerts, and collects their CIs and change windows."""
        incident = self.incidents[incident.id]
        changes: dict[str, Any] = {}
        if higher_severity(severity, incident.severity) != incident.severity:
            changes["severity"] = severity
        new_cis = [c for c in alert.ci_ids if c not in incident.ci_ids]
        if new_cis and len(incident.ci_ids) < MAX_CI_IDS:
            changes["ci_ids"] = (incident.ci_ids + tuple(new_cis))[:MAX_CI_IDS]
            impacted = dict.fromkeys(incident.impacted_ci_ids + alert.impacted_ci_ids)
            changes["impacted_ci_ids"] = tuple(c for c in impacted if c not in changes["ci_ids"])[:MAX_IMPACTED]
        new_changes = [c for c in alert.change_ids if c not in incident.change_ids]
        if new_changes:
            changes["change_ids"] = incident.change_ids + tuple(new_changes)
        if not changes:
            return
        updated = replace(incident, **changes)
        self.incidents[incident.id] = updated
        pending = self._pending(incident)
        pending.timeline.append(TimelineEntry(
            id=new_id(), incident_id=incident.id, kind="updated", actor=f"integration:{alert.integration_name}",
            at=self.at, message=f"from alert {alert.title!r} (fingerprint {alert.fingerprint})",
            changes={k: list(v) if isinstance(v, tuple) else v for k, v in changes.items()}))
        pending.events.append(("incident.updated", tuple(sorted(changes)), "", ""))

    def _transition(self, incident: Incident, target: str, alert: Incoming, message: str, **extra: Any) -> None:
        incident = self.incidents[incident.id]
        updated = replace(incident, status=target, status_times={**incident.status_times, target: self.at}, **extra)
        self.incidents[incident.id] = updated
        pending = self._pending(incident)
        pending.timeline.append(TimelineEntry(
            id=new_id(), incident_id=incident.id, kind="transitioned", actor=f"integration:{alert.integration_name}",
            at=self.at, from_status=incident.status, to_status=target, message=message))
        pending.events.append(("incident.transitioned", ("status",), incident.status, target))

    # -- results

    def changes(self) -> list[tuple[Incident, Change]]:
        """(the incident as read or as created, its change) for every incident this batch modified."""
        out = []
        for incident_id, pending in self.pending.items():
            final = replace(self.incidents[incident_id], version=pending.original.version + 1, updated_at=self.at)
            out.append((pending.original, Change(final, tuple(pending.timeline), tuple(pending.events))))
        return out

    def read_only_incidents(self) -> list[Incident]:
        """Incidents whose state a decision read without changing them (their version is checked at write)."""
        seen = {r.incident_id for r in self.records if r.incident_id}
        return [self.incidents[i] for i in seen
                if i not in self.pending and i not in self.created_ids and i in self.incidents]


def _ref(incident: Incident) -> str:
    # Incidents created in this batch get their reference when the store inserts them (see with_references).
    return incident.reference if incident.number else f"{{incident:{incident.id}}}"


def with_references(text: str, references: dict[str, str]) -> str:
    if "{incident:" not in text:
        return text
    for incident_id, reference in references.items():
        text = text.replace(f"{{incident:{incident_id}}}", reference)
    return text
