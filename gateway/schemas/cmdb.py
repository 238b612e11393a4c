"""CMDB: configuration items, relations, bulk import and blast radius (the protos are
vigil.cmdb.v1.ConfigurationItem, Relation, ImpactedItem). See docs/cmdb.md."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from gateway.schemas.base import Body, Cursor, JsonObject, Paging, ProtoField, Resource, Sorting, Time

Criticality = Literal["low", "medium", "high", "critical"]


class NewItem(Body):
    name: str = Field(min_length=1, max_length=255)
    cls: str = Field(alias="class", min_length=1, max_length=64)
    environment: str = Field(default="", max_length=64)
    owner: str = Field(default="", max_length=320)
    # One Literal, not `Criticality | Literal[""]`: a union makes pydantic name each member in the error's
    # field ("criticality.literal[...]") instead of the field itself. Empty: the default (medium).
    criticality: Literal["low", "medium", "high", "critical", ""] = ""
    attributes: dict[str, Any] = Field(default_factory=dict)


class ImportItem(NewItem):
    # Content rules (a non-empty name, ...) are left to the service, which names every failing row of the
    # import in one answer, items and relations together.
    name: str = Field(max_length=255)
    ref: str = Field(default="", max_length=128, description="a name local to the import that its relations may "
                                                             "use as source_id/target_id")


class ItemPatch(Body):
    name: str | None = Field(default=None, min_length=1, max_length=255)
    cls: str | None = Field(default=None, alias="class", min_length=1, max_length=64)
    environment: str | None = Field(default=None, min_length=1, max_length=64)
    owner: str | None = Field(default=None, max_length=320)
    criticality: Criticality | None = None
    attributes: dict[str, Any] | None = None


class NewRelation(Body):
    source_id: str = Field(min_length=1, max_length=128)
    target_id: str = Field(min_length=1, max_length=128)
    type: str = Field(min_length=1, max_length=32, description="one of GET /api/cmdb/relation-types")


class BulkImport(Body):
    items: list[ImportItem] = Field(default_factory=list, max_length=10_000)
    relations: list[NewRelation] = Field(default_factory=list, max_length=50_000)


class ItemQuery(Paging, Sorting, Cursor):
    cls: str = Field("", alias="class")
    environment: str = ""
    q: str = Field("", description="text in the name or owner")


class RelationQuery(Paging):
    ci_id: str = Field("", description="relations touching this CI, as source or target")
    source_id: str = ""
    target_id: str = ""
    type: Annotated[list[str], ProtoField("types")] = Field(default_factory=list)


class ImpactQuery(Paging):
    ci_id: Annotated[list[str], ProtoField("ci_ids")] = Field(description="the failing CIs (one or more)")
    depth: int = Field(0, ge=0, le=100, description="0: unlimited")
    relation_type: Annotated[list[str], ProtoField("relation_types")] = Field(default_factory=list)
    direction: str = Field("downstream", description="downstream (what a failure hurts) or upstream (what could "
                                                     "have caused it)")


class CiIdentity(Resource):
    """A CI as the blast radius carries it (attributes and timestamps: GET the item)."""

    id: str
    name: str
    cls: str = Field(alias="class")
    environment: str
    owner: str
    criticality: Criticality | Literal[""]
    version: int


class ConfigurationItem(CiIdentity):
    attributes: JsonObject
    created_by: str
    created_at: Time
    updated_at: Time


class DeletedItem(ConfigurationItem):
    relations_deleted: int


class Relation(Resource):
    id: str
    source_id: str
    target_id: str
    type: str
    created_by: str
    created_at: Time


class RelationType(Resource):
    name: str
    propagation: Literal["to_source", "to_target", "both"]
    description: str


class ImportResult(Resource):
    items_created: int
    relations_created: int
    item_ids: list[str] = Field(description="the created items' ids, in request order")
    refs: dict[str, str] = Field(description="ref -> id of the items that carried a ref")


class ImpactedItem(Resource):
    item: CiIdentity
    depth: int
    path: list[str] = Field(description="CI ids from the failing CI to this one")
    relation_types: list[str] = Field(description="the relation type of each hop")


class ImpactSummary(Resource):
    total: int
    by_class: dict[str, int]
    by_environment: dict[str, int]
    highest_criticality: str | None
    max_depth: int


class Impact(Resource):
    items: list[ImpactedItem]
    total: int
    limit: int
    offset: int
    summary: ImpactSummary
    unknown_ci_ids: list[str] = Field(description="requested CIs this tenant's CMDB does not know")
    direction: str
    depth: int

