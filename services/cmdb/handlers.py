"""The gRPC servicer of the cmdb service."""

from vigil.cmdb.v1 import cmdb_pb2, cmdb_pb2_grpc

FULL_NAME = cmdb_pb2.DESCRIPTOR.services_by_name["CmdbService"].full_name


class CmdbHandlers(cmdb_pb2_grpc.CmdbServiceServicer):
    pass
