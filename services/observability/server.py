"""Wiring of the observability service process: settings, store, domain, handlers, runtime. Nothing else."""

from __future__ import annotations

from pathlib import Path

from services.observability.config import ObservabilitySettings
from services.observability.handlers import FULL_NAME, ObservabilityHandlers
from services.observability.store import metadata
from vigil.observability.v1 import observability_pb2_grpc
from vigil.runtime.service import ServiceRuntime, serve

NAME = "observability"
MIGRATIONS = Path(__file__).with_name("migrations")
SETTINGS = ObservabilitySettings


async def build(settings: ObservabilitySettings) -> ServiceRuntime:
    runtime = ServiceRuntime(NAME, settings, metadata, MIGRATIONS)
    runtime.grpc.add(observability_pb2_grpc.add_ObservabilityServiceServicer_to_server, ObservabilityHandlers(), FULL_NAME)
    return runtime


def main() -> None:
    serve(NAME, SETTINGS(), build)
