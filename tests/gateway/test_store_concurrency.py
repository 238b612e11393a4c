"""The gateway's own rules that read before they write, under many concurrent calls, on SQLite and
PostgreSQL: an Idempotency-Key claimed once by simultaneous first requests (never a unique-violation 500),
tenant ids and user emails unique, a refresh token redeemed once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp import web

import gateway
from gateway.idempotency import IdempotencyStore, keys
from gateway.identity import IdentityStore, User
from vigil.runtime.db import Database
from vigil.runtime.errors import Conflict

MIGRATIONS = Path(gateway.__file__).with_name("migrations")


@pytest.fixture
async def db(database_url):
    database = Database(database_url, "gateway")
    await database.migrate(MIGRATIONS)
    yield database
    await database.dispose()


async def claims(store: IdempotencyStore, n: int, key: str = "k1") -> list:
    return await asyncio.gather(*(store.claim("t1", key, "fp") for _ in range(n)), return_exceptions=True)


async def test_simultaneous_first_requests_claim_a_key_once(db):
    store = IdempotencyStore(db)
    results = await claims(store, 20)
    assert results.count(None) == 1  # exactly one request runs
    assert all(isinstance(r, Conflict) for r in results if r is not None), results  # the rest: 409, not 500
    await store.complete("t1", "k1", web.json_response({"data": 1}, status=201))
    replays = await claims(store, 10)
    assert all(isinstance(r, web.Response) and r.status == 201 and r.headers["Idempotent-Replayed"] == "true"
               for r in replays)


async def test_an_expired_key_is_taken_over_once(db):
    store = IdempotencyStore(db)
    assert await store.claim("t1", "old", "fp") is None
    async with db.write() as conn:
        await conn.execute(keys.update().where(keys.c.key == "old").values(
            status=201, created_at=datetime.now(UTC) - timedelta(hours=25)))
    results = await claims(store, 12, "old")
    assert results.count(None) == 1
    assert all(isinstance(r, Conflict) for r in results if r is not None), results


async def test_a_released_key_can_be_claimed_again(db):
    store = IdempotencyStore(db)
    assert await store.claim("t1", "k", "fp") is None
    await store.release("t1", "k")
    assert (await claims(store, 6, "k")).count(None) == 1


async def test_tenant_ids_and_user_emails_stay_unique(db):
    identity = IdentityStore(db)
    results = await asyncio.gather(*(identity.create_tenant(f"Acme {i}", "acme", "pro") for i in range(10)),
                                   return_exceptions=True)
    assert sum(not isinstance(r, Exception) for r in results) == 1
    assert all(isinstance(r, Conflict) and r.fields[0].field == "id" for r in results if isinstance(r, Exception))
    results = await asyncio.gather(*(identity.create_user("acme", "Sre@Acme.io", "correct-horse", "responder")
                                     for _ in range(8)), return_exceptions=True)
    assert sum(isinstance(r, User) for r in results) == 1
    assert all(isinstance(r, Conflict) and r.fields[0].field == "email" for r in results if not isinstance(r, User))
    assert [u.email for u in await identity.list_users("acme")] == ["sre@acme.io"]


async def test_a_refresh_token_is_redeemed_once(db):
    identity = IdentityStore(db)
    await identity.create_tenant("Acme", "acme", "pro")
    user = await identity.create_user("acme", "sre@acme.io", "correct-horse", "responder")
    token = await identity.issue_refresh_token(user, 3600)
    results = await asyncio.gather(*(identity.redeem_refresh_token(token) for _ in range(20)))
    assert [r.id for r in results if r is not None] == [user.id]
    expired = await identity.issue_refresh_token(user, -1)
    assert await identity.redeem_refresh_token(expired) is None
