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

class ConfigurationItem(_message.Message):
    __slots__ = ("id", "tenant_id", "name", "environment", "owner", "criticality", "attributes", "created_at", "updated_at", "version", "created_by")
    ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    CLASS_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    CRITICALITY_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    id: str
    tenant_id: str
    name: str
    environment: str
    owner: str
    criticality: str
    attributes: _struct_pb2.Struct
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    version: int
    created_by: str
    def __init__(self, id: _Optional[str] = ..., tenant_id: _Optional[str] = ..., name: _Optional[str] = ..., environment: _Optional[str] = ..., owner: _Optional[str] = ..., criticality: _Optional[str] = ..., attributes: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., version: _Optional[int] = ..., created_by: _Optional[str] = ..., **kwargs) -> None: ...

class Relation(_message.Message):
    __slots__ = ("id", "tenant_id", "source_id", "target_id", "type", "created_at", "created_by")
    ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    TARGET_ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    id: str
    tenant_id: str
    source_id: str
    target_id: str
    type: str
    created_at: _timestamp_pb2.Timestamp
    created_by: str
    def __init__(self, id: _Optional[str] = ..., tenant_id: _Optional[str] = ..., source_id: _Optional[str] = ..., target_id: _Optional[str] = ..., type: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., created_by: _Optional[str] = ...) -> None: ...

class RelationType(_message.Message):
    __slots__ = ("name", "propagation", "description")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PROPAGATION_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    name: str
    propagation: str
    description: str
    def __init__(self, name: _Optional[str] = ..., propagation: _Optional[str] = ..., description: _Optional[str] = ...) -> None: ...

class NewItem(_message.Message):
    __slots__ = ("name", "environment", "owner", "criticality", "attributes", "ref")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CLASS_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    CRITICALITY_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    REF_FIELD_NUMBER: _ClassVar[int]
    name: str
    environment: str
    owner: str
    criticality: str
    attributes: _struct_pb2.Struct
    ref: str
    def __init__(self, name: _Optional[str] = ..., environment: _Optional[str] = ..., owner: _Optional[str] = ..., criticality: _Optional[str] = ..., attributes: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., ref: _Optional[str] = ..., **kwargs) -> None: ...

class CreateItemRequest(_message.Message):
    __slots__ = ("item",)
    ITEM_FIELD_NUMBER: _ClassVar[int]
    item: NewItem
    def __init__(self, item: _Optional[_Union[NewItem, _Mapping]] = ...) -> None: ...

class CreateItemResponse(_message.Message):
    __slots__ = ("item",)
    ITEM_FIELD_NUMBER: _ClassVar[int]
    item: ConfigurationItem
    def __init__(self, item: _Optional[_Union[ConfigurationItem, _Mapping]] = ...) -> None: ...

class GetItemRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class GetItemResponse(_message.Message):
    __slots__ = ("item",)
    ITEM_FIELD_NUMBER: _ClassVar[int]
    item: ConfigurationItem
    def __init__(self, item: _Optional[_Union[ConfigurationItem, _Mapping]] = ...) -> None: ...

class BatchGetItemsRequest(_message.Message):
    __slots__ = ("ids",)
    IDS_FIELD_NUMBER: _ClassVar[int]
    ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, ids: _Optional[_Iterable[str]] = ...) -> None: ...

class BatchGetItemsResponse(_message.Message):
    __slots__ = ("items", "missing_ids")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    MISSING_IDS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[ConfigurationItem]
    missing_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, items: _Optional[_Iterable[_Union[ConfigurationItem, _Mapping]]] = ..., missing_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class ListItemsRequest(_message.Message):
    __slots__ = ("page", "environment", "q", "ids", "filters")
    PAGE_FIELD_NUMBER: _ClassVar[int]
    CLASS_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    Q_FIELD_NUMBER: _ClassVar[int]
    IDS_FIELD_NUMBER: _ClassVar[int]
    FILTERS_FIELD_NUMBER: _ClassVar[int]
    page: _common_pb2.PageRequest
    environment: str
    q: str
    ids: _containers.RepeatedScalarFieldContainer[str]
    filters: _containers.RepeatedCompositeFieldContainer[_common_pb2.Filter]
    def __init__(self, page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ..., environment: _Optional[str] = ..., q: _Optional[str] = ..., ids: _Optional[_Iterable[str]] = ..., filters: _Optional[_Iterable[_Union[_common_pb2.Filter, _Mapping]]] = ..., **kwargs) -> None: ...

class ListItemsResponse(_message.Message):
    __slots__ = ("items", "page")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[ConfigurationItem]
    page: _common_pb2.PageInfo
    def __init__(self, items: _Optional[_Iterable[_Union[ConfigurationItem, _Mapping]]] = ..., page: _Optional[_Union[_common_pb2.PageInfo, _Mapping]] = ...) -> None: ...

