"""Typed settings of the gateway (VIGIL_* variables; see README)."""

from __future__ import annotations

import ipaddress

from pydantic import Field, SecretStr, field_validator

from gateway.limits import Quotas, RateClassLimits
from vigil.runtime.config import SERVICE_PORTS, CommonSettings


class GatewaySettings(CommonSettings):
    host: str = "0.0.0.0"
    tenant_port: int = 8080
    control_port: int = 8081
    # HS256 key for the JWTs both planes issue. Empty: a random key is generated once and kept in data_dir
    # (fine for one machine; a cluster sets it from a Secret so every replica verifies the same tokens).
    jwt_secret: SecretStr = SecretStr("")
    jwt_issuer: str = "vigil"
    access_token_ttl_seconds: int = 900
    refresh_token_ttl_seconds: int = 7 * 24 * 3600
    operator_email: str = "operator@vigil.local"
    operator_password: SecretStr = SecretStr("")
    # The gateway's own store (tenants, users, refresh tokens). Empty: SQLite file in data_dir.
    database_url: str = ""
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    # How long a tenant's status (active/suspended) is cached; suspension through this gateway is immediate.
    tenant_cache_seconds: float = 5.0
    # The deadline of a gateway call to a service that sets none of its own (the AI routes and imports do).
    upstream_timeout_seconds: float = Field(default=10.0, gt=0)
    incident_addr: str = f"127.0.0.1:{SERVICE_PORTS['incident']}"
    itsm_addr: str = f"127.0.0.1:{SERVICE_PORTS['itsm']}"
    cmdb_addr: str = f"127.0.0.1:{SERVICE_PORTS['cmdb']}"
    observability_addr: str = f"127.0.0.1:{SERVICE_PORTS['observability']}"
    ai_addr: str = f"127.0.0.1:{SERVICE_PORTS['ai']}"

    # Telemetry ingest: the observability consumer group whose lag is watched, the lag (in Kafka messages of up to
    # 512 KiB of rows) beyond which ingest answers 429, and the retention in days per tenant plan (JSON object).
    telemetry_consumer_group: str = "vigil-observability.telemetry"
    telemetry_max_lag_batches: int = Field(default=20_000, ge=1)
    telemetry_retention_days: dict[str, int] = Field(default_factory=lambda: {"free": 7, "pro": 30, "enterprise": 90})

    # Rate limits (requests per minute per tenant and class) and plan quotas, per plan: JSON objects merged over
    # the defaults in gateway/limits.py, e.g. {"free": {"write": 120}}. The operator overrides them per tenant.
    rate_limits: dict[str, RateClassLimits] = Field(default_factory=dict)
    plan_quotas: dict[str, Quotas] = Field(default_factory=dict)
    # How long a replica trusts what it read of an API key (a revocation through another replica takes at most
    # this long to reach it; through this one it is immediate).
    api_key_cache_seconds: float = Field(default=5.0, ge=0, le=300)
    # How long the month's incident count asked of the incident service is trusted (incidents created elsewhere,
    # by alerts or other replicas, are seen at most this late by the incidents-per-month quota).
    quota_cache_seconds: float = Field(default=10.0, ge=0, le=3600)
    # How often what is counted in memory (API keys' last use, consumed quota) is written to the database.
    usage_flush_seconds: float = Field(default=2.0, gt=0, le=300)
    # Proxies (CIDRs) whose X-Forwarded-For is believed: the client address (IP allowlists, the audit log) is
    # the nearest address in X-Forwarded-For that is not one of them. Empty: the peer's address.
    trusted_proxies: list[str] = Field(default_factory=list)
    audit_retention_days: int = Field(default=365, ge=1)
    # Webhooks: a POST times out after this; targets in private/loopback/link-local/reserved ranges are refused
    # unless in these networks (CIDRs, a JSON list: ["10.0.0.0/8"]); attempts in flight per replica and per
    # subscription; a subscription is disabled after this many deliveries in a row failed for good; how often
    # a replica looks for due deliveries made by others; the consumer group the replicas share.
    webhook_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    webhook_allowed_networks: list[str] = Field(default_factory=list)
    webhook_concurrency: int = Field(default=32, ge=1)
    webhook_concurrency_per_subscription: int = Field(default=4, ge=1)
    webhook_disable_after_failures: int = Field(default=5, ge=1)
    webhook_poll_seconds: float = Field(default=1.0, gt=0)
    webhook_consumer_group: str = "vigil-gateway.webhooks"
    # The live event stream (SSE): events kept per tenant for Last-Event-ID resume, events queued per client
    # before a client too slow to take them is dropped, and the heartbeat interval.
    event_stream_history: int = Field(default=1000, ge=1)
    event_stream_client_queue: int = Field(default=256, ge=1)
    event_stream_heartbeat_seconds: float = Field(default=15.0, gt=0)

    @field_validator("webhook_allowed_networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for cidr in value:
            ipaddress.ip_network(cidr, strict=False)  # a ValueError names the bad one
        return value

    def database_url_for_gateway(self) -> str:
        if self.database_url:
            return self.database_url
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite+aiosqlite:///{(self.data_dir / 'gateway.db').resolve()}"

    def upstreams(self) -> dict[str, str]:
        return {name: getattr(self, f"{name}_addr") for name in SERVICE_PORTS}
