import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RunRcaRequest(_message.Message):
    __slots__ = ("incident_id",)
    INCIDENT_ID_FIELD_NUMBER: _ClassVar[int]
    incident_id: str
    def __init__(self, incident_id: _Optional[str] = ...) -> None: ...

class RcaCause(_message.Message):
    __slots__ = ("summary", "score", "evidence_ids")
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_IDS_FIELD_NUMBER: _ClassVar[int]
    summary: str
    score: float
    evidence_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, summary: _Optional[str] = ..., score: _Optional[float] = ..., evidence_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class RcaResult(_message.Message):
    __slots__ = ("id", "incident_id", "mode", "summary", "causes", "created_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    INCIDENT_ID_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    CAUSES_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    incident_id: str
    mode: str
    summary: str
    causes: _containers.RepeatedCompositeFieldContainer[RcaCause]
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., incident_id: _Optional[str] = ..., mode: _Optional[str] = ..., summary: _Optional[str] = ..., causes: _Optional[_Iterable[_Union[RcaCause, _Mapping]]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RunRcaResponse(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: RcaResult
    def __init__(self, result: _Optional[_Union[RcaResult, _Mapping]] = ...) -> None: ...
