"""The shared counters behind rate limits and daily quotas, on SQLite and PostgreSQL: under many concurrent takes,
from one replica or from two on the same database, exactly the limit is granted; windows roll over; what a failed
request took comes back; daily use is recorded. The counted quotas (users, API keys) hold under concurrent
creates too."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gateway.api_keys import ApiKeyStore
from gateway.app import MIGRATIONS
from gateway.counters import SharedCounters
from gateway.identity import IdentityStore
from gateway.quotas import MonthlyIncidents
from vigil.runtime.db import Database
from vigil.runtime.errors import QuotaExceeded


@pytest.fixture
async def db(database_url: str):
    database = Database(database_url, "gateway")
    await database.migrate(MIGRATIONS)
    yield database
    await database.dispose()


class Clock:
    def __init__(self, at: float) -> None:
        self.at = at

    def __call__(self) -> float:
        return self.at


async def test_concurrent_takes_grant_exactly_the_limit(db):
    counters = SharedCounters(db, clock=Clock(1_000_020.0))  # one minute's window, whenever the test runs
    decisions = await asyncio.gather(*(counters.take("acme", "rate:write", "minute", 50) for _ in range(300)))
    assert sum(d.allowed for d in decisions) == 50
    refused = [d for d in decisions if not d.allowed]
    assert all(d.remaining == 0 and d.retry_after >= 1 for d in refused)
    # another tenant's window is its own
    assert (await counters.take("globex", "rate:write", "minute", 50)).allowed


async def test_two_replicas_on_one_database_share_the_limit(db, database_url):
    other_db = Database(database_url, "gateway")
    try:
        clock = Clock(1_000_020.0)  # one minute's window, whenever the test runs
        replicas = [SharedCounters(db, clock=clock), SharedCounters(other_db, clock=clock)]
        takes = [replicas[i % 2].take("acme", "rate:read", "minute", 120) for i in range(600)]
        decisions = await asyncio.gather(*takes)
        # Unshared counters would allow 120 on each replica (240); which replica takes how many is the database's
        # scheduling (on SQLite one may take them all), not part of the rule.
        assert sum(d.allowed for d in decisions) == 120
    finally:
        await other_db.dispose()


async def test_the_window_rolls_over_and_a_raised_limit_applies_at_once(db):
    clock = Clock(1_000_020.0)
    counters = SharedCounters(db, clock=clock)
    assert sum([(await counters.take("acme", "rate:ai", "minute", 3)).allowed for _ in range(5)]) == 3
    refused = await counters.take("acme", "rate:ai", "minute", 3)
    assert not refused.allowed and refused.reset == 1_000_080
    assert (await counters.take("acme", "rate:ai", "minute", 4)).allowed  # the operator raised it
    clock.at += 60
    fresh = await counters.take("acme", "rate:ai", "minute", 3)
    assert fresh.allowed and fresh.reset == 1_000_140


async def test_a_lowered_limit_applies_at_once_to_what_a_replica_already_leased(db):
    """Found by hand: lowering a tenant's read limit from 300 to 3 mid-minute left the replica serving the 15 it had
    leased under 300, answering `X-RateLimit-Limit: 3` with `X-RateLimit-Remaining: 13`."""
    clock = Clock(1_000_020.0)
    counters = SharedCounters(db, clock=clock)
    first = await counters.take("acme", "rate:read", "minute", 300)
    assert first.allowed and first.remaining == 299
    decisions = [await counters.take("acme", "rate:read", "minute", 3) for _ in range(5)]
    assert [d.allowed for d in decisions] == [True, True, False, False, False]  # 3 in the minute, the first included
    assert all(d.remaining <= d.limit == 3 for d in decisions) and decisions[-1].remaining == 0
    assert (await counters.take("acme", "rate:read", "minute", 300)).allowed  # raised again: serves at once
    clock.at += 60
    assert sum([(await counters.take("acme", "rate:read", "minute", 3)).allowed for _ in range(5)]) == 3


async def test_amounts_give_back_and_daily_use(db):
    counters = SharedCounters(db)
    assert (await counters.take("acme", "telemetry_bytes_per_day", "day", 1000, 700)).allowed
    assert not (await counters.take("acme", "telemetry_bytes_per_day", "day", 1000, 400)).allowed  # too big
    assert (await counters.take("acme", "telemetry_bytes_per_day", "day", 1000, 300)).allowed  # fits exactly
    counters.give_back("acme", "telemetry_bytes_per_day", "day", 300)  # that request failed
    assert await counters.used("acme", "telemetry_bytes_per_day", "day") == 700
    await counters.flush()
    assert await SharedCounters(db).used("acme", "telemetry_bytes_per_day", "day") == 700  # another replica reads it
    assert (await counters.take("acme", "telemetry_bytes_per_day", "day", 1000, 300)).allowed


async def test_monthly_incidents_hold_under_concurrency_and_count_what_others_created():
    created_elsewhere = {"n": 3}  # e.g. from alerts, inside the incident service
    numbers = iter(range(4, 100))  # references are gap-free: 1-3 came from alerts

    async def count(_tenant: str, since: datetime) -> tuple[int, int]:
        assert since.day == 1 and since.tzinfo is not None
        await asyncio.sleep(0.01)
        return created_elsewhere["n"], created_elsewhere["n"]

    incidents = MonthlyIncidents(count, cache_seconds=0.5)

    async def create() -> bool:
        try:
            await incidents.reserve("acme", 10)
        except QuotaExceeded:
            return False
        await asyncio.sleep(0.005)
        incidents.settle("acme", next(numbers))
        return True

    results = await asyncio.gather(*(create() for _ in range(40)))
    assert sum(results) == 7  # 3 from alerts + 7 = the quota of 10
    # alerts created more since: the next count sees them
    created_elsewhere["n"] = 10
    await asyncio.sleep(0.6)
    with pytest.raises(QuotaExceeded, match="incidents_per_month"):
        await incidents.reserve("acme", 10)
    assert await incidents.used("acme") == 10


async def test_monthly_incidents_count_a_create_answered_after_a_count_once():
    state = {"n": 0}  # incidents in the service; references are gap-free, so the highest number is n too

    async def count(_tenant: str, _since: datetime) -> tuple[int, int]:
        return state["n"], state["n"]

    incidents = MonthlyIncidents(count, cache_seconds=60)
    await incidents.reserve("acme", 3)
    state["n"] = 1  # the create commits, and a count is taken before its answer leaves
    assert await incidents.used("acme") == 2  # in flight and counted: the safe side, until it settles
    incidents.settle("acme", 1)
    assert await incidents.used("acme") == 1  # in the count, not added again
    await incidents.reserve("acme", 3)
    incidents.settle("acme", 2)  # answered after the last count: added
    await incidents.reserve("acme", 3)  # 1 counted + 1 answered: room for the third
    incidents.settle("acme", 3)
    with pytest.raises(QuotaExceeded):
        await incidents.reserve("acme", 3)


async def test_users_quota_holds_under_concurrent_creates(db):
    identity = IdentityStore(db, cache_seconds=0)
    await identity.create_tenant("Acme", "acme", "free")

    async def add(i: int) -> bool:
        try:
            await identity.create_user("acme", f"u{i}@acme.test", "password-123", "viewer", max_users=4)
        except QuotaExceeded:
            return False
        return True

    assert sum(await asyncio.gather(*(add(i) for i in range(12)))) == 4
    users = await identity.list_users("acme")
    assert len(users) == 4
    await identity.update_user("acme", users[0].id, disabled=True, max_users=4)
    await identity.create_user("acme", "late@acme.test", "password-123", "viewer", max_users=4)  # a seat was freed
    with pytest.raises(QuotaExceeded):  # enabling takes one again: none is left
        await identity.update_user("acme", users[0].id, disabled=False, max_users=4)


async def test_api_keys_quota_holds_under_concurrent_mints(db, tmp_path: Path):
    identity = IdentityStore(db, cache_seconds=0)
    await identity.create_tenant("Acme", "acme", "free")
    keys = ApiKeyStore(db)

    async def mint(i: int) -> bool:
        try:
            await keys.mint("acme", name=f"k{i}", scopes=["incidents:read"], role="viewer", allowed_cidrs=[],
                            expires_at=datetime.now(UTC) + timedelta(days=1), created_by="admin@acme.test",
                            created_by_kind="user", creator_role="admin", max_keys=3)
        except QuotaExceeded:
            return False
        return True

    assert sum(await asyncio.gather(*(mint(i) for i in range(10)))) == 3
    assert await keys.count_live("acme") == 3
