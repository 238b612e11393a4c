"""What the CMDB and ITSM say about a batch of alerts, asked over gRPC once per tenant per batch: the CIs their
labels name (FindItemsByName), the blast radius of those CIs (GetImpact), and the ITSM changes whose
implementation window covers the alert on one of its CIs (ListChanges with ci_ids, window and status).

A CMDB or ITSM that is down or slow never blocks or fails alert processing: the alerts are marked
`unavailable` for what could not be asked, and after a failure the service is not asked again for a few
seconds (so a storm does not wait out a timeout per batch).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import grpc

from services.incident.alerts.decisions import Incoming
from services.incident.impact import CmdbImpact
from services.incident.integrations.service import IntegrationSettings
from vigil.cmdb.v1 import cmdb_pb2, cmdb_pb2_grpc
from vigil.common.v1 import common_pb2
from vigil.itsm.v1 import itsm_pb2, itsm_pb2_grpc
from vigil.runtime import context, grpcio

log = logging.getLogger("vigil.incident.alerts.lookups")

# Changes that were authorised to happen: their implementation window is when they touch the CIs.
AUTHORISED_CHANGE_STATUSES = ("scheduled", "implement", "review", "closed")
MAX_NAMES = 1000
COOL_DOWN_SECONDS = 5.0
ACTOR = "vigil/incident-alerts"


@dataclass(frozen=True, slots=True)
class ChangeWindow:
    id: str
    ci_ids: frozenset[str]
    start: datetime
    end: datetime


def ci_candidates(settings: IntegrationSettings, labels: dict[str, str]) -> list[str]:
    """Values of the integration's CI labels, in order; `host:port` also tries `host` (Prometheus instances)."""
    names: list[str] = []
    for label in settings.ci_labels:
        value = labels.get(label, "").strip()
        if not value:
            continue
        names.append(value)
        host, sep, port = value.rpartition(":")
        if sep and host and port.isdigit():
            names.append(host)
    return list(dict.fromkeys(names))


def changes_covering(changes: list[ChangeWindow], ci_ids: tuple[str, ...], at: datetime) -> tuple[str, ...]:
    cis = set(ci_ids)
    return tuple(c.id for c in changes if c.ci_ids & cis and c.start <= at <= c.end)


class Lookups:
    def __init__(self, cmdb_addr: str, itsm_addr: str, timeout: float = 2.0, impact: CmdbImpact | None = None) -> None:
        self.cmdb = cmdb_pb2_grpc.CmdbServiceStub(grpcio.channel(cmdb_addr))
        self.itsm = itsm_pb2_grpc.ItsmServiceStub(grpcio.channel(itsm_addr))
        self.impact = impact or CmdbImpact(cmdb_addr, timeout)
        self.timeout = timeout
        self._down_until: dict[str, float] = {}

    def _available(self, name: str) -> bool:
        return self._down_until.get(name, 0.0) <= time.monotonic()

    def _failed(self, name: str, tenant_id: str, exc: grpc.aio.AioRpcError) -> None:
        log.warning("%s unavailable for alerts of tenant %s (%s); marking them unknown", name, tenant_id,
                    exc.code().name)
        self._down_until[name] = time.monotonic() + COOL_DOWN_SECONDS

    async def enrich(self, batch: list[Incoming], settings: dict[tuple[str, str], IntegrationSettings]
                     ) -> list[Incoming]:
        by_tenant: dict[str, list[int]] = {}
        for i, alert in enumerate(batch):
            by_tenant.setdefault(alert.tenant_id, []).append(i)
        out = list(batch)
        for tenant_id, positions in by_tenant.items():
            token = context.bind(context.CallContext(tenant_id=tenant_id, actor=ACTOR, role="viewer"))
            try:
                enriched = await self._enrich_tenant(tenant_id, [batch[i] for i in positions], settings)
            finally:
                context.reset(token)
            for i, alert in zip(positions, enriched, strict=True):
                out[i] = alert
        return out

    async def _enrich_tenant(self, tenant_id: str, alerts: list[Incoming],
                             settings: dict[tuple[str, str], IntegrationSettings]) -> list[Incoming]:
        candidates = [ci_candidates(settings.get((a.tenant_id, a.integration_id)) or IntegrationSettings(), a.labels)
                      for a in alerts]
        names = list(dict.fromkeys(n for c in candidates for n in c))[:MAX_NAMES]
        if not names:
            return alerts
        if not self._available("cmdb"):
            return [replace(a, ci_lookup="unavailable") for a in alerts]
        try:
            found = await self.cmdb.FindItemsByName(cmdb_pb2.FindItemsByNameRequest(names=names),
                                                    timeout=self.timeout)
        except grpc.aio.AioRpcError as exc:
            self._failed("cmdb", tenant_id, exc)
            return [replace(a, ci_lookup="unavailable") for a in alerts]
        ids_by_name: dict[str, list[str]] = {}
        for item in found.items:
            for key in (item.name, item.id):
                ids_by_name.setdefault(key, []).append(item.id)
        alerts = [replace(a, ci_ids=tuple(dict.fromkeys(i for n in c for i in ids_by_name.get(n, ()))))
                  for a, c in zip(alerts, candidates, strict=True)]
        firing = [a for a in alerts if a.ci_ids and a.effective_status() == "firing"]
        if not firing:
            return alerts
        ci_sets = list(dict.fromkeys(a.ci_ids for a in firing))
        impacts = dict(zip(ci_sets, await asyncio.gather(
            *(self.impact(context.current(), s) for s in ci_sets)), strict=True))
        changes = await self._changes(tenant_id, firing)
        out = []
        for a in alerts:
            if a.ci_ids and a.effective_status() == "firing":
                a = replace(a, impacted_ci_ids=impacts.get(a.ci_ids, ()))
                a = replace(a, change_lookup="unavailable") if changes is None else replace(
                    a, change_lookup="ok", change_ids=changes_covering(changes, a.ci_ids, a.began))
            out.append(a)
        return out

    async def _changes(self, tenant_id: str, alerts: list[Incoming]) -> list[ChangeWindow] | None:
        if not self._available("itsm"):
            return None
        request = itsm_pb2.ListChangesRequest(
            status=list(AUTHORISED_CHANGE_STATUSES), ci_ids=sorted({c for a in alerts for c in a.ci_ids})[:MAX_NAMES],
            page=common_pb2.PageRequest(limit=200, sort="created_at", order="desc"))
        getattr(request, "from").FromDatetime(min(a.began for a in alerts))
        request.to.FromDatetime(max(a.began for a in alerts))
        try:
            resp = await self.itsm.ListChanges(request, timeout=self.timeout)
        except grpc.aio.AioRpcError as exc:
            self._failed("itsm", tenant_id, exc)
            return None
        return [ChangeWindow(c.id, frozenset(c.ci_ids), c.requested_start.ToDatetime(tzinfo=UTC),
                             c.requested_end.ToDatetime(tzinfo=UTC)) for c in resp.items]
