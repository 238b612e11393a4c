"""Blackout windows: periods in which a tenant (or some of its CIs) should not be changed. Changes
overlapping one are flagged, not refused."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from services.itsm.service.common import (
    Page,
    check_ci_ids,
    check_key,
    check_page,
    check_text,
    check_window,
    refuse_unknown_cis,
    require_admin,
)
from vigil.runtime.clock import as_utc as utc
from vigil.runtime.clock import now
from vigil.runtime.context import CallContext
from vigil.runtime.errors import FieldError, NotFound, Unavailable, ValidationFailed

if TYPE_CHECKING:
    from services.itsm.service.changes import ImpactLookup


@dataclass(frozen=True, slots=True)
class Blackout:
    id: str
    tenant_id: str
    name: str
    reason: str
    start: datetime
    end: datetime
    ci_ids: tuple[str, ...]
    created_by: str
    version: int
    created_at: datetime
    updated_at: datetime


class BlackoutStore(Protocol):
    async def insert_blackout(self, blackout: Blackout) -> Blackout: ...
    async def get_blackout(self, tenant_id: str, blackout_id: str) -> Blackout | None: ...
    async def list_blackouts(self, tenant_id: str, start: datetime | None, end: datetime | None,
                             page: Page) -> tuple[list[Blackout], int]: ...
    async def mutate_blackout(self, tenant_id: str, blackout_id: str,
                              decide: Callable[[Blackout], Blackout]) -> Blackout: ...
    async def delete_blackout(self, tenant_id: str, blackout_id: str) -> bool: ...


class BlackoutsService:
    store: BlackoutStore
    impact: ImpactLookup

    async def _refuse_unknown_cis(self, ci_ids: Sequence[str]) -> None:
        """CI ids the CMDB does not know are refused, as a change's are: a blackout on a typo would cover
        nothing, silently. Checked only while the CMDB answers (a blackout must be settable during an outage)."""
        if not ci_ids:
            return
        try:
            found = await self.impact.related(ci_ids)
        except Unavailable:
            return
        refuse_unknown_cis(ci_ids, found.unknown)

    @staticmethod
    def _validate_blackout(name: str | None, reason: str | None, start: datetime | None, end: datetime | None,
                           ci_ids: Sequence[str] | None, partial: bool) -> None:
        errors: list[FieldError] = []
        if name is not None or not partial:
            check_text(errors, "name", name or "", required=True)
        if reason is not None:
            check_text(errors, "reason", reason)
        if not partial:
            check_window(errors, start, end, "start", "end")
        elif start is not None and end is not None and end <= start:
            errors.append(FieldError("end", "must be after start"))
        if ci_ids is not None:
            check_ci_ids(errors, ci_ids)
        if errors:
            raise ValidationFailed("invalid blackout", errors)

    async def create_blackout(self, ctx: CallContext, name: str, reason: str, start: datetime | None,
                              end: datetime | None, ci_ids: Sequence[str]) -> Blackout:
        require_admin(ctx, "manage blackout windows")
        self._validate_blackout(name, reason, start, end, ci_ids, partial=False)
        await self._refuse_unknown_cis(ci_ids)
        assert start is not None and end is not None
        at = now()
        blackout = Blackout(id=ctx.resource_id("blackout"), tenant_id=ctx.tenant_id, name=name.strip(), reason=reason,
                            start=utc(start), end=utc(end), ci_ids=tuple(dict.fromkeys(ci_ids)),
                            created_by=ctx.actor, version=1, created_at=at, updated_at=at)
        return await self.store.insert_blackout(blackout)

    async def get_blackout(self, ctx: CallContext, blackout_id: str) -> Blackout:
        check_key(blackout_id, "blackout")
        blackout = await self.store.get_blackout(ctx.tenant_id, blackout_id)
        if blackout is None:
            raise NotFound(f"blackout {blackout_id} not found")
        return blackout

    async def list_blackouts(self, ctx: CallContext, start: datetime | None, end: datetime | None,
                             page: Page) -> tuple[list[Blackout], int]:
        errors: list[FieldError] = []
        check_page(errors, page.limit, page.offset)
        if start and end and end < start:
            errors.append(FieldError("to", "must not be before from"))
        if errors:
            raise ValidationFailed("invalid query", errors)
        return await self.store.list_blackouts(ctx.tenant_id, utc(start) if start else None,
                                               utc(end) if end else None, page)

    async def update_blackout(self, ctx: CallContext, blackout_id: str, changes: dict[str, Any]) -> Blackout:
        require_admin(ctx, "manage blackout windows")
        check_key(blackout_id, "blackout")
        unknown = sorted(set(changes) - {"name", "reason", "start", "end", "ci_ids"})
        if unknown:
            raise ValidationFailed("unknown fields", [FieldError(f, "cannot be updated") for f in unknown])
        self._validate_blackout(changes.get("name"), changes.get("reason"), changes.get("start"),
                                changes.get("end"), changes.get("ci_ids"), partial=True)
        await self._refuse_unknown_cis(changes.get("ci_ids") or ())
        changes = {k: (utc(v) if isinstance(v, datetime) else tuple(v) if k == "ci_ids" else v)
                   for k, v in changes.items()}

        def decide(b: Blackout) -> Blackout:
            diff = {k: v for k, v in changes.items() if getattr(b, k) != v}
            if not diff:
                return b
            updated = replace(b, **diff)
            if updated.end <= updated.start:
                raise ValidationFailed("invalid blackout", [FieldError("end", "must be after start")])
            return replace(updated, version=b.version + 1, updated_at=now())

        return await self.store.mutate_blackout(ctx.tenant_id, blackout_id, decide)

    async def delete_blackout(self, ctx: CallContext, blackout_id: str) -> None:
        require_admin(ctx, "manage blackout windows")
        check_key(blackout_id, "blackout")
        if not await self.store.delete_blackout(ctx.tenant_id, blackout_id):
            raise NotFound(f"blackout {blackout_id} not found")
