"""Wiring of the observability service process: settings, store, domain, handlers, runtime. Nothing else."""

from __future__ import annotations

from pathlib import Path

from services.observability.comparison import WindowComparison
from services.observability.comparison_store import ComparisonQueries
from services.observability.config import ObservabilitySettings
from services.observability.events import TelemetryConsumer
from services.observability.handlers import FULL_NAME, ObservabilityHandlers
from services.observability.service import ObservabilityService
from services.observability.store import ClickHouse, TelemetryStore, metadata, migrate
from vigil.observability.v1 import observability_pb2_grpc
from vigil.runtime import bus, failpoints
from vigil.runtime.service import ServiceRuntime, serve

NAME = "observability"
MIGRATIONS = Path(__file__).with_name("migrations")
SETTINGS = ObservabilitySettings


async def migrate_clickhouse(settings: ObservabilitySettings) -> list[int]:
    """The ClickHouse migrations alone (for `vigil migrate observability` and the Helm pre-upgrade Job)."""
    ch = ClickHouse(settings.clickhouse_dsn(), 1)
    try:
        return await migrate(ch)
    finally:
        await ch.close()


async def build(settings: ObservabilitySettings) -> ServiceRuntime:
    runtime = ServiceRuntime(NAME, settings, metadata, MIGRATIONS)
    ch = ClickHouse(settings.clickhouse_dsn(), settings.clickhouse_pool_size)
    await migrate(ch)
    consumer = TelemetryConsumer(
        ch, bootstrap=settings.kafka_bootstrap, group_id=settings.telemetry_consumer_group,
        max_rows=settings.telemetry_batch_rows, max_bytes=settings.telemetry_batch_bytes,
        max_seconds=settings.telemetry_batch_seconds,
        producer_factory=lambda: bus.producer(settings.kafka_bootstrap, client_id="vigil-observability-dlq"))
    consumer.after_insert = failpoints.hook("observability.after_insert")
    runtime.consumers.append(consumer)  # started and stopped with the runtime, like every consumer
    runtime.grpc.add(observability_pb2_grpc.add_ObservabilityServiceServicer_to_server,
                     ObservabilityHandlers(ObservabilityService(TelemetryStore(ch)),
                                           WindowComparison(ComparisonQueries(ch))), FULL_NAME)
    return runtime


def main() -> None:
    serve(NAME, SETTINGS(), build)
