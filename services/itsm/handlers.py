"""The gRPC servicer of the itsm service."""

from vigil.itsm.v1 import itsm_pb2, itsm_pb2_grpc

FULL_NAME = itsm_pb2.DESCRIPTOR.services_by_name["ItsmService"].full_name


class ItsmHandlers(itsm_pb2_grpc.ItsmServiceServicer):
    pass
