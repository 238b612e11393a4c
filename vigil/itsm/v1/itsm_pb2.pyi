import datetime

from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from vigil.common.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Approval(_message.Message):
    __slots__ = ("approver", "role", "decision", "comment", "at")
    APPROVER_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    approver: str
    role: str
    decision: str
    comment: str
    at: _timestamp_pb2.Timestamp
    def __init__(self, approver: _Optional[str] = ..., role: _Optional[str] = ..., decision: _Optional[str] = ..., comment: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Conflict(_message.Message):
    __slots__ = ("kind", "ci_id", "change_id", "change_reference", "blackout_id", "related_ci_id", "path", "message")
    KIND_FIELD_NUMBER: _ClassVar[int]
    CI_ID_FIELD_NUMBER: _ClassVar[int]
    CHANGE_ID_FIELD_NUMBER: _ClassVar[int]
    CHANGE_REFERENCE_FIELD_NUMBER: _ClassVar[int]
    BLACKOUT_ID_FIELD_NUMBER: _ClassVar[int]
    RELATED_CI_ID_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    kind: str
    ci_id: str
    change_id: str
    change_reference: str
    blackout_id: str
    related_ci_id: str
    path: _containers.RepeatedScalarFieldContainer[str]
    message: str
    def __init__(self, kind: _Optional[str] = ..., ci_id: _Optional[str] = ..., change_id: _Optional[str] = ..., change_reference: _Optional[str] = ..., blackout_id: _Optional[str] = ..., related_ci_id: _Optional[str] = ..., path: _Optional[_Iterable[str]] = ..., message: _Optional[str] = ...) -> None: ...

class Change(_message.Message):
    __slots__ = ("id", "reference", "tenant_id", "title", "description", "type", "risk_level", "status", "requested_start", "requested_end", "implementation_plan", "rollback_plan", "requested_by", "ci_ids", "created_by", "created_at", "updated_at", "status_times", "version", "approval_status", "required_approvals", "approvals", "conflicts", "conflict_check", "conflict_check_note", "skipped_stages", "outcome", "close_notes")
    class StatusTimesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _timestamp_pb2.Timestamp
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    RISK_LEVEL_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_START_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_END_FIELD_NUMBER: _ClassVar[int]
    IMPLEMENTATION_PLAN_FIELD_NUMBER: _ClassVar[int]
    ROLLBACK_PLAN_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_BY_FIELD_NUMBER: _ClassVar[int]
    CI_IDS_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    STATUS_TIMES_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    APPROVAL_STATUS_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_APPROVALS_FIELD_NUMBER: _ClassVar[int]
    APPROVALS_FIELD_NUMBER: _ClassVar[int]
    CONFLICTS_FIELD_NUMBER: _ClassVar[int]
    CONFLICT_CHECK_FIELD_NUMBER: _ClassVar[int]
    CONFLICT_CHECK_NOTE_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_STAGES_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    CLOSE_NOTES_FIELD_NUMBER: _ClassVar[int]
    id: str
    reference: str
    tenant_id: str
    title: str
    description: str
    type: str
    risk_level: str
    status: str
    requested_start: _timestamp_pb2.Timestamp
    requested_end: _timestamp_pb2.Timestamp
    implementation_plan: str
    rollback_plan: str
    requested_by: str
    ci_ids: _containers.RepeatedScalarFieldContainer[str]
    created_by: str
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    status_times: _containers.MessageMap[str, _timestamp_pb2.Timestamp]
    version: int
    approval_status: str
    required_approvals: int
    approvals: _containers.RepeatedCompositeFieldContainer[Approval]
    conflicts: _containers.RepeatedCompositeFieldContainer[Conflict]
    conflict_check: str
    conflict_check_note: str
    skipped_stages: _containers.RepeatedScalarFieldContainer[str]
    outcome: str
    close_notes: str
    def __init__(self, id: _Optional[str] = ..., reference: _Optional[str] = ..., tenant_id: _Optional[str] = ..., title: _Optional[str] = ..., description: _Optional[str] = ..., type: _Optional[str] = ..., risk_level: _Optional[str] = ..., status: _Optional[str] = ..., requested_start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., requested_end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., implementation_plan: _Optional[str] = ..., rollback_plan: _Optional[str] = ..., requested_by: _Optional[str] = ..., ci_ids: _Optional[_Iterable[str]] = ..., created_by: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., status_times: _Optional[_Mapping[str, _timestamp_pb2.Timestamp]] = ..., version: _Optional[int] = ..., approval_status: _Optional[str] = ..., required_approvals: _Optional[int] = ..., approvals: _Optional[_Iterable[_Union[Approval, _Mapping]]] = ..., conflicts: _Optional[_Iterable[_Union[Conflict, _Mapping]]] = ..., conflict_check: _Optional[str] = ..., conflict_check_note: _Optional[str] = ..., skipped_stages: _Optional[_Iterable[str]] = ..., outcome: _Optional[str] = ..., close_notes: _Optional[str] = ...) -> None: ...

class CreateChangeRequest(_message.Message):
    __slots__ = ("title", "description", "type", "risk_level", "requested_start", "requested_end", "implementation_plan", "rollback_plan", "requested_by", "ci_ids")
    TITLE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    RISK_LEVEL_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_START_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_END_FIELD_NUMBER: _ClassVar[int]
    IMPLEMENTATION_PLAN_FIELD_NUMBER: _ClassVar[int]
    ROLLBACK_PLAN_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_BY_FIELD_NUMBER: _ClassVar[int]
    CI_IDS_FIELD_NUMBER: _ClassVar[int]
    title: str
    description: str
    type: str
    risk_level: str
    requested_start: _timestamp_pb2.Timestamp
    requested_end: _timestamp_pb2.Timestamp
    implementation_plan: str
    rollback_plan: str
    requested_by: str
    ci_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, title: _Optional[str] = ..., description: _Optional[str] = ..., type: _Optional[str] = ..., risk_level: _Optional[str] = ..., requested_start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., requested_end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., implementation_plan: _Optional[str] = ..., rollback_plan: _Optional[str] = ..., requested_by: _Optional[str] = ..., ci_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class CreateChangeResponse(_message.Message):
    __slots__ = ("change",)
    CHANGE_FIELD_NUMBER: _ClassVar[int]
    change: Change
    def __init__(self, change: _Optional[_Union[Change, _Mapping]] = ...) -> None: ...

class GetChangeRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class GetChangeResponse(_message.Message):
    __slots__ = ("change",)
    CHANGE_FIELD_NUMBER: _ClassVar[int]
    change: Change
    def __init__(self, change: _Optional[_Union[Change, _Mapping]] = ...) -> None: ...

class ListChangesRequest(_message.Message):
    __slots__ = ("page", "status", "ci_ids", "to", "type", "q", "conflicting_only", "filters")
    PAGE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CI_IDS_FIELD_NUMBER: _ClassVar[int]
    FROM_FIELD_NUMBER: _ClassVar[int]
    TO_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    Q_FIELD_NUMBER: _ClassVar[int]
    CONFLICTING_ONLY_FIELD_NUMBER: _ClassVar[int]
    FILTERS_FIELD_NUMBER: _ClassVar[int]
    page: _common_pb2.PageRequest
    status: _containers.RepeatedScalarFieldContainer[str]
    ci_ids: _containers.RepeatedScalarFieldContainer[str]
    to: _timestamp_pb2.Timestamp
    type: _containers.RepeatedScalarFieldContainer[str]
    q: str
    conflicting_only: bool
    filters: _containers.RepeatedCompositeFieldContainer[_common_pb2.Filter]
    def __init__(self, page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ..., status: _Optional[_Iterable[str]] = ..., ci_ids: _Optional[_Iterable[str]] = ..., to: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., type: _Optional[_Iterable[str]] = ..., q: _Optional[str] = ..., conflicting_only: _Optional[bool] = ..., filters: _Optional[_Iterable[_Union[_common_pb2.Filter, _Mapping]]] = ..., **kwargs) -> None: ...

class ListChangesResponse(_message.Message):
    __slots__ = ("items", "page")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[Change]
    page: _common_pb2.PageInfo
    def __init__(self, items: _Optional[_Iterable[_Union[Change, _Mapping]]] = ..., page: _Optional[_Union[_common_pb2.PageInfo, _Mapping]] = ...) -> None: ...

class UpdateChangeRequest(_message.Message):
    __slots__ = ("id", "update_mask", "expected_version", "title", "description", "risk_level", "requested_start", "requested_end", "implementation_plan", "rollback_plan", "ci_ids", "status", "outcome", "close_notes")
    ID_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    RISK_LEVEL_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_START_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_END_FIELD_NUMBER: _ClassVar[int]
    IMPLEMENTATION_PLAN_FIELD_NUMBER: _ClassVar[int]
    ROLLBACK_PLAN_FIELD_NUMBER: _ClassVar[int]
    CI_IDS_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    CLOSE_NOTES_FIELD_NUMBER: _ClassVar[int]
    id: str
    update_mask: _containers.RepeatedScalarFieldContainer[str]
    expected_version: int
    title: str
    description: str
    risk_level: str
    requested_start: _timestamp_pb2.Timestamp
    requested_end: _timestamp_pb2.Timestamp
    implementation_plan: str
    rollback_plan: str
    ci_ids: _containers.RepeatedScalarFieldContainer[str]
    status: str
    outcome: str
    close_notes: str
    def __init__(self, id: _Optional[str] = ..., update_mask: _Optional[_Iterable[str]] = ..., expected_version: _Optional[int] = ..., title: _Optional[str] = ..., description: _Optional[str] = ..., risk_level: _Optional[str] = ..., requested_start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., requested_end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., implementation_plan: _Optional[str] = ..., rollback_plan: _Optional[str] = ..., ci_ids: _Optional[_Iterable[str]] = ..., status: _Optional[str] = ..., outcome: _Optional[str] = ..., close_notes: _Optional[str] = ...) -> None: ...

class UpdateChangeResponse(_message.Message):
    __slots__ = ("change",)
    CHANGE_FIELD_NUMBER: _ClassVar[int]
    change: Change
    def __init__(self, change: _Optional[_Union[Change, _Mapping]] = ...) -> None: ...

class DecideChangeRequest(_message.Message):
    __slots__ = ("id", "decision", "comment")
    ID_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    id: str
    decision: str
    comment: str
    def __init__(self, id: _Optional[str] = ..., decision: _Optional[str] = ..., comment: _Optional[str] = ...) -> None: ...

class DecideChangeResponse(_message.Message):
    __slots__ = ("change",)
    CHANGE_FIELD_NUMBER: _ClassVar[int]
    change: Change
    def __init__(self, change: _Optional[_Union[Change, _Mapping]] = ...) -> None: ...

class CheckChangeConflictsRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class CheckChangeConflictsResponse(_message.Message):
    __slots__ = ("change",)
    CHANGE_FIELD_NUMBER: _ClassVar[int]
    change: Change
    def __init__(self, change: _Optional[_Union[Change, _Mapping]] = ...) -> None: ...

class CatalogItem(_message.Message):
    __slots__ = ("id", "tenant_id", "name", "description", "category", "requires_approval", "active", "fulfillment_group", "version", "created_at", "updated_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    REQUIRES_APPROVAL_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_FIELD_NUMBER: _ClassVar[int]
    FULFILLMENT_GROUP_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    tenant_id: str
    name: str
    description: str
    category: str
    requires_approval: bool
    active: bool
    fulfillment_group: str
    version: int
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., tenant_id: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., category: _Optional[str] = ..., requires_approval: _Optional[bool] = ..., active: _Optional[bool] = ..., fulfillment_group: _Optional[str] = ..., version: _Optional[int] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateCatalogItemRequest(_message.Message):
    __slots__ = ("name", "description", "category", "requires_approval", "fulfillment_group")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    REQUIRES_APPROVAL_FIELD_NUMBER: _ClassVar[int]
    FULFILLMENT_GROUP_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    category: str
    requires_approval: bool
    fulfillment_group: str
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., category: _Optional[str] = ..., requires_approval: _Optional[bool] = ..., fulfillment_group: _Optional[str] = ...) -> None: ...

class CreateCatalogItemResponse(_message.Message):
    __slots__ = ("item",)
    ITEM_FIELD_NUMBER: _ClassVar[int]
    item: CatalogItem
    def __init__(self, item: _Optional[_Union[CatalogItem, _Mapping]] = ...) -> None: ...

class GetCatalogItemRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class GetCatalogItemResponse(_message.Message):
    __slots__ = ("item",)
    ITEM_FIELD_NUMBER: _ClassVar[int]
    item: CatalogItem
    def __init__(self, item: _Optional[_Union[CatalogItem, _Mapping]] = ...) -> None: ...

class ListCatalogItemsRequest(_message.Message):
    __slots__ = ("page", "category", "q", "include_retired")
    PAGE_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    Q_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_RETIRED_FIELD_NUMBER: _ClassVar[int]
    page: _common_pb2.PageRequest
    category: str
    q: str
    include_retired: bool
    def __init__(self, page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ..., category: _Optional[str] = ..., q: _Optional[str] = ..., include_retired: _Optional[bool] = ...) -> None: ...

class ListCatalogItemsResponse(_message.Message):
    __slots__ = ("items", "page")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[CatalogItem]
    page: _common_pb2.PageInfo
    def __init__(self, items: _Optional[_Iterable[_Union[CatalogItem, _Mapping]]] = ..., page: _Optional[_Union[_common_pb2.PageInfo, _Mapping]] = ...) -> None: ...

class UpdateCatalogItemRequest(_message.Message):
    __slots__ = ("id", "update_mask", "name", "description", "category", "requires_approval", "fulfillment_group", "active")
    ID_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    REQUIRES_APPROVAL_FIELD_NUMBER: _ClassVar[int]
    FULFILLMENT_GROUP_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_FIELD_NUMBER: _ClassVar[int]
    id: str
    update_mask: _containers.RepeatedScalarFieldContainer[str]
    name: str
    description: str
    category: str
    requires_approval: bool
    fulfillment_group: str
    active: bool
    def __init__(self, id: _Optional[str] = ..., update_mask: _Optional[_Iterable[str]] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., category: _Optional[str] = ..., requires_approval: _Optional[bool] = ..., fulfillment_group: _Optional[str] = ..., active: _Optional[bool] = ...) -> None: ...

class UpdateCatalogItemResponse(_message.Message):
    __slots__ = ("item",)
    ITEM_FIELD_NUMBER: _ClassVar[int]
    item: CatalogItem
    def __init__(self, item: _Optional[_Union[CatalogItem, _Mapping]] = ...) -> None: ...

class ServiceRequest(_message.Message):
    __slots__ = ("id", "reference", "tenant_id", "catalog_item_id", "catalog_item_name", "requested_by", "status", "details", "approvals", "created_by", "fulfilled_by", "note", "version", "created_at", "updated_at", "status_times")
    class StatusTimesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _timestamp_pb2.Timestamp
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    CATALOG_ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    CATALOG_ITEM_NAME_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_BY_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    DETAILS_FIELD_NUMBER: _ClassVar[int]
    APPROVALS_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    FULFILLED_BY_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    STATUS_TIMES_FIELD_NUMBER: _ClassVar[int]
    id: str
    reference: str
    tenant_id: str
    catalog_item_id: str
    catalog_item_name: str
    requested_by: str
    status: str
    details: _struct_pb2.Struct
    approvals: _containers.RepeatedCompositeFieldContainer[Approval]
    created_by: str
    fulfilled_by: str
    note: str
    version: int
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    status_times: _containers.MessageMap[str, _timestamp_pb2.Timestamp]
    def __init__(self, id: _Optional[str] = ..., reference: _Optional[str] = ..., tenant_id: _Optional[str] = ..., catalog_item_id: _Optional[str] = ..., catalog_item_name: _Optional[str] = ..., requested_by: _Optional[str] = ..., status: _Optional[str] = ..., details: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., approvals: _Optional[_Iterable[_Union[Approval, _Mapping]]] = ..., created_by: _Optional[str] = ..., fulfilled_by: _Optional[str] = ..., note: _Optional[str] = ..., version: _Optional[int] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., status_times: _Optional[_Mapping[str, _timestamp_pb2.Timestamp]] = ...) -> None: ...

class SubmitRequestRequest(_message.Message):
    __slots__ = ("catalog_item_id", "requested_by", "details")
    CATALOG_ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_BY_FIELD_NUMBER: _ClassVar[int]
    DETAILS_FIELD_NUMBER: _ClassVar[int]
    catalog_item_id: str
    requested_by: str
    details: _struct_pb2.Struct
    def __init__(self, catalog_item_id: _Optional[str] = ..., requested_by: _Optional[str] = ..., details: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class SubmitRequestResponse(_message.Message):
    __slots__ = ("request",)
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    request: ServiceRequest
    def __init__(self, request: _Optional[_Union[ServiceRequest, _Mapping]] = ...) -> None: ...

class GetRequestRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class GetRequestResponse(_message.Message):
    __slots__ = ("request",)
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    request: ServiceRequest
    def __init__(self, request: _Optional[_Union[ServiceRequest, _Mapping]] = ...) -> None: ...

class ListRequestsRequest(_message.Message):
    __slots__ = ("page", "status", "catalog_item_id", "requested_by", "filters")
    PAGE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CATALOG_ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_BY_FIELD_NUMBER: _ClassVar[int]
    FILTERS_FIELD_NUMBER: _ClassVar[int]
    page: _common_pb2.PageRequest
    status: _containers.RepeatedScalarFieldContainer[str]
    catalog_item_id: str
    requested_by: str
    filters: _containers.RepeatedCompositeFieldContainer[_common_pb2.Filter]
    def __init__(self, page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ..., status: _Optional[_Iterable[str]] = ..., catalog_item_id: _Optional[str] = ..., requested_by: _Optional[str] = ..., filters: _Optional[_Iterable[_Union[_common_pb2.Filter, _Mapping]]] = ...) -> None: ...

class ListRequestsResponse(_message.Message):
    __slots__ = ("items", "page")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[ServiceRequest]
    page: _common_pb2.PageInfo
    def __init__(self, items: _Optional[_Iterable[_Union[ServiceRequest, _Mapping]]] = ..., page: _Optional[_Union[_common_pb2.PageInfo, _Mapping]] = ...) -> None: ...

class DecideRequestRequest(_message.Message):
    __slots__ = ("id", "decision", "comment")
    ID_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    id: str
    decision: str
    comment: str
    def __init__(self, id: _Optional[str] = ..., decision: _Optional[str] = ..., comment: _Optional[str] = ...) -> None: ...

class DecideRequestResponse(_message.Message):
    __slots__ = ("request",)
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    request: ServiceRequest
    def __init__(self, request: _Optional[_Union[ServiceRequest, _Mapping]] = ...) -> None: ...

class TransitionRequestRequest(_message.Message):
    __slots__ = ("id", "to_status", "note", "expected_version")
    ID_FIELD_NUMBER: _ClassVar[int]
    TO_STATUS_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    id: str
    to_status: str
    note: str
    expected_version: int
    def __init__(self, id: _Optional[str] = ..., to_status: _Optional[str] = ..., note: _Optional[str] = ..., expected_version: _Optional[int] = ...) -> None: ...

class TransitionRequestResponse(_message.Message):
    __slots__ = ("request",)
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    request: ServiceRequest
    def __init__(self, request: _Optional[_Union[ServiceRequest, _Mapping]] = ...) -> None: ...

class Blackout(_message.Message):
    __slots__ = ("id", "tenant_id", "name", "reason", "start", "end", "ci_ids", "created_by", "version", "created_at", "updated_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    CI_IDS_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    tenant_id: str
    name: str
    reason: str
    start: _timestamp_pb2.Timestamp
    end: _timestamp_pb2.Timestamp
    ci_ids: _containers.RepeatedScalarFieldContainer[str]
    created_by: str
    version: int
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., tenant_id: _Optional[str] = ..., name: _Optional[str] = ..., reason: _Optional[str] = ..., start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., ci_ids: _Optional[_Iterable[str]] = ..., created_by: _Optional[str] = ..., version: _Optional[int] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateBlackoutRequest(_message.Message):
    __slots__ = ("name", "reason", "start", "end", "ci_ids")
    NAME_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    CI_IDS_FIELD_NUMBER: _ClassVar[int]
    name: str
    reason: str
    start: _timestamp_pb2.Timestamp
    end: _timestamp_pb2.Timestamp
    ci_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., reason: _Optional[str] = ..., start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., ci_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class CreateBlackoutResponse(_message.Message):
    __slots__ = ("blackout",)
    BLACKOUT_FIELD_NUMBER: _ClassVar[int]
    blackout: Blackout
    def __init__(self, blackout: _Optional[_Union[Blackout, _Mapping]] = ...) -> None: ...

class GetBlackoutRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class GetBlackoutResponse(_message.Message):
    __slots__ = ("blackout",)
    BLACKOUT_FIELD_NUMBER: _ClassVar[int]
    blackout: Blackout
    def __init__(self, blackout: _Optional[_Union[Blackout, _Mapping]] = ...) -> None: ...

class ListBlackoutsRequest(_message.Message):
    __slots__ = ("page", "to")
    PAGE_FIELD_NUMBER: _ClassVar[int]
    FROM_FIELD_NUMBER: _ClassVar[int]
    TO_FIELD_NUMBER: _ClassVar[int]
    page: _common_pb2.PageRequest
    to: _timestamp_pb2.Timestamp
    def __init__(self, page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ..., to: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., **kwargs) -> None: ...

class ListBlackoutsResponse(_message.Message):
    __slots__ = ("items", "page")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[Blackout]
    page: _common_pb2.PageInfo
    def __init__(self, items: _Optional[_Iterable[_Union[Blackout, _Mapping]]] = ..., page: _Optional[_Union[_common_pb2.PageInfo, _Mapping]] = ...) -> None: ...

class UpdateBlackoutRequest(_message.Message):
    __slots__ = ("id", "update_mask", "name", "reason", "start", "end", "ci_ids")
    ID_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    CI_IDS_FIELD_NUMBER: _ClassVar[int]
    id: str
    update_mask: _containers.RepeatedScalarFieldContainer[str]
    name: str
    reason: str
    start: _timestamp_pb2.Timestamp
    end: _timestamp_pb2.Timestamp
    ci_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, id: _Optional[str] = ..., update_mask: _Optional[_Iterable[str]] = ..., name: _Optional[str] = ..., reason: _Optional[str] = ..., start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., ci_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class UpdateBlackoutResponse(_message.Message):
    __slots__ = ("blackout",)
    BLACKOUT_FIELD_NUMBER: _ClassVar[int]
    blackout: Blackout
    def __init__(self, blackout: _Optional[_Union[Blackout, _Mapping]] = ...) -> None: ...

class DeleteBlackoutRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class DeleteBlackoutResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ChangeEvent(_message.Message):
    __slots__ = ("envelope", "change", "from_status", "to_status", "changed_fields", "approval")
    ENVELOPE_FIELD_NUMBER: _ClassVar[int]
    CHANGE_FIELD_NUMBER: _ClassVar[int]
    FROM_STATUS_FIELD_NUMBER: _ClassVar[int]
    TO_STATUS_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FIELDS_FIELD_NUMBER: _ClassVar[int]
    APPROVAL_FIELD_NUMBER: _ClassVar[int]
    envelope: _common_pb2.EventEnvelope
    change: Change
    from_status: str
    to_status: str
    changed_fields: _containers.RepeatedScalarFieldContainer[str]
    approval: Approval
    def __init__(self, envelope: _Optional[_Union[_common_pb2.EventEnvelope, _Mapping]] = ..., change: _Optional[_Union[Change, _Mapping]] = ..., from_status: _Optional[str] = ..., to_status: _Optional[str] = ..., changed_fields: _Optional[_Iterable[str]] = ..., approval: _Optional[_Union[Approval, _Mapping]] = ...) -> None: ...

class RequestEvent(_message.Message):
    __slots__ = ("envelope", "request", "from_status", "to_status", "approval")
    ENVELOPE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    FROM_STATUS_FIELD_NUMBER: _ClassVar[int]
    TO_STATUS_FIELD_NUMBER: _ClassVar[int]
    APPROVAL_FIELD_NUMBER: _ClassVar[int]
    envelope: _common_pb2.EventEnvelope
    request: ServiceRequest
    from_status: str
    to_status: str
    approval: Approval
    def __init__(self, envelope: _Optional[_Union[_common_pb2.EventEnvelope, _Mapping]] = ..., request: _Optional[_Union[ServiceRequest, _Mapping]] = ..., from_status: _Optional[str] = ..., to_status: _Optional[str] = ..., approval: _Optional[_Union[Approval, _Mapping]] = ...) -> None: ...
