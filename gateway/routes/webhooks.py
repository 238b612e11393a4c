"""Webhooks: subscriptions per tenant (the secret is shown once, at creation and rotation), their deliveries with
each attempt, replays, and a test ping. Deliveries themselves are made by gateway/webhooks/, driven by Kafka."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from gateway.routing import Routes
from gateway.schemas.base import Paging
from gateway.schemas.common import Page, page
from gateway.schemas.webhooks import (
    Delivery,
    DeliveryDetail,
    DeliveryPath,
    DeliveryQuery,
    NewWebhook,
    RotateSecret,
    Webhook,
    WebhookPatch,
    WebhookPath,
    WebhookWithSecret,
)
from gateway.state import principal, webhooks
from gateway.versioning import sent_fields
from gateway.webhooks.store import Subscription

routes = Routes("tenant", tags=("webhooks",), scopes="webhooks")


def delivery(row: Any) -> dict[str, Any]:
    return {**row._mapping, "resource": {"type": row.resource_type, "id": row.resource_id}}


@routes.get("/api/webhooks", summary="List webhook subscriptions", query=Paging,
            response=Page[Webhook])
async def list_webhooks(request: web.Request, query: Paging) -> dict[str, Any]:
    found, total = await webhooks(request).store.list(principal(request).tenant_id, query.limit, query.offset)
    return page(found, total, query)


@routes.post("/api/webhooks", summary="Subscribe a URL to events (the answer shows the signing secret once)",
             role="admin", body=NewWebhook, response=WebhookWithSecret, status=201)
async def create_webhook(request: web.Request, body: NewWebhook) -> Subscription:
    caller = principal(request)
    return await webhooks(request).create(caller.tenant_id, caller.actor, body.model_dump())


@routes.get("/api/webhooks/{id}", summary="Get a webhook subscription", path=WebhookPath, response=Webhook)
async def get_webhook(request: web.Request, path: WebhookPath) -> Subscription:
    return await webhooks(request).store.get(principal(request).tenant_id, path.id)


@routes.patch("/api/webhooks/{id}", summary="Change a webhook subscription (enable it again, change its events)",
              role="admin", path=WebhookPath, body=WebhookPatch, response=Webhook, if_match=True)
async def update_webhook(request: web.Request, path: WebhookPath, body: WebhookPatch,
                         expected_version: int) -> Subscription:
    sent = sent_fields(body)
    changes = {k: v for k, v in body.model_dump().items() if k in sent}
    return await webhooks(request).update(principal(request).tenant_id, path.id, changes, expected_version)


@routes.delete("/api/webhooks/{id}", summary="Delete a webhook subscription and its delivery history",
               role="admin", path=WebhookPath, response=Webhook)
async def delete_webhook(request: web.Request, path: WebhookPath) -> Subscription:
    return await webhooks(request).store.delete(principal(request).tenant_id, path.id)


@routes.post("/api/webhooks/{id}/rotate-secret", summary="A new signing secret; the old one keeps signing for "
             "the overlap", role="admin", path=WebhookPath, body=RotateSecret, response=WebhookWithSecret)
async def rotate_webhook_secret(request: web.Request, path: WebhookPath, body: RotateSecret) -> Subscription:
    return await webhooks(request).rotate(principal(request).tenant_id, path.id, body.overlap_seconds)


@routes.post("/api/webhooks/{id}/ping", summary="Send a test event (webhook.ping) now and answer how it went",
             role="admin", path=WebhookPath, response=DeliveryDetail)
async def ping_webhook(request: web.Request, path: WebhookPath) -> dict[str, Any]:
    tenant = principal(request).tenant_id
    delivery_id = await webhooks(request).ping(tenant, path.id)
    return await _detail(request, tenant, path.id, delivery_id)


@routes.get("/api/webhooks/{id}/deliveries", summary="Deliveries of a webhook, newest first", path=WebhookPath,
            query=DeliveryQuery, response=Page[Delivery])
async def list_webhook_deliveries(request: web.Request, path: WebhookPath, query: DeliveryQuery) -> dict[str, Any]:
    tenant = principal(request).tenant_id
    store = webhooks(request).store
    await store.get(tenant, path.id)
    rows, total = await store.deliveries(tenant, path.id, query.status, query.limit, query.offset)
    return page([delivery(r) for r in rows], total, query)


@routes.get("/api/webhooks/{id}/deliveries/{delivery_id}", summary="One delivery with its payload and attempts",
            path=DeliveryPath, response=DeliveryDetail)
async def get_webhook_delivery(request: web.Request, path: DeliveryPath) -> dict[str, Any]:
    return await _detail(request, principal(request).tenant_id, path.id, path.delivery_id)


@routes.post("/api/webhooks/{id}/deliveries/{delivery_id}/replay", summary="Deliver the same event again (a new "
             "delivery, queued behind the resource's others)", role="admin", path=DeliveryPath, response=Delivery,
             status=202)
async def replay_webhook_delivery(request: web.Request, path: DeliveryPath) -> dict[str, Any]:
    tenant = principal(request).tenant_id
    delivery_id = await webhooks(request).replay(tenant, path.id, path.delivery_id)
    row, _ = await webhooks(request).store.delivery(tenant, path.id, delivery_id)
    return delivery(row)


async def _detail(request: web.Request, tenant_id: str, subscription_id: str, delivery_id: str) -> dict[str, Any]:
    row, tried = await webhooks(request).store.delivery(tenant_id, subscription_id, delivery_id)
    return {**delivery(row), "payload": orjson.loads(row.body), "history": tried}
