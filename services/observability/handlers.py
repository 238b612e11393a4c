"""The gRPC servicer of the observability service."""

from vigil.observability.v1 import observability_pb2, observability_pb2_grpc

FULL_NAME = observability_pb2.DESCRIPTOR.services_by_name["ObservabilityService"].full_name


class ObservabilityHandlers(observability_pb2_grpc.ObservabilityServiceServicer):
    pass