class UpdateItemRequest(_message.Message):
    __slots__ = ("id", "update_mask", "name", "environment", "owner", "criticality", "attributes", "expected_version")
    ID_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    CLASS_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    CRITICALITY_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    id: str
    update_mask: _containers.RepeatedScalarFieldContainer[str]
    name: str
    environment: str
    owner: str
    criticality: str
    attributes: _struct_pb2.Struct
    expected_version: int
    def __init__(self, id: _Optional[str] = ..., update_mask: _Optional[_Iterable[str]] = ..., name: _Optional[str] = ..., environment: _Optional[str] = ..., owner: _Optional[str] = ..., criticality: _Optional[str] = ..., attributes: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., expected_version: _Optional[int] = ..., **kwargs) -> None: ...

class UpdateItemResponse(_message.Message):
    __slots__ = ("item",)
    ITEM_FIELD_NUMBER: _ClassVar[int]
    item: ConfigurationItem
    def __init__(self, item: _Optional[_Union[ConfigurationItem, _Mapping]] = ...) -> None: ...

class DeleteItemRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class DeleteItemResponse(_message.Message):
    __slots__ = ("item", "relations_deleted")
    ITEM_FIELD_NUMBER: _ClassVar[int]
    RELATIONS_DELETED_FIELD_NUMBER: _ClassVar[int]
    item: ConfigurationItem
    relations_deleted: int
    def __init__(self, item: _Optional[_Union[ConfigurationItem, _Mapping]] = ..., relations_deleted: _Optional[int] = ...) -> None: ...

class NewRelation(_message.Message):
    __slots__ = ("source_id", "target_id", "type")
    SOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    TARGET_ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    source_id: str
    target_id: str
    type: str
    def __init__(self, source_id: _Optional[str] = ..., target_id: _Optional[str] = ..., type: _Optional[str] = ...) -> None: ...

class CreateRelationRequest(_message.Message):
    __slots__ = ("relation",)
    RELATION_FIELD_NUMBER: _ClassVar[int]
    relation: NewRelation
    def __init__(self, relation: _Optional[_Union[NewRelation, _Mapping]] = ...) -> None: ...

class CreateRelationResponse(_message.Message):
    __slots__ = ("relation",)
    RELATION_FIELD_NUMBER: _ClassVar[int]
    relation: Relation
    def __init__(self, relation: _Optional[_Union[Relation, _Mapping]] = ...) -> None: ...

class ListRelationsRequest(_message.Message):
    __slots__ = ("page", "ci_id", "source_id", "target_id", "types")
    PAGE_FIELD_NUMBER: _ClassVar[int]
    CI_ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    TARGET_ID_FIELD_NUMBER: _ClassVar[int]
    TYPES_FIELD_NUMBER: _ClassVar[int]
    page: _common_pb2.PageRequest
    ci_id: str
    source_id: str
    target_id: str
    types: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ..., ci_id: _Optional[str] = ..., source_id: _Optional[str] = ..., target_id: _Optional[str] = ..., types: _Optional[_Iterable[str]] = ...) -> None: ...

class ListRelationsResponse(_message.Message):
    __slots__ = ("items", "page")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[Relation]
    page: _common_pb2.PageInfo
    def __init__(self, items: _Optional[_Iterable[_Union[Relation, _Mapping]]] = ..., page: _Optional[_Union[_common_pb2.PageInfo, _Mapping]] = ...) -> None: ...

class DeleteRelationRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class DeleteRelationResponse(_message.Message):
    __slots__ = ("relation",)
    RELATION_FIELD_NUMBER: _ClassVar[int]
    relation: Relation
    def __init__(self, relation: _Optional[_Union[Relation, _Mapping]] = ...) -> None: ...

class ListRelationTypesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListRelationTypesResponse(_message.Message):
    __slots__ = ("types",)
    TYPES_FIELD_NUMBER: _ClassVar[int]
    types: _containers.RepeatedCompositeFieldContainer[RelationType]
    def __init__(self, types: _Optional[_Iterable[_Union[RelationType, _Mapping]]] = ...) -> None: ...

class BulkImportRequest(_message.Message):
    __slots__ = ("items", "relations")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    RELATIONS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[NewItem]
    relations: _containers.RepeatedCompositeFieldContainer[NewRelation]
    def __init__(self, items: _Optional[_Iterable[_Union[NewItem, _Mapping]]] = ..., relations: _Optional[_Iterable[_Union[NewRelation, _Mapping]]] = ...) -> None: ...

