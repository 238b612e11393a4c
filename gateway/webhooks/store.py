"""Webhook subscriptions, deliveries and attempts in the gateway's database (shared by every gateway replica).

A delivery is one event for one subscription, with a stable id across its retries. Deliveries are made in
order per (subscription, resource): `claim` hands out only the oldest unfinished delivery of each such queue
(by `seq`, the insertion order, which follows the Kafka order of the resource's events), so a failing head holds
back that resource's later events and nothing else. A claim is a lease (`leased_until`) taken with a
conditional UPDATE, so among several replicas exactly one attempts a delivery at a time; a replica that dies
mid-attempt leaves a lease that runs out, and the delivery is tried again (at least once).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.events.registry import Published, matches
from vigil.runtime.clock import as_utc
from vigil.runtime.db import Database, dialect_insert
from vigil.runtime.errors import NotFound
from vigil.runtime.versioned import VersionedTable

_SEQ = sa.BigInteger().with_variant(sa.Integer, "sqlite")
metadata = sa.MetaData()
subscriptions = sa.Table(
    "webhook_subscriptions", metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("tenant_id", sa.String(64), nullable=False, index=True),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("description", sa.String(500), nullable=False),
    sa.Column("event_types", sa.JSON, nullable=False),
    sa.Column("filter", sa.JSON, nullable=False),
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("disabled_reason", sa.Text, nullable=True),
    sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("secret", sa.String(100), nullable=False),
    sa.Column("previous_secret", sa.String(100), nullable=True),
    sa.Column("previous_secret_expires_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("consecutive_failures", sa.Integer, nullable=False),
    sa.Column("created_by", sa.String(320), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    # Events that occurred before this are not the subscription's (see Subscription.events_from).
    sa.Column("events_from", sa.DateTime(timezone=True), nullable=False),
)
deliveries = sa.Table(
    "webhook_deliveries", metadata,
    sa.Column("seq", _SEQ, primary_key=True, autoincrement=True),
    sa.Column("id", sa.String(36), nullable=False, unique=True),
    sa.Column("tenant_id", sa.String(64), nullable=False),
    sa.Column("subscription_id", sa.String(36), nullable=False),
    # The event id for deliveries of events (one per subscription and event, however often Kafka re-delivers);
    # a fresh id for replays and pings.
    sa.Column("dedup_key", sa.String(64), nullable=False),
    sa.Column("event_id", sa.String(64), nullable=False),
    sa.Column("event_type", sa.String(100), nullable=False),
    sa.Column("resource_type", sa.String(50), nullable=False),
    sa.Column("resource_id", sa.String(200), nullable=False),
    sa.Column("ordering_key", sa.String(200), nullable=False),
    sa.Column("body", sa.LargeBinary, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),  # pending, succeeded, failed
    sa.Column("retries", sa.Boolean, nullable=False),  # false for pings: one attempt
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("leased_until", sa.DateTime(timezone=True), nullable=True),
    sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("last_status_code", sa.Integer, nullable=True),
    sa.Column("last_duration_ms", sa.Float, nullable=True),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("replay_of", sa.String(36), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
    sa.UniqueConstraint("subscription_id", "dedup_key", name="uq_webhook_deliveries_dedup"),
    sa.Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    sa.Index("ix_webhook_deliveries_queue", "subscription_id", "ordering_key", "status", "seq"),
    sa.Index("ix_webhook_deliveries_listing", "subscription_id", "seq"),
)
attempts = sa.Table(
    "webhook_attempts", metadata,
    sa.Column("seq", _SEQ, primary_key=True, autoincrement=True),
    sa.Column("delivery_id", sa.String(36), nullable=False, index=True),
    sa.Column("number", sa.Integer, nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("duration_ms", sa.Float, nullable=False),
    sa.Column("status_code", sa.Integer, nullable=True),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("outcome", sa.String(20), nullable=False),  # succeeded, retry, failed
    sa.Column("response_body", sa.Text, nullable=True),
)


@dataclass(frozen=True)
class Subscription:
    id: str
    tenant_id: str
    url: str
    description: str
    event_types: list[str]
    filter: dict[str, list[str]]
    enabled: bool
    disabled_reason: str | None
    disabled_at: datetime | None
    secret: str
    previous_secret: str | None
    previous_secret_expires_at: datetime | None
    consecutive_failures: int
    created_by: str
    created_at: datetime
    updated_at: datetime
    version: int
    # The wall-clock time of its creation, less EVENTS_FROM_SLACK: an event that occurred earlier is never
    # delivered to it, whenever the feed reads it (a new consumer group, or a topic the gateway starts reading,
    # begins at the oldest event Kafka keeps).
    events_from: datetime

    @property
    def secret_hint(self) -> str:
        return "…" + self.secret[-4:]

    def signing_secrets(self, at: datetime) -> list[str]:
        """The current secret, and the previous one while its overlap lasts."""
        found = [self.secret]
        if self.previous_secret and self.previous_secret_expires_at and self.previous_secret_expires_at > at:
            found.append(self.previous_secret)
        return found

    def wants(self, event: Published) -> bool:
        """The event's type matches, and so does each filter the event carries the attribute of."""
        if not matches(self.event_types, event.type):
            return False
        for name, wanted in self.filter.items():
            if not wanted:
                continue
            values = event.attribute(name)
            if values is not None and not set(values) & set(wanted):
                return False
        return True


