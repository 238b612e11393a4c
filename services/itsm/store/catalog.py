"""Catalog items; the name is unique per tenant (a constraint, so concurrent creates cannot both win)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from services.itsm.service import CatalogItem, Page
from services.itsm.store.common import TS, metadata
from vigil.runtime.clock import as_utc
from vigil.runtime.db import Database, ReadByKey
from vigil.runtime.errors import Conflict, FieldError
from vigil.runtime.text import contains_any, folded
from vigil.runtime.versioned import VersionedTable

catalog_items = sa.Table(
    "catalog_items",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("tenant_id", sa.String(64), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("category", sa.String(100), nullable=False),
    sa.Column("requires_approval", sa.Boolean, nullable=False),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("fulfillment_group", sa.String(200), nullable=False),
    sa.Column("version", sa.BigInteger, nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
    # Name and description folded for search (vigil.runtime.text).
    sa.Column("name_folded", sa.Text, nullable=False),
    sa.Column("description_folded", sa.Text, nullable=False),
    sa.UniqueConstraint("tenant_id", "name", name="uq_catalog_items_tenant_name"),
)


def row_to_item(row: Any) -> CatalogItem:
    return CatalogItem(id=row.id, tenant_id=row.tenant_id, name=row.name, description=row.description,
                       category=row.category, requires_approval=bool(row.requires_approval),
                       active=bool(row.active), fulfillment_group=row.fulfillment_group, version=row.version,
                       created_at=as_utc(row.created_at), updated_at=as_utc(row.updated_at))


def _item_values(i: CatalogItem) -> dict[str, Any]:
    return {"name": i.name, "description": i.description, "category": i.category,
            "requires_approval": i.requires_approval, "active": i.active, "fulfillment_group": i.fulfillment_group,
            "version": i.version, "updated_at": i.updated_at, **folded(name=i.name, description=i.description)}


versioned_items = VersionedTable(catalog_items, "catalog item", row_to_item, _item_values)


_BY_KEY = ReadByKey(catalog_items)


class CatalogStore:
    db: Database

    async def insert_catalog_item(self, item: CatalogItem) -> CatalogItem:
        try:
            async with self.db.write() as conn:
                await conn.execute(catalog_items.insert().values(
                    id=item.id, tenant_id=item.tenant_id, created_at=item.created_at, **_item_values(item)))
        except IntegrityError:
            stored = await self.get_catalog_item(item.tenant_id, item.id)
            if stored is not None:  # a retried create whose first attempt committed (its id from the same key)
                return stored
            raise Conflict(f"a catalog item named {item.name!r} already exists",
                           [FieldError("name", "already used by another catalog item")]) from None
        return item

    async def get_catalog_item(self, tenant_id: str, item_id: str) -> CatalogItem | None:
        row = await _BY_KEY.one(self.db, tenant_id, item_id)
        return row_to_item(row) if row else None

    async def list_catalog_items(self, tenant_id: str, category: str, q: str, include_retired: bool,
                                 page: Page) -> tuple[list[CatalogItem], int]:
        where = [catalog_items.c.tenant_id == tenant_id]
        if category:
            where.append(catalog_items.c.category == category)
        if not include_retired:
            where.append(catalog_items.c.active.is_(True))
        if q:
            where.append(contains_any((catalog_items.c.name_folded, catalog_items.c.description_folded), q))
        async with self.db.read() as conn:
            total = (await conn.execute(
                sa.select(sa.func.count()).select_from(catalog_items).where(*where))).scalar_one()
            rows = (await conn.execute(sa.select(catalog_items).where(*where).order_by(
                catalog_items.c.name, catalog_items.c.id).limit(page.limit).offset(page.offset))).all()
        return [row_to_item(r) for r in rows], int(total)

    async def mutate_catalog_item(self, tenant_id: str, item_id: str,
                                  decide: Callable[[CatalogItem], CatalogItem]) -> CatalogItem:
        where = sa.and_(catalog_items.c.tenant_id == tenant_id, catalog_items.c.id == item_id)
        try:
            return (await versioned_items.mutate(self.db, where, item_id, decide)).after
        except IntegrityError:
            raise Conflict("another catalog item has that name",
                           [FieldError("name", "already used by another catalog item")]) from None
