"""The gRPC servicer of the ai service."""

from vigil.ai.v1 import ai_pb2, ai_pb2_grpc

FULL_NAME = ai_pb2.DESCRIPTOR.services_by_name["AiService"].full_name


class AiHandlers(ai_pb2_grpc.AiServiceServicer):
    pass
