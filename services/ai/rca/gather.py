"""Evidence gathering over gRPC, with the caller's tenant and role: the incident, the CMDB neighbourhood of its
CIs (upstream: the probable causes, and each candidate's own dependencies; downstream: how far the trouble
reaches), the ITSM changes on the candidates before and during the window, and the observability service's
comparison of the window with its baseline for every candidate's service.

Every source has a deadline; a source that fails becomes a gap in the result (`gaps`) and the ranking uses what
was known. Only the incident itself is required."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from dataclasses import replace
from datetime import datetime, timedelta
from statistics import median
from urllib.parse import urlencode

from google.protobuf.timestamp_pb2 import Timestamp

from services.ai.clients import Clients
from services.ai.rca import signals as sg
from services.ai.rca.model import CI, ChangeRecord, Gathered, Incident, Neighbourhood, Signal, Window
from vigil.cmdb.v1 import cmdb_pb2
from vigil.common.v1 import common_pb2
from vigil.incident.v1 import incident_pb2
from vigil.itsm.v1 import itsm_pb2
from vigil.observability.v1 import observability_pb2 as obs
from vigil.runtime.clock import as_utc, now
from vigil.runtime.errors import FieldError, NotFound, ValidationFailed, VigilError
from vigil.runtime.grpcio import call

log = logging.getLogger("vigil.ai.rca")

NS = 1_000_000_000
MAX_DEPTH = 6
MAX_CANDIDATES = 200
SOURCE_TIMEOUT = 10.0
AFTER = timedelta(minutes=15)
CHANGE_LOOKBACK = timedelta(hours=24)
DEPENDENCY_CALLS = 16  # concurrent one-hop walks


def ts(value: datetime) -> Timestamp:
    out = Timestamp()
    out.FromDatetime(value)
    return out


def dt(value: Timestamp) -> datetime:
    return as_utc(value.ToDatetime())


def iso(value: datetime | int) -> str:
    if isinstance(value, int):
        value = datetime.fromtimestamp(value / NS, tz=as_utc(now()).tzinfo)
    return as_utc(value).isoformat().replace("+00:00", "Z")


def service_of(item: cmdb_pb2.ConfigurationItem) -> str:
    """The service name a CI's telemetry carries: attribute service_name or service.name, else its name."""
    attrs = dict(item.attributes.fields)
    for key in ("service_name", "service.name", "service"):
        value = attrs.get(key)
        if value is not None and value.WhichOneof("kind") == "string_value" and value.string_value:
            return value.string_value
    return item.name


def default_window(at: datetime, lookback_minutes: int, current: datetime) -> Window:
    return Window(at - timedelta(minutes=lookback_minutes), min(at + AFTER, current))


def default_baseline(window: Window, hours: int) -> Window:
    return Window(window.start - timedelta(hours=hours), window.start)


def resolve_windows(at: datetime, window: Window | None, baseline: Window | None, lookback_minutes: int,
                    baseline_hours: int, current: datetime) -> tuple[Window, Window]:
    """The window and baseline of an analysis, the defaults filled in. The request's own ones were checked
    already (rca/service.py); a default one can still be empty (an `at` more than the lookback in the future:
    the window would end at now, before it starts) or meet a baseline that was sent: refused, never analysed."""
    window_given = window is not None
    window = window or default_window(at, lookback_minutes, current)
    if window.end <= window.start:
        raise ValidationFailed("invalid analysis request", [FieldError(
            "at", "is too far in the future: the default window ends at the current time, before it would start; "
            "send `window`")])
    if baseline is not None and not window_given and baseline.start < window.end and window.start < baseline.end:
        raise ValidationFailed("invalid analysis request", [FieldError(
            "baseline.end", "the baseline must not overlap the window (by default "
            f"{lookback_minutes} minutes before `at` to 15 after)")])
    return window, baseline or default_baseline(window, baseline_hours)


