"""The service catalog: what can be requested, retired rather than deleted so old requests keep pointing at it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol

from services.itsm.service.common import Page, check_key, check_page, check_text, require_admin
from vigil.runtime.clock import now
from vigil.runtime.context import CallContext
from vigil.runtime.errors import FieldError, NotFound, ValidationFailed


@dataclass(frozen=True, slots=True)
class CatalogItem:
    id: str
    tenant_id: str
    name: str
    description: str
    category: str
    requires_approval: bool
    active: bool
    fulfillment_group: str
    version: int
    created_at: datetime
    updated_at: datetime


class CatalogStore(Protocol):
    async def insert_catalog_item(self, item: CatalogItem) -> CatalogItem: ...
    async def get_catalog_item(self, tenant_id: str, item_id: str) -> CatalogItem | None: ...
    async def list_catalog_items(self, tenant_id: str, category: str, q: str, include_retired: bool,
                                 page: Page) -> tuple[list[CatalogItem], int]: ...
    async def mutate_catalog_item(self, tenant_id: str, item_id: str,
                                  decide: Callable[[CatalogItem], CatalogItem]) -> CatalogItem: ...


class CatalogService:
    store: CatalogStore

    async def create_catalog_item(self, ctx: CallContext, name: str, description: str, category: str,
                                  requires_approval: bool, fulfillment_group: str) -> CatalogItem:
        require_admin(ctx, "manage the service catalog")
        self._validate_catalog(name=name, description=description, category=category,
                               fulfillment_group=fulfillment_group)
        at = now()
        item = CatalogItem(id=ctx.resource_id("catalog-item"), tenant_id=ctx.tenant_id, name=name.strip(),
                           description=description, category=category, requires_approval=requires_approval, active=True,
                           fulfillment_group=fulfillment_group, version=1, created_at=at, updated_at=at)
        return await self.store.insert_catalog_item(item)

    async def get_catalog_item(self, ctx: CallContext, item_id: str) -> CatalogItem:
        check_key(item_id, "catalog item")
        item = await self.store.get_catalog_item(ctx.tenant_id, item_id)
        if item is None:
            raise NotFound(f"catalog item {item_id} not found")
        return item

    async def list_catalog_items(self, ctx: CallContext, category: str, q: str, include_retired: bool,
                                 page: Page) -> tuple[list[CatalogItem], int]:
        errors: list[FieldError] = []
        check_page(errors, page.limit, page.offset)
        check_text(errors, "q", q)
        if errors:
            raise ValidationFailed("invalid query", errors)
        return await self.store.list_catalog_items(ctx.tenant_id, category, q, include_retired, page)

    async def update_catalog_item(self, ctx: CallContext, item_id: str, changes: dict[str, Any]) -> CatalogItem:
        require_admin(ctx, "manage the service catalog")
        check_key(item_id, "catalog item")
        allowed = {"name", "description", "category", "requires_approval", "fulfillment_group", "active"}
        unknown = sorted(set(changes) - allowed)
        if unknown:
            raise ValidationFailed("unknown fields", [FieldError(f, "cannot be updated") for f in unknown])
        self._validate_catalog(**{k: v for k, v in changes.items() if k not in ("requires_approval", "active")})

        def decide(item: CatalogItem) -> CatalogItem:
            diff = {k: v for k, v in changes.items() if getattr(item, k) != v}
            if not diff:
                return item
            return replace(item, **diff, version=item.version + 1, updated_at=now())

        return await self.store.mutate_catalog_item(ctx.tenant_id, item_id, decide)

    @staticmethod
    def _validate_catalog(**fields: str) -> None:
        errors: list[FieldError] = []
        for name, value in fields.items():
            check_text(errors, name, value, required=(name == "name"),
                        limit_key="description" if name == "description" else None)
        if errors:
            raise ValidationFailed("invalid catalog item", errors)
