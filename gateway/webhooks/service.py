"""Webhooks as the gateway runs them: the routes' operations (subscriptions, secret rotation, test pings,
replays) and the two loops of every replica (the Kafka feed that makes deliveries, the worker that makes
attempts)."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import timedelta
from typing import Any

import orjson

from gateway.config import GatewaySettings
from gateway.events.registry import Published, unknown_patterns
from gateway.schemas.convert import iso_value
from gateway.webhooks import signing
from gateway.webhooks.delivery import DeliveryWorker, Sender
from gateway.webhooks.feed import WebhookFeed
from gateway.webhooks.store import Subscription, WebhookStore
from gateway.webhooks.targets import check_target, networks
from vigil.runtime.clock import Clock
from vigil.runtime.clock import now as wall_now
from vigil.runtime.db import Database
from vigil.runtime.errors import FieldError, ValidationFailed

PING = "webhook.ping"
# A subscription's events are those that occurred from its creation on, by the wall clocks of the service that
# stamped the event and of the gateway; the slack keeps a small difference between those clocks from dropping an
# event of the first moments (one from just before is delivered instead).
EVENTS_FROM_SLACK = timedelta(seconds=1)


def check_event_types(patterns: list[str]) -> None:
    bad = unknown_patterns(patterns)
    if bad:
        raise ValidationFailed("unknown event types", [FieldError("event_types", f"{', '.join(bad)}: expected *, "
                                                                                 "<family>.* or <family>.<verb>")])


class Webhooks:
    def __init__(self, db: Database, settings: GatewaySettings, clock: Clock | None = None) -> None:
        self.clock = clock or Clock()
        self.store = WebhookStore(db)
        self.allow = networks(settings.webhook_allowed_networks)
        self.sender = Sender(settings.webhook_timeout_seconds, self.allow)
        self.worker = DeliveryWorker(
            self.store, self.sender, self.clock, concurrency=settings.webhook_concurrency,
            per_subscription=settings.webhook_concurrency_per_subscription,
            disable_after=settings.webhook_disable_after_failures, poll_seconds=settings.webhook_poll_seconds)
        self.feed = WebhookFeed(self.store, self.clock, bootstrap=settings.kafka_bootstrap,
                                group_id=settings.webhook_consumer_group, on_enqueued=self.worker.wake)

    def start(self) -> None:
        self.feed.start()
        self.worker.start()

    async def stop(self) -> None:
        await self.feed.stop()
        await self.worker.stop()
        await self.sender.close()

    # -- subscriptions ------------------------------------------------------------------------------------------

    async def create(self, tenant_id: str, actor: str, values: dict[str, Any]) -> Subscription:
        check_event_types(values["event_types"])
        await check_target(values["url"], self.allow)
        now = self.clock.now()
        subscription = Subscription(
            id=str(uuid.uuid4()), tenant_id=tenant_id, url=values["url"], description=values["description"],
            event_types=values["event_types"], filter=values["filter"], enabled=values["enabled"],
            disabled_reason=None, disabled_at=None, secret=signing.new_secret(), previous_secret=None,
            previous_secret_expires_at=None, consecutive_failures=0, created_by=actor, created_at=now,
            updated_at=now, version=1, events_from=wall_now() - EVENTS_FROM_SLACK)  # not self.clock: tests speed it
        return await self.store.create(subscription)

    async def update(self, tenant_id: str, subscription_id: str, changes: dict[str, Any],
                     expected_version: int) -> Subscription:
        if "event_types" in changes:
            check_event_types(changes["event_types"])
        if "url" in changes:
            await check_target(changes["url"], self.allow)
        now = self.clock.now()

        def decide(current: Subscription) -> Subscription:
            values = dict(changes)
            if values.get("enabled") is True and not current.enabled:
                # Enabling again starts afresh: the reason and the run of failures are history.
                values.update(disabled_reason=None, disabled_at=None, consecutive_failures=0)
            updated = replace(current, **values)
            return current if updated == current else replace(updated, updated_at=now, version=current.version + 1)

        updated = await self.store.update(tenant_id, subscription_id, decide, expected_version)
        self.worker.wake()
        return updated

    async def rotate(self, tenant_id: str, subscription_id: str, overlap_seconds: int) -> Subscription:
        """A new secret; the old one keeps signing (a second `v1=`) for `overlap_seconds`."""
        now = self.clock.now()
        return await self.store.update(tenant_id, subscription_id, lambda current: replace(
            current, secret=signing.new_secret(), previous_secret=current.secret if overlap_seconds else None,
            previous_secret_expires_at=now + timedelta(seconds=overlap_seconds) if overlap_seconds else None,
            updated_at=now, version=current.version + 1))

    # -- deliveries ---------------------------------------------------------------------------------------------

    async def ping(self, tenant_id: str, subscription_id: str) -> str:
        """Send a `webhook.ping` now, in this request (one attempt, never retried, not counted towards
        disablement; allowed while the subscription is disabled, to check an endpoint before enabling it)."""
        subscription = await self.store.get(tenant_id, subscription_id)
        now = self.clock.now()
        event_id = str(uuid.uuid4())
        envelope = {"id": event_id, "type": PING, "occurred_at": iso_value(now),
                    "tenant_id": tenant_id, "actor": None, "resource": {"type": "webhook", "id": subscription.id},
                    "data": {"id": subscription.id, "url": subscription.url}, "details": {}}
        event = Published(envelope, orjson.dumps(envelope), f"ping:{event_id}", scope=None)
        row = self.store.delivery_row(subscription, event, now, retries=False)
        await self.store.add(row)
        claimed = await self.store.lease_one(row["id"], now, self.worker.lease)
        await self.worker.attempt(claimed)
        return row["id"]

    async def replay(self, tenant_id: str, subscription_id: str, delivery_id: str) -> str:
        """The same event (same body, same event id) as a new delivery, queued behind the resource's others."""
        subscription = await self.store.get(tenant_id, subscription_id)
        original, _ = await self.store.delivery(tenant_id, subscription_id, delivery_id)
        envelope = orjson.loads(original.body)
        event = Published(envelope, original.body, original.ordering_key, scope=None)
        row = self.store.delivery_row(subscription, event, self.clock.now(), dedup_key=str(uuid.uuid4()),
                                      replay_of=original.id)
        await self.store.add(row)
        self.worker.wake()
        return row["id"]
