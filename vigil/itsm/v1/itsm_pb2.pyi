import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from vigil.common.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ChangeRequest(_message.Message):
    __slots__ = ("id", "tenant_id", "title", "type", "risk_level", "status", "requested_start", "requested_end", "implementation_plan", "rollback_plan", "requested_by", "ci_ids", "created_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    RISK_LEVEL_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_START_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_END_FIELD_NUMBER: _ClassVar[int]
    IMPLEMENTATION_PLAN_FIELD_NUMBER: _ClassVar[int]
    ROLLBACK_PLAN_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_BY_FIELD_NUMBER: _ClassVar[int]
    CI_IDS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    tenant_id: str
    title: str
    type: str
    risk_level: str
    status: str
    requested_start: _timestamp_pb2.Timestamp
    requested_end: _timestamp_pb2.Timestamp
    implementation_plan: str
    rollback_plan: str
    requested_by: str
    ci_ids: _containers.RepeatedScalarFieldContainer[str]
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., tenant_id: _Optional[str] = ..., title: _Optional[str] = ..., type: _Optional[str] = ..., risk_level: _Optional[str] = ..., status: _Optional[str] = ..., requested_start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., requested_end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., implementation_plan: _Optional[str] = ..., rollback_plan: _Optional[str] = ..., requested_by: _Optional[str] = ..., ci_ids: _Optional[_Iterable[str]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListChangesRequest(_message.Message):
    __slots__ = ("page", "status", "ci_ids", "to")
    PAGE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CI_IDS_FIELD_NUMBER: _ClassVar[int]
    FROM_FIELD_NUMBER: _ClassVar[int]
    TO_FIELD_NUMBER: _ClassVar[int]
    page: _common_pb2.PageRequest
    status: _containers.RepeatedScalarFieldContainer[str]
    ci_ids: _containers.RepeatedScalarFieldContainer[str]
    to: _timestamp_pb2.Timestamp
    def __init__(self, page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ..., status: _Optional[_Iterable[str]] = ..., ci_ids: _Optional[_Iterable[str]] = ..., to: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., **kwargs) -> None: ...

class ListChangesResponse(_message.Message):
    __slots__ = ("items", "page")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[ChangeRequest]
    page: _common_pb2.PageInfo
    def __init__(self, items: _Optional[_Iterable[_Union[ChangeRequest, _Mapping]]] = ..., page: _Optional[_Union[_common_pb2.PageInfo, _Mapping]] = ...) -> None: ...
