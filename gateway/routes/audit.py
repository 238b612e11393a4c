"""The audit log: a tenant's admins read their tenant's entries (operator actions on the tenant included); the
operator reads every tenant's and the control plane's own (gateway/audit.py)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway.audit import AuditFilter
from gateway.routing import Routes
from gateway.schemas.audit import AuditEntry, AuditQuery, OperatorAuditQuery
from gateway.schemas.common import CursorPage
from gateway.state import gw, principal

routes = Routes("tenant", tags=("audit",), scopes="audit")
control_routes = Routes("control", tags=("audit",), scopes="tenants")


def _filter(query: AuditQuery, tenant_id: str | None) -> AuditFilter:
    return AuditFilter(tenant_id=tenant_id, actor=query.actor, method=query.method, route=query.route,
                       resource_id=query.resource_id, status=query.status, since=query.from_, until=query.to)


async def _page(request: web.Request, query: AuditQuery, tenant_id: str | None) -> dict[str, Any]:
    items, cursor = await gw(request).audit.search(_filter(query, tenant_id), query.limit, query.cursor)
    return {"items": items, "limit": query.limit, "next_cursor": cursor}


@routes.get("/api/audit", summary="The tenant's audit log, newest first", role="admin", query=AuditQuery,
            response=CursorPage[AuditEntry])
async def list_audit(request: web.Request, query: AuditQuery) -> dict[str, Any]:
    return await _page(request, query, principal(request).tenant_id)


@control_routes.get("/api/audit", summary="The audit log of every tenant and of the control plane, newest first",
                    query=OperatorAuditQuery, response=CursorPage[AuditEntry])
async def list_all_audit(request: web.Request, query: OperatorAuditQuery) -> dict[str, Any]:
    return await _page(request, query, query.tenant_id or None)
