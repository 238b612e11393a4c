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

class IntegrationSettings(_message.Message):
    __slots__ = ("default_severity", "severity_label", "severity_map", "fingerprint_fields", "group_by", "group_labels", "group_window_seconds", "reopen_window_seconds", "auto_resolve", "ci_labels")
    class SeverityMapEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    DEFAULT_SEVERITY_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_LABEL_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_MAP_FIELD_NUMBER: _ClassVar[int]
    FINGERPRINT_FIELDS_FIELD_NUMBER: _ClassVar[int]
    GROUP_BY_FIELD_NUMBER: _ClassVar[int]
    GROUP_LABELS_FIELD_NUMBER: _ClassVar[int]
    GROUP_WINDOW_SECONDS_FIELD_NUMBER: _ClassVar[int]
    REOPEN_WINDOW_SECONDS_FIELD_NUMBER: _ClassVar[int]
    AUTO_RESOLVE_FIELD_NUMBER: _ClassVar[int]
    CI_LABELS_FIELD_NUMBER: _ClassVar[int]
    default_severity: str
    severity_label: str
    severity_map: _containers.ScalarMap[str, str]
    fingerprint_fields: _containers.RepeatedScalarFieldContainer[str]
    group_by: str
    group_labels: _containers.RepeatedScalarFieldContainer[str]
    group_window_seconds: int
    reopen_window_seconds: int
    auto_resolve: str
    ci_labels: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, default_severity: _Optional[str] = ..., severity_label: _Optional[str] = ..., severity_map: _Optional[_Mapping[str, str]] = ..., fingerprint_fields: _Optional[_Iterable[str]] = ..., group_by: _Optional[str] = ..., group_labels: _Optional[_Iterable[str]] = ..., group_window_seconds: _Optional[int] = ..., reopen_window_seconds: _Optional[int] = ..., auto_resolve: _Optional[str] = ..., ci_labels: _Optional[_Iterable[str]] = ...) -> None: ...

class Integration(_message.Message):
    __slots__ = ("id", "tenant_id", "name", "type", "settings", "key_prefix", "created_by", "created_at", "updated_at", "key_rotated_at", "version")
    ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    SETTINGS_FIELD_NUMBER: _ClassVar[int]
    KEY_PREFIX_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    KEY_ROTATED_AT_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    id: str
    tenant_id: str
    name: str
    type: str
    settings: IntegrationSettings
    key_prefix: str
    created_by: str
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    key_rotated_at: _timestamp_pb2.Timestamp
    version: int
    def __init__(self, id: _Optional[str] = ..., tenant_id: _Optional[str] = ..., name: _Optional[str] = ..., type: _Optional[str] = ..., settings: _Optional[_Union[IntegrationSettings, _Mapping]] = ..., key_prefix: _Optional[str] = ..., created_by: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., key_rotated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., version: _Optional[int] = ...) -> None: ...

class CreateIntegrationRequest(_message.Message):
    __slots__ = ("name", "type", "settings", "settings_mask")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    SETTINGS_FIELD_NUMBER: _ClassVar[int]
    SETTINGS_MASK_FIELD_NUMBER: _ClassVar[int]
    name: str
    type: str
    settings: IntegrationSettings
    settings_mask: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., type: _Optional[str] = ..., settings: _Optional[_Union[IntegrationSettings, _Mapping]] = ..., settings_mask: _Optional[_Iterable[str]] = ...) -> None: ...

class CreateIntegrationResponse(_message.Message):
    __slots__ = ("integration", "key")
    INTEGRATION_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    integration: Integration
    key: str
    def __init__(self, integration: _Optional[_Union[Integration, _Mapping]] = ..., key: _Optional[str] = ...) -> None: ...

class GetIntegrationRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class GetIntegrationResponse(_message.Message):
    __slots__ = ("integration",)
    INTEGRATION_FIELD_NUMBER: _ClassVar[int]
    integration: Integration
    def __init__(self, integration: _Optional[_Union[Integration, _Mapping]] = ...) -> None: ...

class ListIntegrationsRequest(_message.Message):
    __slots__ = ("page", "type")
    PAGE_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    page: _common_pb2.PageRequest
    type: str
    def __init__(self, page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ..., type: _Optional[str] = ...) -> None: ...

class ListIntegrationsResponse(_message.Message):
    __slots__ = ("items", "page")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[Integration]
    page: _common_pb2.PageInfo
    def __init__(self, items: _Optional[_Iterable[_Union[Integration, _Mapping]]] = ..., page: _Optional[_Union[_common_pb2.PageInfo, _Mapping]] = ...) -> None: ...

