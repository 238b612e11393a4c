"""A tenant's limits and usage on the control plane (gateway/limits.py, gateway/quotas.py)."""

from __future__ import annotations

from pydantic import Field

from gateway.schemas.base import Body, Resource

LimitValue = int | None


class RateLimits(Resource):
    read: int
    write: int
    ai: int
    ingest: int


class QuotaValues(Resource):
    incidents_per_month: int
    telemetry_bytes_per_day: int
    ai_calls_per_day: int
    users: int
    api_keys: int


class RateLimitOverrides(Body):
    read: LimitValue = Field(None, ge=1, le=10**9)
    write: LimitValue = Field(None, ge=1, le=10**9)
    ai: LimitValue = Field(None, ge=1, le=10**9)
    ingest: LimitValue = Field(None, ge=1, le=10**9)


class QuotaOverrides(Body):
    incidents_per_month: LimitValue = Field(None, ge=1, le=10**12)
    telemetry_bytes_per_day: LimitValue = Field(None, ge=1, le=10**15)
    ai_calls_per_day: LimitValue = Field(None, ge=1, le=10**12)
    users: LimitValue = Field(None, ge=1, le=10**9)
    api_keys: LimitValue = Field(None, ge=1, le=10**9)


class LimitsUpdate(Body):
    """Overrides of the plan's values: a number sets one, null returns to the plan's; fields left out stay."""

    rate_limits: RateLimitOverrides | None = None
    quotas: QuotaOverrides | None = None


class TenantLimits(Resource):
    tenant_id: str
    plan: str
    rate_limits: RateLimits = Field(description="requests per minute per rate class, in effect")
    quotas: QuotaValues = Field(description="in effect")
    overrides: dict[str, dict[str, int]] = Field(description="what differs from the plan")


class Usage(Resource):
    tenant_id: str
    plan: str
    month_start: str = Field(description="incidents count from here (UTC)")
    day_start: str = Field(description="daily quotas count from here (UTC)")
    used: QuotaValues
    quotas: QuotaValues
