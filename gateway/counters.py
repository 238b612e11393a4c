"""Counters shared by every gateway replica, for rate limits (per minute) and daily quotas, at almost no cost per
request.

Each (tenant, counter, window) has one row in the gateway's database whose `leased` says how much of the window's
limit the replicas have taken between them. A replica takes a *lease* — a share of what is left — in one short
transaction (the row locked on PostgreSQL; SQLite has one writer) and serves requests from it in memory; it goes
back to the database only when its lease is spent. So:

- the limit holds across any number of replicas: leases never add up to more than the limit;
- the common request costs no database round trip: a lease is a twentieth of the limit while much is left, half
  of what is left as the window fills (so what other replicas hold unused when one runs dry stays small);
- a replica that found the window empty refuses without asking again until the window ends (or the limit is
  raised).

Daily counters also record what was used (`consumed`, written in batches by `flush`) for the usage report. A
window is a UTC minute or a UTC day; `reset` is when it ends (Unix seconds).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

import sqlalchemy as sa

from vigil.runtime.db import Database, dialect_insert

Period = Literal["minute", "day"]
PERIOD_SECONDS = {"minute": 60, "day": 86_400}
LEASE_FRACTION = 20  # a lease is at most 1/20 of the limit
KEEP_SECONDS = 3 * 86_400  # windows older than this are deleted by `flush`

metadata = sa.MetaData()
usage_counters = sa.Table(
    "usage_counters", metadata,
    sa.Column("tenant_id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(40), primary_key=True),
    sa.Column("window_start", sa.BigInteger, primary_key=True),
    sa.Column("leased", sa.BigInteger, nullable=False),
    sa.Column("consumed", sa.BigInteger, nullable=False),
)


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset: int  # Unix seconds when the window ends

    @property
    def retry_after(self) -> float:
        return max(1.0, self.reset - time.time())


@dataclass(eq=False)
class _Window:
    start: int
    end: int
    tokens: int = 0  # leased by this replica, not yet spent
    leased_seen: int = 0  # the window's `leased` as of this replica's last lease
    empty_at_limit: int | None = None  # the limit under which the database had nothing left
    metered: bool = False  # daily counters record what was used, for the usage report
    unflushed: int = 0  # spent since the last flush (metered counters)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def remaining(self, limit: int) -> int:
        return max(0, limit - self.leased_seen) + self.tokens


def window_of(period: Period, at: float) -> tuple[int, int]:
    length = PERIOD_SECONDS[period]
    start = int(at // length) * length
    return start, start + length


class SharedCounters:
    def __init__(self, db: Database, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.clock = clock
        self._windows: dict[tuple[str, str], _Window] = {}
        self._retired: list[tuple[str, str, _Window]] = []  # past windows with unflushed use
        self._pruned_at = 0.0

    def _window(self, tenant_id: str, name: str, period: Period) -> _Window:
        start, end = window_of(period, self.clock())
        current = self._windows.get((tenant_id, name))
        if current is None or current.start != start:
            if current is not None and current.unflushed:
                self._retired.append((tenant_id, name, current))
            current = self._windows[(tenant_id, name)] = _Window(start, end, metered=period == "day")
        return current

    async def take(self, tenant_id: str, name: str, period: Period, limit: int, amount: int = 1) -> Decision:
        """Take `amount` of the window's `limit` for the tenant, or refuse (taking nothing)."""
        window = self._window(tenant_id, name, period)
        # A limit lowered since this replica's lease (the operator's override, within VIGIL_TENANT_CACHE_SECONDS):
        # what was leased under the old one is kept only as far as the new one leaves room. `leased_seen - tokens`
        # is what the others had leased and this replica has spent; under an unchanged limit this never clamps.
        room = max(0, limit - (window.leased_seen - window.tokens))
        if window.tokens > room:
            window.leased_seen -= window.tokens - room  # what is dropped no longer counts as this replica's
            window.tokens = room
        if window.tokens < amount and not (window.empty_at_limit is not None and limit <= window.empty_at_limit):
            async with window.lock:  # one lease at a time per window; the others wait for it, not the database
                if window.tokens < amount:
                    await self._lease(tenant_id, name, window, limit, amount - window.tokens)
        if window.tokens < amount:
            return Decision(False, limit, window.remaining(limit), window.end)
        window.tokens -= amount
        if window.metered:
            window.unflushed += amount
        return Decision(True, limit, window.remaining(limit), window.end)

    def give_back(self, tenant_id: str, name: str, period: Period, amount: int = 1) -> None:
        """Return what a request took but did not use (it failed), to this replica's lease."""
        window = self._window(tenant_id, name, period)
        window.tokens += amount
        if window.metered:
            window.unflushed -= amount

    async def _lease(self, tenant_id: str, name: str, window: _Window, limit: int, needed: int) -> None:
        key = (usage_counters.c.tenant_id == tenant_id, usage_counters.c.name == name,
               usage_counters.c.window_start == window.start)
        async with self.db.write() as conn:
            await conn.execute(dialect_insert(conn)(usage_counters).values(
                tenant_id=tenant_id, name=name, window_start=window.start, leased=0, consumed=0,
            ).on_conflict_do_nothing())
            leased = int((await conn.execute(sa.select(usage_counters.c.leased).where(*key)
                                             .with_for_update())).scalar_one())
            left = max(0, limit - leased)
            grant = 0
            if left >= needed:
                grant = min(left, max(needed, min(math.ceil(limit / LEASE_FRACTION), math.ceil(left / 2))))
                await conn.execute(usage_counters.update().where(*key).values(leased=leased + grant))
        window.tokens += grant
        window.leased_seen = leased + grant
        window.empty_at_limit = limit if left == 0 else None

    async def used(self, tenant_id: str, name: str, period: Period) -> int:
        """What the tenant used of the current window: written by every replica's flushes, plus this replica's
        use since its last one."""
        start, _ = window_of(period, self.clock())
        async with self.db.read() as conn:
            consumed = (await conn.execute(sa.select(usage_counters.c.consumed).where(
                usage_counters.c.tenant_id == tenant_id, usage_counters.c.name == name,
                usage_counters.c.window_start == start))).scalar()
        window = self._windows.get((tenant_id, name))
        return int(consumed or 0) + (window.unflushed if window is not None and window.start == start else 0)

    async def flush(self) -> None:
        """Write what was used since the last flush (daily counters) and delete windows long past."""
        pending = self._retired + [(t, n, w) for (t, n), w in self._windows.items() if w.unflushed]
        self._retired = []
        if pending:
            amounts = [(t, n, w, w.unflushed) for t, n, w in pending]
            for *_, w, amount in amounts:
                w.unflushed -= amount
            try:
                async with self.db.write() as conn:
                    await conn.execute(usage_counters.update().where(
                        usage_counters.c.tenant_id == sa.bindparam("t"), usage_counters.c.name == sa.bindparam("n"),
                        usage_counters.c.window_start == sa.bindparam("w"),
                    ).values(consumed=usage_counters.c.consumed + sa.bindparam("d")),
                        [{"t": t, "n": n, "w": w.start, "d": amount} for t, n, w, amount in amounts])
            except Exception:
                for *_, w, amount in amounts:
                    w.unflushed += amount
                raise
        clock = self.clock()
        self._windows = {k: w for k, w in self._windows.items() if w.end > clock - 60}
        if clock - self._pruned_at > 600:
            self._pruned_at = clock
            async with self.db.write() as conn:
                await conn.execute(usage_counters.delete().where(
                    usage_counters.c.window_start < int(clock) - KEEP_SECONDS))


def day_start(at: float | None = None) -> datetime:
    start, _ = window_of("day", time.time() if at is None else at)
    return datetime.fromtimestamp(start, UTC)