class UpdateIntegrationRequest(_message.Message):
    __slots__ = ("id", "update_mask", "name", "settings", "expected_version")
    ID_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SETTINGS_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    id: str
    update_mask: _containers.RepeatedScalarFieldContainer[str]
    name: str
    settings: IntegrationSettings
    expected_version: int
    def __init__(self, id: _Optional[str] = ..., update_mask: _Optional[_Iterable[str]] = ..., name: _Optional[str] = ..., settings: _Optional[_Union[IntegrationSettings, _Mapping]] = ..., expected_version: _Optional[int] = ...) -> None: ...

class UpdateIntegrationResponse(_message.Message):
    __slots__ = ("integration",)
    INTEGRATION_FIELD_NUMBER: _ClassVar[int]
    integration: Integration
    def __init__(self, integration: _Optional[_Union[Integration, _Mapping]] = ...) -> None: ...

class DeleteIntegrationRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class DeleteIntegrationResponse(_message.Message):
    __slots__ = ("integration",)
    INTEGRATION_FIELD_NUMBER: _ClassVar[int]
    integration: Integration
    def __init__(self, integration: _Optional[_Union[Integration, _Mapping]] = ...) -> None: ...

class RotateIntegrationKeyRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class RotateIntegrationKeyResponse(_message.Message):
    __slots__ = ("integration", "key")
    INTEGRATION_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    integration: Integration
    key: str
    def __init__(self, integration: _Optional[_Union[Integration, _Mapping]] = ..., key: _Optional[str] = ...) -> None: ...

class AuthenticateIntegrationRequest(_message.Message):
    __slots__ = ("key",)
    KEY_FIELD_NUMBER: _ClassVar[int]
    key: str
    def __init__(self, key: _Optional[str] = ...) -> None: ...

class AuthenticateIntegrationResponse(_message.Message):
    __slots__ = ("integration",)
    INTEGRATION_FIELD_NUMBER: _ClassVar[int]
    integration: Integration
    def __init__(self, integration: _Optional[_Union[Integration, _Mapping]] = ...) -> None: ...

class AlertMessage(_message.Message):
    __slots__ = ("id", "tenant_id", "integration_id", "source", "fingerprint", "status", "title", "description", "source_severity", "labels", "annotations", "details", "starts_at", "ends_at", "received_at", "source_group_key", "url", "integration_name")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class AnnotationsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    INTEGRATION_ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    SOURCE_SEVERITY_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    DETAILS_FIELD_NUMBER: _ClassVar[int]
    STARTS_AT_FIELD_NUMBER: _ClassVar[int]
    ENDS_AT_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_AT_FIELD_NUMBER: _ClassVar[int]
    SOURCE_GROUP_KEY_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    INTEGRATION_NAME_FIELD_NUMBER: _ClassVar[int]
    id: str
    tenant_id: str
    integration_id: str
    source: str
    fingerprint: str
    status: str
    title: str
    description: str
    source_severity: str
    labels: _containers.ScalarMap[str, str]
    annotations: _containers.ScalarMap[str, str]
    details: _struct_pb2.Struct
    starts_at: _timestamp_pb2.Timestamp
    ends_at: _timestamp_pb2.Timestamp
    received_at: _timestamp_pb2.Timestamp
    source_group_key: str
    url: str
    integration_name: str
    def __init__(self, id: _Optional[str] = ..., tenant_id: _Optional[str] = ..., integration_id: _Optional[str] = ..., source: _Optional[str] = ..., fingerprint: _Optional[str] = ..., status: _Optional[str] = ..., title: _Optional[str] = ..., description: _Optional[str] = ..., source_severity: _Optional[str] = ..., labels: _Optional[_Mapping[str, str]] = ..., annotations: _Optional[_Mapping[str, str]] = ..., details: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., starts_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., ends_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., received_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., source_group_key: _Optional[str] = ..., url: _Optional[str] = ..., integration_name: _Optional[str] = ...) -> None: ...

