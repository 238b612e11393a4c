"""Pre-flight checks before a run acts on CIs (its targets: the incident's CIs and any `ci_ids` parameter):

- an ITSM blackout window covering a target (or every CI) now or within the next hour -> the run is refused;
- an active change on a target (implementing, or scheduled with its window open now) -> an approval is required;
- a blast radius (CIs downstream of the targets, from the CMDB) larger than the tenant's
  `runbook_blast_radius_approval`, or reaching a critical CI -> an approval is required;
- a source that cannot be asked -> an approval is required (what is unknown is not assumed safe).

A runbook without acting steps (only manual and approval steps) needs no checks."""

from __future__ import annotations

from datetime import datetime, timedelta

from services.ai.clients import Clients
from services.ai.runbooks.model import Preflight
from vigil.cmdb.v1 import cmdb_pb2
from vigil.common.v1 import common_pb2
from vigil.itsm.v1 import itsm_pb2
from vigil.runtime.clock import as_utc
from vigil.runtime.errors import NotFound, VigilError
from vigil.runtime.grpcio import call

HORIZON = timedelta(hours=1)
ACTIVE_CHANGE = ("implement", "scheduled")
TIMEOUT = 5.0


def _ts(value: datetime):
    from google.protobuf.timestamp_pb2 import Timestamp

    out = Timestamp()
    out.FromDatetime(value)
    return out


def decide(targets: tuple[str, ...], blackouts: list[dict], changes: list[dict], blast_radius: int,
           highest: str, threshold: int, gaps: list[str]) -> Preflight:
    reasons: list[str] = []
    decision = "allowed"
    if blackouts:
        decision = "refused"
        reasons += [f"blackout window \"{b['name']}\" ({b['start']} to {b['end']}) covers "
                    + (", ".join(b["ci_ids"]) if b["ci_ids"] else "every CI") for b in blackouts]
    if changes:
        reasons += [f"change {c['reference']} is {c['status']} on {', '.join(c['ci_ids'])}" for c in changes]
    if blast_radius > threshold:
        reasons.append(f"the blast radius ({blast_radius} CIs downstream) exceeds {threshold}")
    if highest == "critical":
        reasons.append("the blast radius reaches a critical CI")
    reasons += [f"could not check: {g}" for g in gaps]
    if decision != "refused" and (changes or blast_radius > threshold or highest == "critical" or gaps):
        decision = "approval_required"
    if not reasons:
        reasons.append("no blackout, no active change, blast radius within limits" if targets
                       else "no CIs to act on")
    return Preflight(decision=decision, reasons=tuple(reasons), target_ci_ids=targets, blackouts=tuple(blackouts),
                     active_changes=tuple(changes), blast_radius=blast_radius, highest_criticality=highest,
                     gaps=tuple(gaps))


async def check(clients: Clients, targets: tuple[str, ...], at: datetime, threshold: int) -> Preflight:
    gaps: list[str] = []
    blackouts: list[dict] = []
    try:
        found = await call(clients.itsm.ListBlackouts(itsm_pb2.ListBlackoutsRequest(
            page=common_pb2.PageRequest(limit=200), to=_ts(at + HORIZON), **{"from": _ts(at)}), timeout=TIMEOUT))
        for b in found.items:
            if not b.ci_ids or set(b.ci_ids) & set(targets):
                blackouts.append({"id": b.id, "name": b.name, "start": as_utc(b.start.ToDatetime()).isoformat(),
                                  "end": as_utc(b.end.ToDatetime()).isoformat(),
                                  "ci_ids": [c for c in b.ci_ids if c in targets] if b.ci_ids else []})
    except VigilError as err:
        gaps.append(f"itsm blackouts: {err.code.lower()}")
    changes: list[dict] = []
    blast, highest = 0, ""
    if targets:
        try:
            found = await call(clients.itsm.ListChanges(itsm_pb2.ListChangesRequest(
                ci_ids=list(targets)[:100], status=list(ACTIVE_CHANGE), page=common_pb2.PageRequest(limit=200),
                to=_ts(at), **{"from": _ts(at)}), timeout=TIMEOUT))
            changes = [{"id": c.id, "reference": c.reference, "status": c.status,
                        "ci_ids": [x for x in c.ci_ids if x in targets]} for c in found.items]
        except VigilError as err:
            gaps.append(f"itsm changes: {err.code.lower()}")
        try:
            impact = await call(clients.cmdb.GetImpact(cmdb_pb2.GetImpactRequest(
                ci_ids=list(targets)[:100], direction="downstream", ids_only=True,
                page=common_pb2.PageRequest(limit=1)), timeout=TIMEOUT))
            blast, highest = impact.summary.total, impact.summary.highest_criticality
        except NotFound:
            gaps.append("cmdb: the run's CIs are unknown")
        except VigilError as err:
            gaps.append(f"cmdb blast radius: {err.code.lower()}")
    return decide(targets, blackouts, changes, blast, highest, threshold, gaps)
