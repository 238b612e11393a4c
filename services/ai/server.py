"""Wiring of the ai service process: settings, stores, clients, domain, handlers, consumers, workers. Nothing
else."""

from __future__ import annotations

from pathlib import Path

from services.ai.clients import Clients
from services.ai.config import AiSettings
from services.ai.copilot.service import Copilot
from services.ai.copilot.tools import Tools
from services.ai.events import AiEvents, IncidentCreated
from services.ai.handlers import FULL_NAME, AiHandlers
from services.ai.llm import Llm
from services.ai.rca.gather import Gatherer
from services.ai.rca.narrative import Narrator
from services.ai.rca.service import RcaService
from services.ai.rca.store import RcaStore
from services.ai.runbooks.actions import AddressPolicy, HttpCaller, VigilActions
from services.ai.runbooks.engine import Engine
from services.ai.runbooks.service import RunbookService
from services.ai.runbooks.store import RunbookStore
from services.ai.store import SettingsStore, metadata
from vigil.ai.v1 import ai_pb2_grpc
from vigil.runtime import topics
from vigil.runtime.service import ServiceRuntime, serve

NAME = "ai"
MIGRATIONS = Path(__file__).with_name("migrations")
SETTINGS = AiSettings


async def build(settings: AiSettings) -> ServiceRuntime:
    runtime = ServiceRuntime(NAME, settings, metadata, MIGRATIONS)
    clients = Clients(settings)
    llm = Llm(settings) if settings.llm_configured else None
    events = AiEvents(runtime.outbox)
    tenant_settings = SettingsStore(runtime.db)
    rca = RcaService(Gatherer(clients, settings.rca_lookback_minutes, settings.rca_baseline_hours),
                     RcaStore(runtime.db, runtime.outbox), events, tenant_settings,
                     Narrator(llm) if llm else None, settings.rca_llm_wait_seconds)
    engine = Engine(RunbookStore(runtime.db, runtime.outbox), events,
                    HttpCaller(AddressPolicy(settings.runbook_http_allow_private, settings.runbook_http_allowed_hosts)),
                    VigilActions(clients))
    runbooks = RunbookService(engine.store, engine, events, clients, tenant_settings, rca.store, llm)
    copilot = Copilot(Tools(clients, rca.store), tenant_settings, llm, settings.copilot_max_steps)
    runtime.consumer(topics=[topics.INCIDENT_EVENTS], group="auto-rca", handler=IncidentCreated(rca),
                     types=IncidentCreated.TYPES)
    runtime.grpc.add(ai_pb2_grpc.add_AiServiceServicer_to_server, AiHandlers(rca, tenant_settings, runbooks, copilot),
                     FULL_NAME)

    runtime.worker("auto-rca", rca.work)
    runtime.worker("narratives", rca.resume_narratives)
    runtime.worker("runbook-runs", engine.work)
    runtime.on_stop(engine.close)
    runtime.on_stop(rca.close)
    runtime.on_stop(clients.close)
    if llm is not None:
        runtime.on_stop(llm.close)
    return runtime


def main() -> None:
    serve(NAME, SETTINGS(), build)
