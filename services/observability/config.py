"""Typed settings of the observability service (VIGIL_* variables; see docs/observability.md)."""

from pydantic import Field

from vigil.runtime.config import ServiceSettings


class ObservabilitySettings(ServiceSettings):
    # clickhouse-connect DSN. Empty: the embedded chDB engine at chdb:///<data_dir>/clickhouse (only this process
    # may open it); a cluster sets http(s)://user:password@host:8123/database.
    clickhouse_url: str = ""
    clickhouse_pool_size: int = Field(default=4, ge=1, le=64)
    # The Kafka -> ClickHouse batcher: a batch is inserted when it reaches this many rows or bytes, or this age.
    telemetry_batch_rows: int = Field(default=200_000, ge=1)
    telemetry_batch_bytes: int = Field(default=64 * 1024 * 1024, ge=1024)
    telemetry_batch_seconds: float = Field(default=1.0, gt=0)
    # Consumer group of the telemetry topics (the gateway's backpressure reads this group's lag).
    telemetry_consumer_group: str = "vigil-observability.telemetry"

    def clickhouse_dsn(self) -> str:
        if self.clickhouse_url:
            return self.clickhouse_url
        return f"chdb://{(self.data_dir / 'clickhouse').resolve()}"