class Gatherer:
    def __init__(self, clients: Clients, lookback_minutes: int = 60, baseline_hours: int = 24) -> None:
        self.clients = clients
        self.lookback_minutes = lookback_minutes
        self.baseline_hours = baseline_hours

    async def incident(self, key: str) -> Incident:
        resp = await call(self.clients.incident.GetIncident(incident_pb2.GetIncidentRequest(id=key)))
        i = resp.incident
        return Incident(i.id, i.reference, i.title, i.severity, tuple(i.ci_ids), dt(i.created_at))

    async def gather(self, key: str, at: datetime | None = None, window: Window | None = None,
                     baseline: Window | None = None) -> Gathered:
        incident = await self.incident(key)
        at = at or incident.created_at
        window, baseline = resolve_windows(at, window, baseline, self.lookback_minutes, self.baseline_hours, now())
        gaps: list[str] = []
        started = time.perf_counter()
        walked, in_cmdb = await self._walk(incident.ci_ids, gaps)
        mapped = time.perf_counter()
        # The candidates' own dependencies, their telemetry and their changes, all at once.
        (dependencies, downstream), profiles, changes = await asyncio.gather(
            self._edges(walked, gaps) if in_cmdb else _no_edges(walked),
            self._comparison(walked, window, baseline, gaps),
            self._changes(walked, window, gaps))
        hood = replace(walked, dependencies=dependencies, downstream_count=downstream)
        compared = time.perf_counter()
        signals, resolution = to_signals(hood, profiles, window)
        log.debug("evidence for %s: cmdb walk %.0f ms, edges, telemetry and changes %.0f ms, scoring %.0f ms "
                  "(%d CIs, %d series)", incident.reference, (mapped - started) * 1000, (compared - mapped) * 1000,
                  (time.perf_counter() - compared) * 1000, len(hood.cis), len(signals))
        return Gathered(incident, at, window, baseline, hood, signals, changes, resolution, gaps)

    # -- CMDB

    async def _walk(self, ci_ids: tuple[str, ...], gaps: list[str]) -> tuple[Neighbourhood, bool]:
        """The incident's CIs and everything upstream of them, with their names, classes and service names
        (dependencies among them come from _edges); False when the CMDB could not say."""
        stub = self.clients.cmdb
        if not ci_ids:
            return Neighbourhood((), {}, {}, {}, {}), False
        try:
            up = await call(stub.GetImpact(cmdb_pb2.GetImpactRequest(
                ci_ids=list(ci_ids), direction="upstream", depth=MAX_DEPTH,
                page=common_pb2.PageRequest(limit=MAX_CANDIDATES)), timeout=SOURCE_TIMEOUT))
            known = [c for c in ci_ids if c not in set(up.unknown_ci_ids)]
            depth = {c: 0 for c in known}
            path = {c: (c,) for c in known}
            for hit in up.items:
                depth.setdefault(hit.item.id, hit.depth)
                path.setdefault(hit.item.id, tuple(hit.path))
            items = await call(stub.BatchGetItems(cmdb_pb2.BatchGetItemsRequest(ids=list(depth)),
                                                  timeout=SOURCE_TIMEOUT))
        except NotFound:
            gaps.append("cmdb: none of the incident's CIs is known; looked up by id in telemetry")
            return _unknown(ci_ids), False
        except VigilError as err:
            gaps.append(f"cmdb: {err.code.lower()}: {err.message}")
            return _unknown(ci_ids), False
        if up.unknown_ci_ids:
            gaps.append(f"cmdb: unknown CIs {', '.join(up.unknown_ci_ids)}")
        cis = {i.id: CI(i.id, i.name, getattr(i, "class"), i.criticality, service_of(i)) for i in items.items}
        return Neighbourhood(tuple(known), cis, {c: d for c, d in depth.items() if c in cis},
                             {c: p for c, p in path.items() if c in cis}, {c: frozenset() for c in cis}), True

    async def _edges(self, hood: Neighbourhood, gaps: list[str]) -> tuple[dict[str, frozenset[str]], int]:
        """Each candidate's direct dependencies (one-hop walks), and how many CIs are downstream."""
        stub = self.clients.cmdb
        semaphore = asyncio.Semaphore(DEPENDENCY_CALLS)

        async def one_hop(ci: str) -> tuple[str, frozenset[str]]:
            async with semaphore:
                resp = await call(stub.GetImpact(cmdb_pb2.GetImpactRequest(
                    ci_ids=[ci], direction="upstream", depth=1, ids_only=True), timeout=SOURCE_TIMEOUT))
            return ci, frozenset(h.item.id for h in resp.items if h.item.id in hood.cis)

        try:
            hops, down = await asyncio.gather(
                asyncio.gather(*(one_hop(c) for c in hood.cis)),
                call(stub.GetImpact(cmdb_pb2.GetImpactRequest(
                    ci_ids=list(hood.incident_ci_ids), direction="downstream", ids_only=True,
                    page=common_pb2.PageRequest(limit=1)), timeout=SOURCE_TIMEOUT)))
        except VigilError as err:
            gaps.append(f"cmdb dependencies: {err.code.lower()}: {err.message}")
            return dict(hood.dependencies), 0
        return dict(hops), down.summary.total

    # -- ITSM

    async def _changes(self, hood: Neighbourhood, window: Window, gaps: list[str]) -> list[ChangeRecord]:
        ids = list(hood.cis)
        found: dict[str, ChangeRecord] = {}
        try:
            for i in range(0, len(ids), 100):
                resp = await call(self.clients.itsm.ListChanges(itsm_pb2.ListChangesRequest(
                    ci_ids=ids[i:i + 100], page=common_pb2.PageRequest(limit=200, sort="requested_start"),
                    **{"from": ts(window.start - CHANGE_LOOKBACK)}, to=ts(window.end)), timeout=SOURCE_TIMEOUT))
                for c in resp.items:
                    found[c.id] = ChangeRecord(
                        evidence_id=f"ev:change:{c.reference}", reference=c.reference, title=c.title,
                        status=c.status, ci_ids=tuple(c.ci_ids), start_ns=_ns(c.requested_start),
                        end_ns=_ns(c.requested_end), change_id=c.id,
                        source_url=f"/api/itsm/changes/{c.reference}")
        except VigilError as err:
            gaps.append(f"itsm: {err.code.lower()}: {err.message}")
        return sorted(found.values(), key=lambda c: c.start_ns)

    # -- observability

    async def _comparison(self, hood: Neighbourhood, window: Window, baseline: Window,
                          gaps: list[str]) -> obs.CompareWindowResponse:
        services = sorted({ci.service for ci in hood.cis.values() if ci.service})[:500]
        if not services:
            return obs.CompareWindowResponse()
        try:
            return await call(self.clients.observability.CompareWindow(obs.CompareWindowRequest(
                services=services, to=ts(window.end), baseline_from=ts(baseline.start),
                baseline_to=ts(baseline.end), **{"from": ts(window.start)}), timeout=SOURCE_TIMEOUT))
        except VigilError as err:
            gaps.append(f"observability: {err.code.lower()}: {err.message}")
            return obs.CompareWindowResponse()