class Alert(_message.Message):
    __slots__ = ("id", "tenant_id", "integration_id", "source", "fingerprint", "status", "title", "description", "source_severity", "severity", "labels", "annotations", "details", "starts_at", "ends_at", "received_at", "processed_at", "url", "group_key", "decision", "reason", "rule", "incident_id", "incident_reference", "previous_incident_id", "maintenance_window_id", "ci_ids", "ci_lookup", "change_ids", "change_lookup")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class AnnotationsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    INTEGRATION_ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    SOURCE_SEVERITY_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    DETAILS_FIELD_NUMBER: _ClassVar[int]
    STARTS_AT_FIELD_NUMBER: _ClassVar[int]
    ENDS_AT_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_AT_FIELD_NUMBER: _ClassVar[int]
    PROCESSED_AT_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    GROUP_KEY_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    RULE_FIELD_NUMBER: _ClassVar[int]
    INCIDENT_ID_FIELD_NUMBER: _ClassVar[int]
    INCIDENT_REFERENCE_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_INCIDENT_ID_FIELD_NUMBER: _ClassVar[int]
    MAINTENANCE_WINDOW_ID_FIELD_NUMBER: _ClassVar[int]
    CI_IDS_FIELD_NUMBER: _ClassVar[int]
    CI_LOOKUP_FIELD_NUMBER: _ClassVar[int]
    CHANGE_IDS_FIELD_NUMBER: _ClassVar[int]
    CHANGE_LOOKUP_FIELD_NUMBER: _ClassVar[int]
    id: str
    tenant_id: str
    integration_id: str
    source: str
    fingerprint: str
    status: str
    title: str
    description: str
    source_severity: str
    severity: str
    labels: _containers.ScalarMap[str, str]
    annotations: _containers.ScalarMap[str, str]
    details: _struct_pb2.Struct
    starts_at: _timestamp_pb2.Timestamp
    ends_at: _timestamp_pb2.Timestamp
    received_at: _timestamp_pb2.Timestamp
    processed_at: _timestamp_pb2.Timestamp
    url: str
    group_key: str
    decision: str
    reason: str
    rule: str
    incident_id: str
    incident_reference: str
    previous_incident_id: str
    maintenance_window_id: str
    ci_ids: _containers.RepeatedScalarFieldContainer[str]
    ci_lookup: str
    change_ids: _containers.RepeatedScalarFieldContainer[str]
    change_lookup: str
    def __init__(self, id: _Optional[str] = ..., tenant_id: _Optional[str] = ..., integration_id: _Optional[str] = ..., source: _Optional[str] = ..., fingerprint: _Optional[str] = ..., status: _Optional[str] = ..., title: _Optional[str] = ..., description: _Optional[str] = ..., source_severity: _Optional[str] = ..., severity: _Optional[str] = ..., labels: _Optional[_Mapping[str, str]] = ..., annotations: _Optional[_Mapping[str, str]] = ..., details: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., starts_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., ends_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., received_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., processed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., url: _Optional[str] = ..., group_key: _Optional[str] = ..., decision: _Optional[str] = ..., reason: _Optional[str] = ..., rule: _Optional[str] = ..., incident_id: _Optional[str] = ..., incident_reference: _Optional[str] = ..., previous_incident_id: _Optional[str] = ..., maintenance_window_id: _Optional[str] = ..., ci_ids: _Optional[_Iterable[str]] = ..., ci_lookup: _Optional[str] = ..., change_ids: _Optional[_Iterable[str]] = ..., change_lookup: _Optional[str] = ...) -> None: ...

class ListAlertsRequest(_message.Message):
    __slots__ = ("page", "status", "decision", "integration_id", "fingerprint", "incident_id", "to")
    PAGE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    INTEGRATION_ID_FIELD_NUMBER: _ClassVar[int]
    FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    INCIDENT_ID_FIELD_NUMBER: _ClassVar[int]
    FROM_FIELD_NUMBER: _ClassVar[int]
    TO_FIELD_NUMBER: _ClassVar[int]
    page: _common_pb2.PageRequest
    status: _containers.RepeatedScalarFieldContainer[str]
    decision: _containers.RepeatedScalarFieldContainer[str]
    integration_id: str
    fingerprint: str
    incident_id: str
    to: _timestamp_pb2.Timestamp
    def __init__(self, page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ..., status: _Optional[_Iterable[str]] = ..., decision: _Optional[_Iterable[str]] = ..., integration_id: _Optional[str] = ..., fingerprint: _Optional[str] = ..., incident_id: _Optional[str] = ..., to: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., **kwargs) -> None: ...

class ListAlertsResponse(_message.Message):
    __slots__ = ("items", "page")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[Alert]
    page: _common_pb2.PageInfo
    def __init__(self, items: _Optional[_Iterable[_Union[Alert, _Mapping]]] = ..., page: _Optional[_Union[_common_pb2.PageInfo, _Mapping]] = ...) -> None: ...

class GetAlertRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class GetAlertResponse(_message.Message):
    __slots__ = ("alert",)
    ALERT_FIELD_NUMBER: _ClassVar[int]
    alert: Alert
    def __init__(self, alert: _Optional[_Union[Alert, _Mapping]] = ...) -> None: ...

