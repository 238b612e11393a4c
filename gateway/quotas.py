"""Plan quotas that requests use up (gateway/limits.py has the numbers), checked before the handler runs:

- `incidents_per_month`: the incident service owns the count, since incidents are created from alerts inside it
  as well as through `POST /api/incidents`. The gateway asks it (`CountIncidents` since the month began, UTC) and
  trusts the answer for `VIGIL_QUOTA_CACHE_SECONDS` (10 s), adding the creates it has in flight and answered
  since. Through one gateway the quota holds exactly under any concurrency; incidents created elsewhere (other
  replicas, alerts) are seen at the next count, so the quota may be passed by what they create in that time.
  Alerts are never refused for it (a page must not be lost to a plan limit); the incidents they create count.
- `telemetry_bytes_per_day` (the bytes of each accepted ingest body) and `ai_calls_per_day` (each call of an
  `ai` route): shared daily counters (gateway/counters.py), exact across replicas.

A request refused answers 402 `QUOTA_EXCEEDED` naming the quota; a request that fails gives back what it took.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from gateway.counters import SharedCounters
from vigil.runtime.errors import FieldError, QuotaExceeded

INCIDENTS = "incidents_per_month"
RECOUNT_BEFORE_REFUSING = 1.0  # seconds: a count older than this is asked again before a create is refused


def month_start(at: datetime | None = None) -> datetime:
    at = at or datetime.now(UTC)
    return at.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def exceeded(name: str, used: int, limit: int, unit: str = "") -> QuotaExceeded:
    return QuotaExceeded(f"quota {name} exceeded: {used}{unit} of {limit}{unit} used (ask for a larger plan)",
                         [FieldError("quota", name)])


@dataclass(eq=False)
class _Month:
    start: datetime
    counted: int = 0  # what the incident service said
    counted_at: float = float("-inf")  # monotonic
    answered: int = 0  # creates answered by this replica since that count was asked for
    in_flight: int = 0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def used(self) -> int:
        return self.counted + self.answered + self.in_flight


class MonthlyIncidents:
    def __init__(self, count: Callable[[str, datetime], Awaitable[int]], cache_seconds: float) -> None:
        self.count = count  # (tenant, since) -> incidents created since then
        self.cache_seconds = cache_seconds
        self._months: dict[str, _Month] = {}

    def _month(self, tenant_id: str) -> _Month:
        start = month_start()
        month = self._months.get(tenant_id)
        if month is None or month.start != start:
            month = self._months[tenant_id] = _Month(start)
        return month

    async def _recount(self, tenant_id: str, month: _Month, older_than: float) -> None:
        async with month.lock:
            if time.monotonic() - month.counted_at <= older_than:
                return  # counted while we waited
            answered = month.answered
            counted = await self.count(tenant_id, month.start)
            # Creates answered before the count was asked are in it; those answered since may be too (counted
            # twice until the next count: the safe side).
            month.counted, month.answered = counted, month.answered - answered
            month.counted_at = time.monotonic()

    async def reserve(self, tenant_id: str, limit: int) -> None:
        month = self._month(tenant_id)
        if time.monotonic() - month.counted_at > self.cache_seconds:
            await self._recount(tenant_id, month, self.cache_seconds)
        if month.used >= limit:
            await self._recount(tenant_id, month, RECOUNT_BEFORE_REFUSING)
            if month.used >= limit:
                raise exceeded(INCIDENTS, month.counted + month.answered, limit)
        month.in_flight += 1

    def settle(self, tenant_id: str, created: bool) -> None:
        month = self._month(tenant_id)
        month.in_flight = max(0, month.in_flight - 1)
        if created:
            month.answered += 1

    async def used(self, tenant_id: str) -> int:
        month = self._month(tenant_id)
        await self._recount(tenant_id, month, 0.0)
        return month.counted + month.in_flight


class Quotas:
    """The metered quotas of gateway/limits.py, as the middleware uses them."""

    def __init__(self, counters: SharedCounters, incidents: MonthlyIncidents) -> None:
        self.counters = counters
        self.incidents = incidents

    async def take(self, tenant_id: str, name: str, limit: int, amount: int) -> None:
        if name == INCIDENTS:
            await self.incidents.reserve(tenant_id, limit)
            return
        decision = await self.counters.take(tenant_id, name, "day", limit, amount)
        if not decision.allowed:
            used = limit - decision.remaining
            raise exceeded(name, used, limit, " bytes" if name == "telemetry_bytes_per_day" else "")

    def settle(self, tenant_id: str, name: str, amount: int, succeeded: bool) -> None:
        if name == INCIDENTS:
            self.incidents.settle(tenant_id, succeeded)
        elif not succeeded:
            self.counters.give_back(tenant_id, name, "day", amount)

    async def used(self, tenant_id: str, name: str) -> int:
        if name == INCIDENTS:
            return await self.incidents.used(tenant_id)
        return await self.counters.used(tenant_id, name, "day")