def _subscription(row: Any) -> Subscription:
    values = dict(row._mapping)
    for name in ("disabled_at", "previous_secret_expires_at", "created_at", "updated_at", "events_from"):
        if values[name] is not None:
            values[name] = as_utc(values[name])
    return Subscription(**values)


_FIXED = ("id", "tenant_id", "created_by", "created_at", "events_from")  # what an update never writes
SUBSCRIPTIONS = VersionedTable(
    subscriptions, "webhook", _subscription,
    values=lambda s: {k: v for k, v in s.__dict__.items() if k not in _FIXED})


@dataclass(frozen=True)
class Claimed:
    """A delivery leased to this replica for one attempt."""

    id: str
    seq: int
    tenant_id: str
    subscription_id: str
    event_type: str
    body: bytes
    attempts: int
    retries: bool
    created_at: datetime


@dataclass(frozen=True)
class Outcome:
    """The result of one attempt, and what follows from it."""

    at: datetime
    duration_ms: float
    status_code: int | None
    error: str | None
    response_body: str | None
    retry_at: datetime | None  # None: no further attempt
    succeeded: bool
    disables: bool = False  # the endpoint said it is gone (410)

    @property
    def outcome(self) -> str:
        return "succeeded" if self.succeeded else ("retry" if self.retry_at is not None else "failed")


def after_delivery(subscription: Subscription, outcome: Outcome, disable_after: int) -> Subscription:
    """A delivery that ended: a success ends the run of failures; a failure extends it, and disables the
    subscription when the run reaches `disable_after` or the endpoint said it is gone."""
    if outcome.succeeded:
        if not subscription.consecutive_failures:
            return subscription
        return replace(subscription, consecutive_failures=0, version=subscription.version + 1)
    failures = subscription.consecutive_failures + 1
    changes: dict[str, Any] = {"consecutive_failures": failures, "version": subscription.version + 1}
    if subscription.enabled and (outcome.disables or failures >= disable_after):
        last = f"HTTP {outcome.status_code}" if outcome.status_code is not None else (outcome.error or "")
        changes.update(enabled=False, disabled_at=outcome.at, updated_at=outcome.at, disabled_reason=(
            f"the endpoint answered {last}: it is gone" if outcome.disables
            else f"{failures} deliveries in a row failed; the last: {last}"))
    return replace(subscription, **changes)



class WebhookStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- subscriptions -----------------------------------------------------------------------------------------

    async def create(self, subscription: Subscription) -> Subscription:
        async with self.db.write() as conn:
            await conn.execute(subscriptions.insert().values(**subscription.__dict__))
        return subscription

    async def get(self, tenant_id: str, subscription_id: str) -> Subscription:
        async with self.db.read() as conn:
            row = (await conn.execute(sa.select(subscriptions).where(
                subscriptions.c.tenant_id == tenant_id, subscriptions.c.id == subscription_id))).first()
        if row is None:
            raise NotFound(f"no webhook {subscription_id}")
        return _subscription(row)

    async def list(self, tenant_id: str, limit: int, offset: int) -> tuple[list[Subscription], int]:
        where = subscriptions.c.tenant_id == tenant_id
        async with self.db.read() as conn:
            total = (await conn.execute(sa.select(sa.func.count()).select_from(subscriptions).where(where))).scalar()
            rows = (await conn.execute(sa.select(subscriptions).where(where).order_by(
                subscriptions.c.created_at, subscriptions.c.id).limit(limit).offset(offset))).all()
        return [_subscription(r) for r in rows], int(total or 0)

    async def enabled_by_tenant(self, conn: AsyncConnection,
                                tenant_ids: Iterable[str]) -> dict[str, list[Subscription]]:
        """The enabled subscriptions of those tenants; a tenant without one is not in the answer."""
        rows = (await conn.execute(sa.select(subscriptions).where(
            subscriptions.c.tenant_id.in_(list(tenant_ids)), subscriptions.c.enabled.is_(True)))).all()
        found: dict[str, list[Subscription]] = {}
        for row in rows:
            found.setdefault(row.tenant_id, []).append(_subscription(row))
        return found

    async def update(self, tenant_id: str, subscription_id: str, decide: Callable[[Subscription], Subscription],
                     expected_version: int = 0) -> Subscription:
        """Read the subscription, `decide` its new state (bumping the version when it changes), write it under the
        version it was read at; a stale `expected_version` (If-Match) is a conflict."""
        where = sa.and_(subscriptions.c.tenant_id == tenant_id, subscriptions.c.id == subscription_id)
        return (await SUBSCRIPTIONS.mutate(self.db, where, subscription_id, decide,
                                           expected_version=expected_version)).after

    async def delete(self, tenant_id: str, subscription_id: str) -> Subscription:
        found = await self.get(tenant_id, subscription_id)
        async with self.db.write() as conn:
            ids = sa.select(deliveries.c.id).where(deliveries.c.subscription_id == subscription_id)
            await conn.execute(attempts.delete().where(attempts.c.delivery_id.in_(ids)))
            await conn.execute(deliveries.delete().where(deliveries.c.subscription_id == subscription_id))
            await conn.execute(subscriptions.delete().where(subscriptions.c.id == subscription_id))
        return found

    # -- deliveries ---------------------------------------------------------------------------------------------

    @staticmethod
    def delivery_row(subscription: Subscription, event: Published, at: datetime, *, dedup_key: str | None = None,
                     replay_of: str | None = None, retries: bool = True) -> dict[str, Any]:
        return {
            "id": str(uuid.uuid4()), "tenant_id": subscription.tenant_id, "subscription_id": subscription.id,
            "dedup_key": dedup_key or event.id, "event_id": event.id, "event_type": event.type,
            "resource_type": event.resource_type, "resource_id": event.resource_id, "ordering_key": event.key,
            "body": event.body, "status": "pending", "retries": retries, "attempts": 0, "next_attempt_at": at,
            "leased_until": None, "last_attempt_at": None, "last_status_code": None, "last_duration_ms": None,
            "last_error": None, "replay_of": replay_of, "created_at": at, "completed_at": None,
        }

    async def enqueue(self, conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> int:
        """Insert deliveries, skipping those already made for the same (subscription, event): Kafka delivers
        at least once, this makes each event one delivery."""
        added = 0
        insert = dialect_insert(conn)
        for row in rows:
            result = await conn.execute(insert(deliveries).values(**row).on_conflict_do_nothing(
                index_elements=["subscription_id", "dedup_key"]))
            added += result.rowcount or 0
        return added

    async def add(self, row: dict[str, Any]) -> None:
        async with self.db.write() as conn:
            await conn.execute(deliveries.insert().values(**row))

    def _heads(self, now: datetime) -> tuple[Any, Any]:
        """Pending deliveries that head their (subscription, resource) queue, of enabled subscriptions, not
        leased to anyone."""
        d, earlier = deliveries, deliveries.alias("earlier")
        head = ~sa.exists().where(earlier.c.subscription_id == d.c.subscription_id,
                                  earlier.c.ordering_key == d.c.ordering_key, earlier.c.status == "pending",
                                  earlier.c.seq < d.c.seq)
        return d, sa.and_(d.c.status == "pending", sa.or_(d.c.leased_until.is_(None), d.c.leased_until < now),
                          subscriptions.c.enabled.is_(True), head)

    async def claim(self, now: datetime, limit: int, lease: timedelta, room: Callable[[str], int]) -> list[Claimed]:
        """Lease up to `limit` due heads; `room(subscription_id)` is how many more this replica takes of one
        subscription (it caps the attempts in flight per endpoint)."""
        d, heads = self._heads(now)
        query = (sa.select(d.c.id, d.c.seq, d.c.tenant_id, d.c.subscription_id, d.c.event_type, d.c.body,
                           d.c.attempts, d.c.retries, d.c.created_at)
                 .join(subscriptions, subscriptions.c.id == d.c.subscription_id)
                 .where(heads, d.c.next_attempt_at <= now)
                 .order_by(d.c.next_attempt_at, d.c.seq).limit(limit * 4))
        claimed: list[Claimed] = []
        taken_per: dict[str, int] = {}
        async with self.db.write() as conn:
            for row in (await conn.execute(query)).all():
                if len(claimed) >= limit:
                    break
                if taken_per.get(row.subscription_id, 0) >= room(row.subscription_id):
                    continue
                taken = await conn.execute(d.update().where(
                    d.c.id == row.id, d.c.status == "pending",
                    sa.or_(d.c.leased_until.is_(None), d.c.leased_until < now)).values(leased_until=now + lease))
                if taken.rowcount == 1:
                    taken_per[row.subscription_id] = taken_per.get(row.subscription_id, 0) + 1
                    claimed.append(Claimed(**{**row._mapping, "created_at": as_utc(row.created_at)}))
        return claimed

    async def next_due(self, now: datetime) -> datetime | None:
        """When the next queue head becomes due (after `now`); None when nothing waits."""
        d, heads = self._heads(now)
        async with self.db.read() as conn:
            found = (await conn.execute(sa.select(sa.func.min(d.c.next_attempt_at))
                                        .join(subscriptions, subscriptions.c.id == d.c.subscription_id)
                                        .where(heads, d.c.next_attempt_at > now))).scalar()
        return as_utc(found) if found is not None else None

    async def lease_one(self, delivery_id: str, now: datetime, lease: timedelta) -> Claimed:
        """Lease one delivery regardless of its queue (a ping, attempted in the request that made it)."""
        d = deliveries
        async with self.db.write() as conn:
            await conn.execute(d.update().where(d.c.id == delivery_id).values(leased_until=now + lease))
            row = (await conn.execute(sa.select(d.c.id, d.c.seq, d.c.tenant_id, d.c.subscription_id,
                                                d.c.event_type, d.c.body, d.c.attempts, d.c.retries,
                                                d.c.created_at).where(d.c.id == delivery_id))).one()
        return Claimed(**{**row._mapping, "created_at": as_utc(row.created_at)})

    async def record(self, claimed: Claimed, outcome: Outcome, disable_after: int) -> Subscription | None:
        """Record an attempt and its consequences in one transaction: the delivery's state, the subscription's
        run of failures, and its disablement when the run reaches `disable_after` (or the endpoint is gone).
        Returns the subscription when this attempt disabled it."""
        number = claimed.attempts + 1
        final = outcome.succeeded or outcome.retry_at is None
        async with self.db.write() as conn:
            await conn.execute(attempts.insert().values(
                delivery_id=claimed.id, number=number, at=outcome.at, duration_ms=outcome.duration_ms,
                status_code=outcome.status_code, error=outcome.error, outcome=outcome.outcome,
                response_body=outcome.response_body))
            await conn.execute(deliveries.update().where(deliveries.c.id == claimed.id).values(
                status="succeeded" if outcome.succeeded else ("pending" if not final else "failed"),
                attempts=number, next_attempt_at=outcome.retry_at, leased_until=None,
                last_attempt_at=outcome.at, last_status_code=outcome.status_code,
                last_duration_ms=outcome.duration_ms, last_error=outcome.error,
                completed_at=outcome.at if final else None))
            if not claimed.retries or not final:
                return None  # pings and attempts that will be retried do not count
            where = sa.and_(subscriptions.c.tenant_id == claimed.tenant_id,
                            subscriptions.c.id == claimed.subscription_id)
            changed = await SUBSCRIPTIONS.mutate_in(conn, where, claimed.subscription_id,
                                                    lambda s: after_delivery(s, outcome, disable_after))
        return changed.after if changed.before.enabled and not changed.after.enabled else None

    async def deliveries(self, tenant_id: str, subscription_id: str, statuses: Sequence[str], limit: int,
                         offset: int) -> tuple[list[Any], int]:
        """Newest first."""
        where = [deliveries.c.tenant_id == tenant_id, deliveries.c.subscription_id == subscription_id]
        if statuses:
            where.append(deliveries.c.status.in_(list(statuses)))
        async with self.db.read() as conn:
            total = (await conn.execute(sa.select(sa.func.count()).select_from(deliveries).where(*where))).scalar()
            rows = (await conn.execute(sa.select(deliveries).where(*where).order_by(deliveries.c.seq.desc())
                                       .limit(limit).offset(offset))).all()
        return list(rows), int(total or 0)

    async def delivery(self, tenant_id: str, subscription_id: str, delivery_id: str) -> tuple[Any, list[Any]]:
        async with self.db.read() as conn:
            row = (await conn.execute(sa.select(deliveries).where(
                deliveries.c.tenant_id == tenant_id, deliveries.c.subscription_id == subscription_id,
                deliveries.c.id == delivery_id))).first()
            if row is None:
                raise NotFound(f"no delivery {delivery_id} of webhook {subscription_id}")
            tried = (await conn.execute(sa.select(attempts).where(attempts.c.delivery_id == delivery_id)
                                        .order_by(attempts.c.number))).all()
        return row, list(tried)

    async def delivery_by_id(self, delivery_id: str) -> Any:
        async with self.db.read() as conn:
            return (await conn.execute(sa.select(deliveries).where(deliveries.c.id == delivery_id))).first()