class AlertEvent(_message.Message):
    __slots__ = ("envelope", "alert")
    ENVELOPE_FIELD_NUMBER: _ClassVar[int]
    ALERT_FIELD_NUMBER: _ClassVar[int]
    envelope: _common_pb2.EventEnvelope
    alert: Alert
    def __init__(self, envelope: _Optional[_Union[_common_pb2.EventEnvelope, _Mapping]] = ..., alert: _Optional[_Union[Alert, _Mapping]] = ...) -> None: ...

class LabelMatcher(_message.Message):
    __slots__ = ("name", "operator", "value")
    NAME_FIELD_NUMBER: _ClassVar[int]
    OPERATOR_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    name: str
    operator: str
    value: str
    def __init__(self, name: _Optional[str] = ..., operator: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...

class MaintenanceWindow(_message.Message):
    __slots__ = ("id", "tenant_id", "name", "comment", "matchers", "ci_ids", "integration_ids", "starts_at", "ends_at", "created_by", "created_at", "updated_at", "version")
    ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    MATCHERS_FIELD_NUMBER: _ClassVar[int]
    CI_IDS_FIELD_NUMBER: _ClassVar[int]
    INTEGRATION_IDS_FIELD_NUMBER: _ClassVar[int]
    STARTS_AT_FIELD_NUMBER: _ClassVar[int]
    ENDS_AT_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    id: str
    tenant_id: str
    name: str
    comment: str
    matchers: _containers.RepeatedCompositeFieldContainer[LabelMatcher]
    ci_ids: _containers.RepeatedScalarFieldContainer[str]
    integration_ids: _containers.RepeatedScalarFieldContainer[str]
    starts_at: _timestamp_pb2.Timestamp
    ends_at: _timestamp_pb2.Timestamp
    created_by: str
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    version: int
    def __init__(self, id: _Optional[str] = ..., tenant_id: _Optional[str] = ..., name: _Optional[str] = ..., comment: _Optional[str] = ..., matchers: _Optional[_Iterable[_Union[LabelMatcher, _Mapping]]] = ..., ci_ids: _Optional[_Iterable[str]] = ..., integration_ids: _Optional[_Iterable[str]] = ..., starts_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., ends_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., created_by: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., version: _Optional[int] = ...) -> None: ...

class CreateMaintenanceWindowRequest(_message.Message):
    __slots__ = ("window",)
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    window: MaintenanceWindow
    def __init__(self, window: _Optional[_Union[MaintenanceWindow, _Mapping]] = ...) -> None: ...

class CreateMaintenanceWindowResponse(_message.Message):
    __slots__ = ("window",)
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    window: MaintenanceWindow
    def __init__(self, window: _Optional[_Union[MaintenanceWindow, _Mapping]] = ...) -> None: ...

class GetMaintenanceWindowRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class GetMaintenanceWindowResponse(_message.Message):
    __slots__ = ("window",)
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    window: MaintenanceWindow
    def __init__(self, window: _Optional[_Union[MaintenanceWindow, _Mapping]] = ...) -> None: ...

class ListMaintenanceWindowsRequest(_message.Message):
    __slots__ = ("page", "active_at")
    PAGE_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_AT_FIELD_NUMBER: _ClassVar[int]
    page: _common_pb2.PageRequest
    active_at: _timestamp_pb2.Timestamp
    def __init__(self, page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ..., active_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListMaintenanceWindowsResponse(_message.Message):
    __slots__ = ("items", "page")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[MaintenanceWindow]
    page: _common_pb2.PageInfo
    def __init__(self, items: _Optional[_Iterable[_Union[MaintenanceWindow, _Mapping]]] = ..., page: _Optional[_Union[_common_pb2.PageInfo, _Mapping]] = ...) -> None: ...

class UpdateMaintenanceWindowRequest(_message.Message):
    __slots__ = ("window", "update_mask", "expected_version")
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    window: MaintenanceWindow
    update_mask: _containers.RepeatedScalarFieldContainer[str]
    expected_version: int
    def __init__(self, window: _Optional[_Union[MaintenanceWindow, _Mapping]] = ..., update_mask: _Optional[_Iterable[str]] = ..., expected_version: _Optional[int] = ...) -> None: ...

class UpdateMaintenanceWindowResponse(_message.Message):
    __slots__ = ("window",)
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    window: MaintenanceWindow
    def __init__(self, window: _Optional[_Union[MaintenanceWindow, _Mapping]] = ...) -> None: ...

class DeleteMaintenanceWindowRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class DeleteMaintenanceWindowResponse(_message.Message):
    __slots__ = ("window",)
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    window: MaintenanceWindow
    def __init__(self, window: _Optional[_Union[MaintenanceWindow, _Mapping]] = ...) -> None: ...