class BulkImportResponse(_message.Message):
    __slots__ = ("items_created", "relations_created", "item_ids", "refs")
    class RefsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ITEMS_CREATED_FIELD_NUMBER: _ClassVar[int]
    RELATIONS_CREATED_FIELD_NUMBER: _ClassVar[int]
    ITEM_IDS_FIELD_NUMBER: _ClassVar[int]
    REFS_FIELD_NUMBER: _ClassVar[int]
    items_created: int
    relations_created: int
    item_ids: _containers.RepeatedScalarFieldContainer[str]
    refs: _containers.ScalarMap[str, str]
    def __init__(self, items_created: _Optional[int] = ..., relations_created: _Optional[int] = ..., item_ids: _Optional[_Iterable[str]] = ..., refs: _Optional[_Mapping[str, str]] = ...) -> None: ...

class GetImpactRequest(_message.Message):
    __slots__ = ("ci_ids", "depth", "relation_types", "direction", "page", "ids_only")
    CI_IDS_FIELD_NUMBER: _ClassVar[int]
    DEPTH_FIELD_NUMBER: _ClassVar[int]
    RELATION_TYPES_FIELD_NUMBER: _ClassVar[int]
    DIRECTION_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    IDS_ONLY_FIELD_NUMBER: _ClassVar[int]
    ci_ids: _containers.RepeatedScalarFieldContainer[str]
    depth: int
    relation_types: _containers.RepeatedScalarFieldContainer[str]
    direction: str
    page: _common_pb2.PageRequest
    ids_only: bool
    def __init__(self, ci_ids: _Optional[_Iterable[str]] = ..., depth: _Optional[int] = ..., relation_types: _Optional[_Iterable[str]] = ..., direction: _Optional[str] = ..., page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ..., ids_only: _Optional[bool] = ...) -> None: ...

class ImpactedItem(_message.Message):
    __slots__ = ("item", "depth", "path", "relation_types")
    ITEM_FIELD_NUMBER: _ClassVar[int]
    DEPTH_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    RELATION_TYPES_FIELD_NUMBER: _ClassVar[int]
    item: ConfigurationItem
    depth: int
    path: _containers.RepeatedScalarFieldContainer[str]
    relation_types: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, item: _Optional[_Union[ConfigurationItem, _Mapping]] = ..., depth: _Optional[int] = ..., path: _Optional[_Iterable[str]] = ..., relation_types: _Optional[_Iterable[str]] = ...) -> None: ...

class ImpactSummary(_message.Message):
    __slots__ = ("total", "by_class", "by_environment", "highest_criticality", "max_depth")
    class ByClassEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    class ByEnvironmentEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    BY_CLASS_FIELD_NUMBER: _ClassVar[int]
    BY_ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    HIGHEST_CRITICALITY_FIELD_NUMBER: _ClassVar[int]
    MAX_DEPTH_FIELD_NUMBER: _ClassVar[int]
    total: int
    by_class: _containers.ScalarMap[str, int]
    by_environment: _containers.ScalarMap[str, int]
    highest_criticality: str
    max_depth: int
    def __init__(self, total: _Optional[int] = ..., by_class: _Optional[_Mapping[str, int]] = ..., by_environment: _Optional[_Mapping[str, int]] = ..., highest_criticality: _Optional[str] = ..., max_depth: _Optional[int] = ...) -> None: ...

class GetImpactResponse(_message.Message):
    __slots__ = ("items", "summary", "page", "unknown_ci_ids")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    UNKNOWN_CI_IDS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[ImpactedItem]
    summary: ImpactSummary
    page: _common_pb2.PageInfo
    unknown_ci_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, items: _Optional[_Iterable[_Union[ImpactedItem, _Mapping]]] = ..., summary: _Optional[_Union[ImpactSummary, _Mapping]] = ..., page: _Optional[_Union[_common_pb2.PageInfo, _Mapping]] = ..., unknown_ci_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class CiEvent(_message.Message):
    __slots__ = ("envelope", "items", "relations", "changed_fields", "chunk", "chunks", "import_id")
    ENVELOPE_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    RELATIONS_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FIELDS_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    CHUNKS_FIELD_NUMBER: _ClassVar[int]
    IMPORT_ID_FIELD_NUMBER: _ClassVar[int]
    envelope: _common_pb2.EventEnvelope
    items: _containers.RepeatedCompositeFieldContainer[ConfigurationItem]
    relations: _containers.RepeatedCompositeFieldContainer[Relation]
    changed_fields: _containers.RepeatedScalarFieldContainer[str]
    chunk: int
    chunks: int
    import_id: str
    def __init__(self, envelope: _Optional[_Union[_common_pb2.EventEnvelope, _Mapping]] = ..., items: _Optional[_Iterable[_Union[ConfigurationItem, _Mapping]]] = ..., relations: _Optional[_Iterable[_Union[Relation, _Mapping]]] = ..., changed_fields: _Optional[_Iterable[str]] = ..., chunk: _Optional[int] = ..., chunks: _Optional[int] = ..., import_id: _Optional[str] = ...) -> None: ...
