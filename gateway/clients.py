"""gRPC stubs of the domain services, one channel each. Calls carry the caller's context (tenant, actor,
role), the trace context and a deadline (`grpcio.Channel`); failures come back as the
domain errors the services raised."""

from __future__ import annotations

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from vigil.ai.v1 import ai_pb2_grpc
from vigil.cmdb.v1 import cmdb_pb2_grpc
from vigil.incident.v1 import alerts_pb2_grpc, incident_pb2_grpc
from vigil.itsm.v1 import itsm_pb2_grpc
from vigil.observability.v1 import observability_pb2_grpc
from vigil.runtime import grpcio
from vigil.runtime.grpcio import call  # noqa: F401 - route modules await stubs through it


class Upstreams:
    def __init__(self, addresses: dict[str, str], deadline: float = grpcio.DEFAULT_DEADLINE_SECONDS) -> None:
        self.addresses = addresses
        # `deadline`: of a call that passes no `timeout=` (VIGIL_UPSTREAM_TIMEOUT_SECONDS); the AI and import
        # routes pass longer ones.
        self.channels = {name: grpcio.channel(addr, deadline=deadline) for name, addr in addresses.items()}
        self.incident = incident_pb2_grpc.IncidentServiceStub(self.channels["incident"])
        self.integrations = alerts_pb2_grpc.IntegrationServiceStub(self.channels["incident"])
        self.alerts = alerts_pb2_grpc.AlertServiceStub(self.channels["incident"])
        self.maintenance = alerts_pb2_grpc.MaintenanceServiceStub(self.channels["incident"])
        self.itsm = itsm_pb2_grpc.ItsmServiceStub(self.channels["itsm"])
        self.cmdb = cmdb_pb2_grpc.CmdbServiceStub(self.channels["cmdb"])
        self.observability = observability_pb2_grpc.ObservabilityServiceStub(self.channels["observability"])
        self.ai = ai_pb2_grpc.AiServiceStub(self.channels["ai"])

    async def serving(self, name: str, timeout: float = 0.5) -> bool:
        """Whether the service answers SERVING on its standard health service, over the routes' own channel."""
        try:
            resp = await health_pb2_grpc.HealthStub(self.channels[name]).Check(health_pb2.HealthCheckRequest(),
                                                                               timeout=timeout)
        except grpc.aio.AioRpcError:
            return False
        return resp.status == health_pb2.HealthCheckResponse.SERVING

    async def close(self) -> None:
        for ch in self.channels.values():
            await ch.close()