async def _no_edges(hood: Neighbourhood) -> tuple[dict[str, frozenset[str]], int]:
    return dict(hood.dependencies), 0


def _unknown(ci_ids: tuple[str, ...]) -> Neighbourhood:
    """The CMDB cannot help: the incident's CI ids stand alone, looked up in telemetry as service names."""
    cis = {c: CI(c, c, "", "", c) for c in ci_ids}
    return Neighbourhood(tuple(ci_ids), cis, {c: 0 for c in ci_ids}, {c: (c,) for c in ci_ids},
                         {c: frozenset() for c in ci_ids})


# -- from the comparison to signals ---------------------------------------------------------------------------


def _ns(value: Timestamp) -> int:
    return value.seconds * NS + value.nanos


def _points(values) -> list[tuple[int, float]]:
    return [(_ns(p.timestamp), p.value) for p in values]


def _baseline(b: obs.BaselineStats) -> sg.Baseline:
    return sg.Baseline(b.count, b.median, b.mad, b.q01, b.q99)


def _url(path: str, **params) -> str:
    pairs = []
    for key, value in params.items():
        for v in value if isinstance(value, list) else [value]:
            if v not in ("", None):
                pairs.append((key, v))
    return f"{path}?{urlencode(pairs)}"


def _log_search_text(template: str) -> str:
    """The longest literal run of a log template: what GET /api/logs?q= can find it by."""
    runs = [r.strip(" :,.-=") for r in re.split(r"<[a-z]+>|'<str>'|\"<str>\"", template)]
    return max(runs, key=len, default="")[:80]


def to_signals(hood: Neighbourhood, found: obs.CompareWindowResponse, window: Window) -> tuple[list[Signal], int]:
    """Score every profile against its baseline; the data's resolution is the typical spacing of its points."""
    by_service: dict[str, list[str]] = {}
    for ci in hood.cis.values():
        by_service.setdefault(ci.service, []).append(ci.id)
    start, end = iso(window.start), iso(window.end)
    step = max(found.step_seconds, 1)
    window_start_ns = int(window.start.timestamp()) * NS
    out: list[Signal] = []
    spacings: list[int] = []
    for s in found.series:
        points = _points(s.points)
        if len(points) > 1:
            spacings.append(int(median(b[0] - a[0] for a, b in zip(points, points[1:], strict=False))))
        url = _url("/api/metrics/query", metric_name=s.metric_name, service=s.service, start=start, end=end,
                   step=f"{step}s", aggregation="rate" if s.metric_type == "sum" else "avg",
                   label=[f"{k}={v}" for k, v in sorted(s.labels.items())])
        for ci in by_service.get(s.service, []):
            sig = sg.metric_signal(ci_id=ci, service=s.service, metric_name=s.metric_name, labels=dict(s.labels),
                                   metric_type=s.metric_type, baseline=_baseline(s.baseline), points=points,
                                   source_url=url)
            if sig is not None:
                out.append(sig)
    for o in found.operations:
        steps = [(_ns(x.timestamp), x.spans, x.errors, x.p95_ms) for x in o.steps]
        for ci in by_service.get(o.service, []):
            out.extend(sg.operation_signals(
                ci_id=ci, service=o.service, operation=o.operation, baseline_spans=o.baseline_spans,
                baseline_errors=o.baseline_errors, baseline_p95=_baseline(o.baseline_p95_ms), steps=steps,
                sample_message=o.sample_status_message,
                errors_url=_url("/api/traces", service=o.service, operation=o.operation, status="error",
                                **{"from": start}, to=end),
                latency_url=_url("/api/traces", service=o.service, operation=o.operation, **{"from": start},
                                 to=end), window_start_ns=window_start_ns, step_ns=step * NS))
    for t in found.log_templates:
        for ci in by_service.get(t.service, []):
            out.append(sg.log_signal(
                ci_id=ci, service=t.service, template=t.template, level=t.level, baseline_count=t.baseline_count,
                baseline_steps=max(found.baseline_steps, 1), points=_points(t.points), sample=t.sample,
                source_url=_url("/api/logs", service=t.service, level=t.level, q=_log_search_text(t.template),
                                **{"from": start}, to=end), window_start_ns=window_start_ns, step_ns=step * NS))
    resolution = max(step * NS, int(median(spacings)) if spacings else 0)
    return out, resolution
