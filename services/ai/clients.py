"""The ai service's outbound gRPC: stubs of the incident, CMDB, ITSM and observability services. Every call carries
the bound caller context (tenant, actor, role) through the shared client interceptor, so the other services
apply their own tenancy and role rules to what the AI asks; failures come back as domain errors."""

from __future__ import annotations

from vigil.cmdb.v1 import cmdb_pb2_grpc
from vigil.incident.v1 import incident_pb2_grpc
from vigil.itsm.v1 import itsm_pb2_grpc
from vigil.observability.v1 import observability_pb2_grpc
from vigil.runtime import grpcio
from vigil.runtime.config import ServiceSettings


class Clients:
    def __init__(self, settings: ServiceSettings) -> None:
        self.channels = {
            "incident": grpcio.channel(settings.incident_addr),
            "itsm": grpcio.channel(settings.itsm_addr),
            "cmdb": grpcio.channel(settings.cmdb_addr),
            "observability": grpcio.channel(settings.observability_addr),
        }
        self.incident = incident_pb2_grpc.IncidentServiceStub(self.channels["incident"])
        self.itsm = itsm_pb2_grpc.ItsmServiceStub(self.channels["itsm"])
        self.cmdb = cmdb_pb2_grpc.CmdbServiceStub(self.channels["cmdb"])
        self.observability = observability_pb2_grpc.ObservabilityServiceStub(self.channels["observability"])

    async def close(self) -> None:
        for ch in self.channels.values():
            await ch.close()
