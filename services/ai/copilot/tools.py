"""The copilot's tools: read-only questions to the other services (and the ai service's own analyses), asked with
the caller's tenant and role (the bound call context travels with every gRPC call, so each service applies its
own tenancy and role rules). Each tool bounds its arguments, returns JSON-able data, and names the ids it
returned (the answer may cite only those)."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from google.protobuf.timestamp_pb2 import Timestamp

from services.ai.clients import Clients
from services.ai.rca.store import RcaStore
from vigil.cmdb.v1 import cmdb_pb2
from vigil.common.v1 import common_pb2
from vigil.incident.v1 import incident_pb2
from vigil.itsm.v1 import itsm_pb2
from vigil.observability.v1 import observability_pb2 as obs
from vigil.runtime.clock import as_utc, now
from vigil.runtime.context import CallContext
from vigil.runtime.errors import NotFound, ValidationFailed
from vigil.runtime.grpcio import call

MAX_ITEMS = 20


@dataclass(frozen=True, slots=True)
class Citation:
    id: str
    kind: str
    title: str
    url: str


@dataclass(slots=True)
class ToolResult:
    data: Any
    citations: list[Citation] = field(default_factory=list)
    summary: str = ""


def _ts(value: datetime) -> Timestamp:
    out = Timestamp()
    out.FromDatetime(value)
    return out


def _iso(ts: Timestamp) -> str:
    return as_utc(ts.ToDatetime()).isoformat().replace("+00:00", "Z")


def _int(args: dict, name: str, default: int, lo: int, hi: int) -> int:
    value = args.get(name, default)
    try:
        value = int(value)
    except (TypeError, ValueError):
        value = default
    return max(lo, min(hi, value))


def _text(args: dict, name: str, limit: int = 200) -> str:
    value = args.get(name) or ""
    return str(value).strip()[:limit]


SCHEMAS: list[dict[str, Any]] = [
    {"name": "list_incidents", "description": "The tenant's incidents, newest first.", "parameters": {
        "type": "object", "properties": {
            "status": {"type": "string", "description": "comma-separated: triggered,open,acknowledged,..."},
            "severity": {"type": "string", "description": "comma-separated: P1,P2,P3,P4"},
            "since_hours": {"type": "integer", "description": "created in the last N hours (max 744)"},
            "q": {"type": "string", "description": "text in title or description"}}}},
    {"name": "get_incident", "description": "One incident and its timeline.", "parameters": {
        "type": "object", "properties": {"id": {"type": "string", "description": "id or INC-00000001"}},
        "required": ["id"]}},
    {"name": "get_rca", "description": "The latest root-cause analysis of an incident.", "parameters": {
        "type": "object", "properties": {"incident_id": {"type": "string"}}, "required": ["incident_id"]}},
    {"name": "find_ci", "description": "Configuration items whose name or owner matches.", "parameters": {
        "type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}},
    {"name": "ci_impact", "description": "What a CI's failure hurts (downstream) or what it depends on (upstream).",
     "parameters": {"type": "object", "properties": {
         "ci": {"type": "string", "description": "CI id or name"},
         "direction": {"type": "string", "enum": ["downstream", "upstream"]}}, "required": ["ci"]}},
    {"name": "list_changes", "description": "Change requests, optionally on one CI, in the last N days.",
     "parameters": {"type": "object", "properties": {
         "ci": {"type": "string", "description": "CI id or name"},
         "days": {"type": "integer", "description": "1 to 31"}}}},
    {"name": "query_logs", "description": "Log lines of a service, newest first.", "parameters": {
        "type": "object", "properties": {
            "service": {"type": "string"}, "level": {"type": "string", "description": "e.g. error"},
            "q": {"type": "string"}, "minutes": {"type": "integer", "description": "1 to 1440"}},
        "required": ["service"]}},
    {"name": "query_metrics", "description": "A metric of a service over the last N minutes (min, max, last).",
     "parameters": {"type": "object", "properties": {
         "metric_name": {"type": "string"}, "service": {"type": "string"},
         "minutes": {"type": "integer", "description": "5 to 1440"}}, "required": ["metric_name"]}},
]


class Tools:
    def __init__(self, clients: Clients, rca: RcaStore) -> None:
        self.clients = clients
        self.rca = rca
        self.run: dict[str, Callable[[CallContext, dict], Awaitable[ToolResult]]] = {
            "list_incidents": self.list_incidents, "get_incident": self.get_incident, "get_rca": self.get_rca,
            "find_ci": self.find_ci, "ci_impact": self.ci_impact, "list_changes": self.list_changes,
            "query_logs": self.query_logs, "query_metrics": self.query_metrics}

    @staticmethod
    def _incident(i: incident_pb2.Incident) -> tuple[dict, Citation]:
        data = {"id": i.id, "reference": i.reference, "title": i.title, "severity": i.severity,
                "status": i.status, "created_at": _iso(i.created_at), "ci_ids": list(i.ci_ids)}
        return data, Citation(i.reference, "incident", i.title, f"/api/incidents/{i.reference}")

    async def list_incidents(self, ctx: CallContext, args: dict) -> ToolResult:
        since = _int(args, "since_hours", 0, 0, 744)
        resp = await call(self.clients.incident.ListIncidents(incident_pb2.ListIncidentsRequest(
            page=common_pb2.PageRequest(limit=100, sort="created_at", order="desc"),
            status=[s.strip() for s in _text(args, "status").split(",") if s.strip()],
            severity=[s.strip().upper() for s in _text(args, "severity").split(",") if s.strip()],
            q=_text(args, "q"))))
        items, cites = [], []
        for i in resp.items:
            if since and as_utc(i.created_at.ToDatetime()) < now() - timedelta(hours=since):
                continue
            data, cite = self._incident(i)
            items.append(data)
            cites.append(cite)
            if len(items) >= MAX_ITEMS:
                break
        return ToolResult({"incidents": items}, cites, f"{len(items)} incident(s)")

    async def get_incident(self, ctx: CallContext, args: dict) -> ToolResult:
        key = _text(args, "id", 64)
        i = (await call(self.clients.incident.GetIncident(incident_pb2.GetIncidentRequest(id=key)))).incident
        timeline = (await call(self.clients.incident.GetTimeline(incident_pb2.GetTimelineRequest(id=i.id)))).entries
        data, cite = self._incident(i)
        data["timeline"] = [{"kind": e.kind, "at": _iso(e.at), "actor": e.actor, "message": e.message[:300],
                             "to_status": e.to_status} for e in list(timeline)[-MAX_ITEMS:]]
        return ToolResult(data, [cite], f"incident {i.reference}")

    async def get_rca(self, ctx: CallContext, args: dict) -> ToolResult:
        key = _text(args, "incident_id", 64)
        i = (await call(self.clients.incident.GetIncident(incident_pb2.GetIncidentRequest(id=key)))).incident
        found, _ = await self.rca.list_for_incident(ctx.tenant_id, i.id, 5, 0)
        result = next((r for r in found if r.status == "completed"), None)
        _, incident_cite = self._incident(i)
        if result is None:
            return ToolResult({"incident": i.reference, "analysis": None}, [incident_cite],
                              f"no analysis of {i.reference} yet")
        cites = [incident_cite, Citation(result.id, "rca", f"analysis of {i.reference}", f"/api/rca/{result.id}")]
        cited = {e for c in result.causes for e in c.evidence_ids}
        evidence = [e for e in result.evidence if e.id in cited]
        cites += [Citation(e.id, "evidence", e.title, e.source_url) for e in evidence]
        data = {"incident": i.reference, "analysis_id": result.id, "outcome": result.outcome, "mode": result.mode,
                "summary": result.summary[:1500],
                "causes": [{"ci": c.ci_name, "hypothesis": c.hypothesis, "confidence": c.confidence_label,
                            "evidence_ids": list(c.evidence_ids)} for c in result.causes],
                "evidence": [{"id": e.id, "title": e.title, "description": str(e.detail.get("description", ""))}
                             for e in evidence]}
        return ToolResult(data, cites, f"analysis {result.id} of {i.reference}")

    async def _resolve_ci(self, ref: str) -> cmdb_pb2.ConfigurationItem:
        if not ref:
            raise ValidationFailed("which CI?", [])
        try:
            return (await call(self.clients.cmdb.GetItem(cmdb_pb2.GetItemRequest(id=ref)))).item
        except (NotFound, ValidationFailed):
            pass
        found = (await call(self.clients.cmdb.ListItems(cmdb_pb2.ListItemsRequest(
            q=ref, page=common_pb2.PageRequest(limit=20))))).items
        exact = [c for c in found if c.name.lower() == ref.lower()]
        if exact or found:
            return (exact or found)[0]
        raise NotFound(f"no configuration item named {ref!r}")

    @staticmethod
    def _ci(c: cmdb_pb2.ConfigurationItem) -> tuple[dict, Citation]:
        return ({"id": c.id, "name": c.name, "class": getattr(c, "class"), "criticality": c.criticality},
                Citation(c.id, "ci", c.name, f"/api/cmdb/items/{c.id}"))

    async def find_ci(self, ctx: CallContext, args: dict) -> ToolResult:
        found = (await call(self.clients.cmdb.ListItems(cmdb_pb2.ListItemsRequest(
            q=_text(args, "name"), page=common_pb2.PageRequest(limit=MAX_ITEMS))))).items
        pairs = [self._ci(c) for c in found]
        return ToolResult({"items": [p[0] for p in pairs]}, [p[1] for p in pairs], f"{len(pairs)} CI(s)")

    async def ci_impact(self, ctx: CallContext, args: dict) -> ToolResult:
        ci = await self._resolve_ci(_text(args, "ci"))
        direction = "upstream" if _text(args, "direction") == "upstream" else "downstream"
        resp = await call(self.clients.cmdb.GetImpact(cmdb_pb2.GetImpactRequest(
            ci_ids=[ci.id], direction=direction, page=common_pb2.PageRequest(limit=MAX_ITEMS))))
        data, cite = self._ci(ci)
        items = [{"id": x.item.id, "name": x.item.name, "depth": x.depth} for x in resp.items]
        cites = [cite] + [Citation(x.item.id, "ci", x.item.name, f"/api/cmdb/items/{x.item.id}") for x in resp.items]
        return ToolResult({"ci": data, "direction": direction, "total": resp.summary.total, "items": items}, cites,
                          f"{resp.summary.total} CI(s) {direction} of {ci.name}")

    async def list_changes(self, ctx: CallContext, args: dict) -> ToolResult:
        days = _int(args, "days", 7, 1, 31)
        ci = await self._resolve_ci(_text(args, "ci")) if _text(args, "ci") else None
        request = itsm_pb2.ListChangesRequest(page=common_pb2.PageRequest(limit=MAX_ITEMS, sort="requested_start",
                                                                          order="desc"),
                                              ci_ids=[ci.id] if ci else [], to=_ts(now()),
                                              **{"from": _ts(now() - timedelta(days=days))})
        resp = await call(self.clients.itsm.ListChanges(request))
        items = [{"reference": c.reference, "title": c.title, "status": c.status, "type": c.type,
                  "start": _iso(c.requested_start), "end": _iso(c.requested_end), "requested_by": c.requested_by}
                 for c in resp.items]
        cites = [Citation(c.reference, "change", c.title, f"/api/itsm/changes/{c.reference}") for c in resp.items]
        if ci:
            cites.insert(0, self._ci(ci)[1])
        return ToolResult({"ci": ci.name if ci else None, "days": days, "changes": items}, cites,
                          f"{len(items)} change(s)")

    async def query_logs(self, ctx: CallContext, args: dict) -> ToolResult:
        minutes = _int(args, "minutes", 60, 1, 1440)
        service, level, q = _text(args, "service"), _text(args, "level", 20).lower(), _text(args, "q")
        end = now()
        start = end - timedelta(minutes=minutes)
        resp = await call(self.clients.observability.QueryLogs(obs.QueryLogsRequest(
            service=service, level=level, q=q, limit=MAX_ITEMS, to=_ts(end), **{"from": _ts(start)})))
        lines, cites = [], []
        url = "/api/logs?" + urlencode({k: v for k, v in {"service": service, "level": level, "q": q,
                                                          "from": start.isoformat(), "to": end.isoformat()}.items()
                                        if v})
        for r in resp.items:
            digest = hashlib.sha1(f"{_iso(r.timestamp)}\x1f{r.service}\x1f{r.body}".encode()).hexdigest()[:12]
            line_id = f"ev:logline:{digest}"
            lines.append({"id": line_id, "at": _iso(r.timestamp), "service": r.service, "level": r.level,
                          "body": r.body[:500], "trace_id": r.trace_id})
            cites.append(Citation(line_id, "log", r.body[:80], url))
        return ToolResult({"service": service, "minutes": minutes, "lines": lines}, cites, f"{len(lines)} line(s)")

    async def query_metrics(self, ctx: CallContext, args: dict) -> ToolResult:
        minutes = _int(args, "minutes", 60, 5, 1440)
        name, service = _text(args, "metric_name"), _text(args, "service")
        end = now()
        start = end - timedelta(minutes=minutes)
        step = next(s for s in (60, 300, 900, 1800) if minutes * 60 / s <= 120)
        for aggregation in ("avg", "rate", "p90"):  # gauges, counters, histograms
            try:
                resp = await call(self.clients.observability.QueryMetrics(obs.QueryMetricsRequest(
                    metric_name=name, service=service, start=_ts(start), end=_ts(end), step_seconds=step,
                    aggregation=aggregation)))
                break
            except ValidationFailed as err:
                if not any(f.field == "aggregation" for f in err.fields) or aggregation == "p90":
                    raise
        series = []
        for s in resp.series[:MAX_ITEMS]:
            values = [p.value for p in s.points]
            if values:
                series.append({"labels": dict(s.labels), "min": min(values), "max": max(values), "last": values[-1],
                               "points": len(values)})
        metric_id = "ev:metric:" + hashlib.sha1(f"{service}\x1f{name}".encode()).hexdigest()[:12]
        url = "/api/metrics/query?" + urlencode({"metric_name": name, "service": service, "start": start.isoformat(),
                                                 "end": end.isoformat(), "step": f"{step}s"})
        return ToolResult({"metric": name, "service": service, "minutes": minutes, "series": series},
                          [Citation(metric_id, "metric", f"{name} of {service or 'all services'}", url)],
                          f"{len(series)} series")
