"""Typed configuration from VIGIL_* environment variables (pydantic-settings).

Every process builds one settings object at start and passes it down; nothing else reads os.environ.
Booleans are parsed by pydantic ("false", "0", "no" are False), required values fail fast at start.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

# One vocabulary across code, compose and chart: the services, their default gRPC ports and env names.
SERVICE_PORTS: dict[str, int] = {
    "incident": 50051,
    "itsm": 50052,
    "cmdb": 50053,
    "observability": 50054,
    "ai": 50055,
}
SERVICES: tuple[str, ...] = tuple(SERVICE_PORTS)


class CommonSettings(BaseSettings):
    """Settings every Vigil process reads."""

    model_config = SettingsConfigDict(env_prefix="VIGIL_", extra="ignore", frozen=True)

    data_dir: Path = Field(default=Path(".vigil"), description="Where embedded state lives (SQLite, chDB).")
    kafka_bootstrap: str = Field(default="127.0.0.1:9092", description="Kafka bootstrap servers.")
    log_level: str = "INFO"
    log_json: bool = True
    # OpenTelemetry: spans are exported when OTEL_EXPORTER_OTLP_ENDPOINT is set (standard OTel variables).
    self_telemetry: bool = False
    # On SIGTERM a process turns its readiness off, stops taking new requests and gives the ones in flight
    # this long to finish before it exits (keep it below Kubernetes' terminationGracePeriodSeconds).
    drain_seconds: float = Field(default=10.0, ge=0)


class ServiceSettings(CommonSettings):
    """Settings of one domain service process."""

    grpc_host: str = "0.0.0.0"
    # None: the service's default port (SERVICE_PORTS); 0: any free port (tests), reported at start.
    grpc_port: int | None = None
    # SQLAlchemy async URL. Empty: a SQLite file per service in data_dir. A PostgreSQL URL: the service keeps
    # its tables in its own schema (vigil_<service>) of that database.
    database_url: str = ""
    outbox_poll_seconds: float = 0.5
    # Addresses of the other services (host:port), for services that ask each other.
    incident_addr: str = f"127.0.0.1:{SERVICE_PORTS['incident']}"
    itsm_addr: str = f"127.0.0.1:{SERVICE_PORTS['itsm']}"
    cmdb_addr: str = f"127.0.0.1:{SERVICE_PORTS['cmdb']}"
    observability_addr: str = f"127.0.0.1:{SERVICE_PORTS['observability']}"
    ai_addr: str = f"127.0.0.1:{SERVICE_PORTS['ai']}"

    def database_url_for(self, service: str) -> str:
        if self.database_url:
            return self.database_url
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite+aiosqlite:///{(self.data_dir / f'{service}.db').resolve()}"

    def grpc_port_for(self, service: str) -> int:
        return SERVICE_PORTS[service] if self.grpc_port is None else self.grpc_port
