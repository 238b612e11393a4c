"""Wiring of the ai service process: settings, store, domain, handlers, runtime. Nothing else."""

from __future__ import annotations

from pathlib import Path

from services.ai.config import AiSettings
from services.ai.handlers import FULL_NAME, AiHandlers
from services.ai.store import metadata
from vigil.ai.v1 import ai_pb2_grpc
from vigil.runtime.service import ServiceRuntime, serve

NAME = "ai"
MIGRATIONS = Path(__file__).with_name("migrations")
SETTINGS = AiSettings


async def build(settings: AiSettings) -> ServiceRuntime:
    runtime = ServiceRuntime(NAME, settings, metadata, MIGRATIONS)
    runtime.grpc.add(ai_pb2_grpc.add_AiServiceServicer_to_server, AiHandlers(), FULL_NAME)
    return runtime


def main() -> None:
    serve(NAME, SETTINGS(), build)
