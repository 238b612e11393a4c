"""Service requests, with REQ-00000001 references from the per-tenant counter."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.itsm.events import ItsmEvents
from services.itsm.service import REQUEST_REF, REQUEST_STATUSES, Event, Outcome, RequestQuery, ServiceRequest
from services.itsm.store.common import (
    TS,
    approvals,
    approvals_json,
    metadata,
    next_number,
    stored,
    times,
    times_json,
)
from vigil.runtime.clock import as_utc
from vigil.runtime.db import Database, ReadByKey
from vigil.runtime.search import (
    Catalogue,
    Keyset,
    Keyword,
    Listing,
    Number,
    Reference,
    SortKey,
    Time,
    list_page,
)
from vigil.runtime.versioned import VersionedTable

service_requests = sa.Table(
    "service_requests",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("tenant_id", sa.String(64), nullable=False),
    sa.Column("number", sa.BigInteger, nullable=False),
    sa.Column("catalog_item_id", sa.String(36), nullable=False),
    sa.Column("catalog_item_name", sa.String(200), nullable=False),
    sa.Column("requested_by", sa.String(320), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("details", sa.JSON, nullable=False),
    sa.Column("approvals", sa.JSON, nullable=False),
    sa.Column("created_by", sa.String(320), nullable=False),
    sa.Column("fulfilled_by", sa.String(320), nullable=False),
    sa.Column("note", sa.Text, nullable=False),
    sa.Column("version", sa.BigInteger, nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
    sa.Column("status_times", sa.JSON, nullable=False),
    sa.UniqueConstraint("tenant_id", "number", name="uq_service_requests_tenant_number"),
    sa.Index("ix_service_requests_tenant_status", "tenant_id", "status"),
)


def row_to_request(row: Any) -> ServiceRequest:
    return ServiceRequest(
        id=row.id, tenant_id=row.tenant_id, number=row.number, catalog_item_id=row.catalog_item_id,
        catalog_item_name=row.catalog_item_name, requested_by=row.requested_by, status=row.status,
        details=dict(row.details or {}), approvals=approvals(row.approvals), created_by=row.created_by,
        fulfilled_by=row.fulfilled_by, note=row.note, version=row.version, created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at), status_times=times(row.status_times),
    )


def _request_values(r: ServiceRequest) -> dict[str, Any]:
    return {"status": r.status, "details": r.details, "approvals": approvals_json(r.approvals),
            "fulfilled_by": r.fulfilled_by, "note": r.note, "version": r.version, "updated_at": r.updated_at,
            "status_times": times_json(r.status_times), "requested_by": r.requested_by}


# The list's total order: the sort key, then the reference number (unique per tenant).
KEYSET = Keyset({
    "reference": SortKey(service_requests.c.number, "int"),
    "created_at": SortKey(service_requests.c.created_at, "time"),
    "updated_at": SortKey(service_requests.c.updated_at, "time"),
    "status": SortKey(service_requests.c.status, "str"),
}, service_requests.c.number, "int")
# What structured filters (POST /api/itsm/requests/search) can name.
FILTERS = Catalogue(
    Keyword("id", service_requests.c.id),
    Reference("reference", service_requests.c.number, REQUEST_REF),
    Keyword("status", service_requests.c.status, choices=REQUEST_STATUSES),
    Keyword("catalog_item_id", service_requests.c.catalog_item_id),
    Keyword("catalog_item_name", service_requests.c.catalog_item_name),
    Keyword("requested_by", service_requests.c.requested_by),
    Keyword("created_by", service_requests.c.created_by),
    Keyword("fulfilled_by", service_requests.c.fulfilled_by, empty=True),
    Time("created_at", service_requests.c.created_at),
    Time("updated_at", service_requests.c.updated_at),
    Number("version", service_requests.c.version),
)
versioned_requests = VersionedTable(service_requests, "service request", row_to_request, _request_values,
                                    label=lambda request: request.reference)


_BY_KEY = ReadByKey(service_requests, REQUEST_REF)


class RequestsStore:
    db: Database
    events: ItsmEvents

    async def insert_request(self, request: ServiceRequest, events: tuple[Event, ...]) -> ServiceRequest:
        """Insert a service request; one whose id is stored already (a retried submit) is returned as it is."""
        async with self.db.write() as conn:
            retried = await stored(conn, service_requests, request.id)
            if not retried:
                request = replace(request, number=await next_number(conn, request.tenant_id, "REQ"))
                await conn.execute(service_requests.insert().values(
                    id=request.id, tenant_id=request.tenant_id, number=request.number,
                    catalog_item_id=request.catalog_item_id, catalog_item_name=request.catalog_item_name,
                    created_by=request.created_by, created_at=request.created_at, **_request_values(request)))
                for event in events:
                    await self.events.stage_request(conn, event, request)
        if retried:
            return await self.get_request(request.tenant_id, request.id)
        self.events.committed()
        return request

    async def get_request(self, tenant_id: str, key: str) -> ServiceRequest | None:
        row = await _BY_KEY.one(self.db, tenant_id, key)
        return row_to_request(row) if row else None

    async def list_requests(self, tenant_id: str, query: RequestQuery) -> Listing[ServiceRequest]:
        t = service_requests
        where = [t.c.tenant_id == tenant_id, *FILTERS.where(query.filters)]
        if query.status:
            where.append(t.c.status.in_(query.status))
        if query.catalog_item_id:
            where.append(t.c.catalog_item_id == query.catalog_item_id)
        if query.requested_by:
            where.append(t.c.requested_by == query.requested_by)
        return await list_page(self.db, t, where, KEYSET, row_to_request, sort=query.sort, order=query.order,
                               limit=query.limit, offset=query.offset, cursor=query.cursor,
                               query=replace(query, limit=0, offset=0, cursor=""))

    async def mutate_request(self, tenant_id: str, key: str, decide: Callable[[ServiceRequest], Outcome],
                             expected_version: int = 0) -> ServiceRequest:
        async def write(conn: AsyncConnection, _current: ServiceRequest, outcome: Outcome) -> None:
            for event in outcome.events:
                await self.events.stage_request(conn, event, outcome.entity)

        done = await versioned_requests.mutate(
            self.db, _BY_KEY.where(tenant_id, key), key, decide,
            entity=lambda outcome: outcome.entity, expected_version=expected_version, write=write)
        if done.changed:
            self.events.committed()
        return done.after
