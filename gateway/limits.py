"""What each plan allows: rate limits (requests per minute per tenant and rate class) and quotas, and a tenant's
effective limits (its plan's, with the operator's overrides; gateway/routes/control.py).

Rate limits are per minute and per class (`read`, `write`, `ai`, `ingest`; gateway/scopes.py says which route is
which). Quotas are what a plan buys: incidents created per calendar month (UTC; however they were created, by the
API or from alerts), telemetry bytes accepted per UTC day, AI calls per UTC day, users and live API keys.
`VIGIL_RATE_LIMITS` and `VIGIL_PLAN_QUOTAS` (JSON) change the plans' defaults; the operator overrides a tenant's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal, get_args

from pydantic import Field

from gateway.scopes import RATE_CLASSES

QuotaName = Literal["incidents_per_month", "telemetry_bytes_per_day", "ai_calls_per_day", "users", "api_keys"]
QUOTAS: tuple[str, ...] = get_args(QuotaName)
# The quotas a request uses up as it is served (the others count things: users, API keys).
MeteredQuota = Literal["incidents_per_month", "telemetry_bytes_per_day", "ai_calls_per_day"]
Positive = Annotated[int, Field(ge=1, le=10**15)]
RateClassLimits = dict[Literal["read", "write", "ai", "ingest"], Positive]
Quotas = dict[QuotaName, Positive]

GIB = 1024**3
RATE_LIMITS: dict[str, dict[str, int]] = {
    "free": {"read": 300, "write": 60, "ai": 10, "ingest": 600},
    "pro": {"read": 1500, "write": 300, "ai": 60, "ingest": 6000},
    "enterprise": {"read": 6000, "write": 1200, "ai": 300, "ingest": 60000},
}
PLAN_QUOTAS: dict[str, dict[str, int]] = {
    "free": {"incidents_per_month": 500, "telemetry_bytes_per_day": 1 * GIB, "ai_calls_per_day": 100,
             "users": 5, "api_keys": 5},
    "pro": {"incidents_per_month": 10_000, "telemetry_bytes_per_day": 50 * GIB, "ai_calls_per_day": 2_000,
            "users": 50, "api_keys": 50},
    "enterprise": {"incidents_per_month": 250_000, "telemetry_bytes_per_day": 1024 * GIB,
                   "ai_calls_per_day": 20_000, "users": 1_000, "api_keys": 500},
}


@dataclass(frozen=True, slots=True)
class Limits:
    """One tenant's effective limits: requests per minute per rate class, and quotas."""

    rate: dict[str, int]
    quotas: dict[str, int]


class Plans:
    """The plans' limits (defaults merged with the configured ones) and each tenant's, with its overrides."""

    def __init__(self, rate_limits: dict[str, dict[str, int]] | None = None,
                 quotas: dict[str, dict[str, int]] | None = None) -> None:
        self.rate = _merged(RATE_LIMITS, rate_limits or {})
        self.quotas = _merged(PLAN_QUOTAS, quotas or {})
        for plan in self.rate:
            assert set(self.rate[plan]) == set(RATE_CLASSES) and set(self.quotas[plan]) == set(QUOTAS), plan

    def of(self, plan: str, overrides: dict[str, Any] | None = None) -> Limits:
        overrides = overrides or {}
        return Limits(rate={**self.rate[plan], **overrides.get("rate_limits", {})},
                      quotas={**self.quotas[plan], **overrides.get("quotas", {})})


def _merged(defaults: dict[str, dict[str, int]], configured: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    unknown = set(configured) - set(defaults)
    if unknown:
        raise ValueError(f"unknown plans {sorted(unknown)}: the plans are {', '.join(defaults)}")
    return {plan: {**values, **configured.get(plan, {})} for plan, values in defaults.items()}
