"""The alert doors' path to Kafka: authenticate the integration key with the incident service (on every
request, no cache: a rotated or deleted key stops working at once), parse the source's format (formats.py),
and produce the normalised alerts to the intake topic, answering only after the broker acknowledged every one
of them (acks=all, idempotent producer). The incident service decides on them asynchronously.

The whole request is validated before anything is produced, so a rejected batch writes nothing. If the broker
fails part-way, the request is answered 503 and the source re-sends it; alerts that got through before are then
seen twice, which the decisions absorb (a repeated firing is a `duplicate`, a repeated resolve changes nothing).
"""

from __future__ import annotations

import asyncio
import logging

from aiokafka import AIOKafkaProducer

from gateway.alerts.formats import Source
from gateway.clients import Upstreams, call
from vigil.incident.v1 import alerts_pb2
from vigil.runtime import topics
from vigil.runtime.cloudevents import CloudEvent
from vigil.runtime.errors import Unauthenticated, Unavailable
from vigil.runtime.outbox import current_traceparent

log = logging.getLogger("vigil.gateway.alerts")
DATASCHEMA = "type.googleapis.com/vigil.incident.v1.AlertMessage"


def partition_key(msg: alerts_pb2.AlertMessage) -> bytes:
    return f"{msg.tenant_id}/{msg.integration_id}/{msg.fingerprint}".encode()


class AlertIntake:
    def __init__(self, bootstrap: str, topic: str = topics.ALERT_INTAKE) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.producer: AIOKafkaProducer | None = None
        self._start_lock = asyncio.Lock()

    async def _producer(self) -> AIOKafkaProducer:
        if self.producer is not None:
            return self.producer
        async with self._start_lock:
            if self.producer is None:
                producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, client_id="vigil-gateway-alerts",
                                            enable_idempotence=True, linger_ms=2, request_timeout_ms=10_000,
                                            max_batch_size=512 * 1024)
                try:
                    await producer.start()
                except Exception as exc:  # noqa: BLE001
                    await producer.stop()
                    raise Unavailable("the alert pipeline is unavailable; retry later") from exc
                self.producer = producer
        return self.producer

    async def authenticate(self, upstreams: Upstreams, key: str, door: str | None = None) -> alerts_pb2.Integration:
        """The integration of a key. A key of another type than the door is refused like an unknown key."""
        if not key:
            raise Unauthenticated("missing integration key")
        resp = await call(upstreams.integrations.AuthenticateIntegration(
            alerts_pb2.AuthenticateIntegrationRequest(key=key)))
        integration = resp.integration
        if door is not None and integration.type != door:
            raise Unauthenticated(f"this key belongs to a {integration.type} integration; post to its door")
        return integration

    @staticmethod
    def source(integration: alerts_pb2.Integration) -> Source:
        return Source(tenant_id=integration.tenant_id, integration_id=integration.id,
                      integration_name=integration.name, type=integration.type,
                      fingerprint_fields=tuple(integration.settings.fingerprint_fields),
                      severity_label=integration.settings.severity_label or "severity")

    async def publish(self, messages: list[alerts_pb2.AlertMessage]) -> None:
        producer = await self._producer()
        futures = []
        traceparent = current_traceparent()
        try:
            for msg in messages:
                value = msg.SerializeToString()
                event = CloudEvent(type="alert.accepted", source="vigil/gateway", tenant_id=msg.tenant_id, data=value,
                                   dataschema=DATASCHEMA, id=msg.id, subject=msg.fingerprint[:200],
                                   traceparent=traceparent)
                futures.append(await producer.send(self.topic, value=value, key=partition_key(msg),
                                                   headers=event.headers()))
            await asyncio.gather(*futures)
        except Exception as exc:  # noqa: BLE001 - the broker did not take it all: the source must retry
            log.warning("alert publish failed: %s: %s", type(exc).__name__, exc)
            raise Unavailable("the alert pipeline is unavailable; retry later") from exc

    async def close(self) -> None:
        if self.producer is not None:
            await self.producer.stop()
