"""CloudEvents 1.0 in Kafka binary content mode.

The event attributes travel as Kafka headers (`ce_specversion`, `ce_id`, `ce_type`, `ce_source`, `ce_time`,
`ce_tenantid` for the tenant extension, `ce_traceparent` for the distributed-tracing extension) and the body
is the data itself: a serialized protobuf message (`content-type: application/protobuf`, `ce_dataschema`
naming the message type). See the CloudEvents Kafka protocol binding, section 3.2.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

SPEC_VERSION = "1.0"
PROTOBUF = "application/protobuf"


@dataclass(frozen=True, slots=True)
class CloudEvent:
    type: str
    source: str
    tenant_id: str
    data: bytes
    dataschema: str = ""
    subject: str = ""
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    time: datetime = field(default_factory=lambda: datetime.now(UTC))
    content_type: str = PROTOBUF
    traceparent: str = ""
    tracestate: str = ""

    def headers(self) -> list[tuple[str, bytes]]:
        pairs = [
            ("ce_specversion", SPEC_VERSION),
            ("ce_id", self.id),
            ("ce_type", self.type),
            ("ce_source", self.source),
            ("ce_time", self.time.astimezone(UTC).isoformat().replace("+00:00", "Z")),
            ("ce_tenantid", self.tenant_id),
            ("content-type", self.content_type),
        ]
        for key, value in (
            ("ce_dataschema", self.dataschema),
            ("ce_subject", self.subject),
            ("ce_traceparent", self.traceparent),
            ("ce_tracestate", self.tracestate),
        ):
            if value:
                pairs.append((key, value))
        return [(k, v.encode()) for k, v in pairs]

    @classmethod
    def from_kafka(cls, headers: list[tuple[str, bytes]] | tuple, value: bytes | None) -> CloudEvent:
        h = {k: v.decode() for k, v in headers or ()}
        missing = [k for k in ("ce_id", "ce_type", "ce_source", "ce_specversion") if k not in h]
        if missing:
            raise ValueError(f"not a binary-mode CloudEvent: missing {', '.join(missing)}")
        return cls(
            id=h["ce_id"],
            type=h["ce_type"],
            source=h["ce_source"],
            tenant_id=h.get("ce_tenantid", ""),
            data=value or b"",
            dataschema=h.get("ce_dataschema", ""),
            subject=h.get("ce_subject", ""),
            time=datetime.fromisoformat(h["ce_time"].replace("Z", "+00:00")) if "ce_time" in h else datetime.now(UTC),
            content_type=h.get("content-type", PROTOBUF),
            traceparent=h.get("ce_traceparent", ""),
            tracestate=h.get("ce_tracestate", ""),
        )

    def trace_carrier(self) -> dict[str, str]:
        carrier = {"traceparent": self.traceparent} if self.traceparent else {}
        if self.tracestate:
            carrier["tracestate"] = self.tracestate
        return carrier
