"""ITSM domain logic, one module per aggregate: change requests (`changes`: state machine, approvals, conflict
rules), the service catalog (`catalog`), service requests (`requests`) and blackout windows (`blackouts`), with
what they share in `common`. No gRPC, SQL or Kafka here; the store runs these decisions inside its
transactions and the CMDB is reached through the `ImpactLookup` the wiring passes in.

`ItsmService` is the one object the handlers talk to: the operations of every aggregate over one store.
"""

from __future__ import annotations

from typing import Protocol

from services.itsm.service.blackouts import Blackout, BlackoutsService, BlackoutStore
from services.itsm.service.catalog import CatalogItem, CatalogService, CatalogStore
from services.itsm.service.changes import (
    ACTIVE_CHANGE_STATUSES,
    APPROVAL_STATUSES,
    APPROVED,
    APPROVED_STATUSES,
    CHANGE_REF,
    CHANGE_SORT_FIELDS,
    CHANGE_STATUSES,
    CHANGE_TRANSITIONS,
    CHANGE_TYPES,
    EDITABLE_STATUSES,
    GRANTED_APPROVALS,
    OUTCOMES,
    RISK_LEVELS,
    Around,
    Change,
    ChangeConflict,
    ChangeDecision,
    ChangeQuery,
    ChangesService,
    ChangeStore,
    ImpactLookup,
    Neighbourhood,
    NewChange,
    Related,
    Surroundings,
    apply_change_decision,
    apply_change_update,
    blackout_conflicts,
    check_change_transition,
    detect_conflicts,
    mirror_conflict,
    mirrored_conflicts,
    overlaps,
    required_approvals,
    validate_change_query,
    validate_new_change,
)
from services.itsm.service.common import (
    APPROVER_ROLES,
    DECISIONS,
    LIMITS,
    MAX_LIMIT,
    Approval,
    Event,
    Outcome,
    Page,
    check_key,
)
from services.itsm.service.requests import (
    REQUEST_REF,
    REQUEST_STATUSES,
    REQUEST_TRANSITIONS,
    RequestQuery,
    RequestsService,
    RequestStore,
    ServiceRequest,
    apply_request_decision,
    apply_request_transition,
)
from vigil.runtime.clock import new_id


class Store(ChangeStore, CatalogStore, RequestStore, BlackoutStore, Protocol):
    """Everything the service needs persisted (`services.itsm.store.ItsmStore`)."""


class ItsmService(ChangesService, CatalogService, RequestsService, BlackoutsService):
    def __init__(self, store: Store, impact: ImpactLookup) -> None:
        self.store = store
        self.impact = impact


__all__ = [
    "ACTIVE_CHANGE_STATUSES", "APPROVAL_STATUSES", "APPROVED", "APPROVED_STATUSES", "APPROVER_ROLES", "CHANGE_REF", "CHANGE_SORT_FIELDS", "CHANGE_STATUSES",
    "CHANGE_TRANSITIONS", "CHANGE_TYPES", "DECISIONS", "EDITABLE_STATUSES", "GRANTED_APPROVALS", "LIMITS", "MAX_LIMIT", "OUTCOMES",
    "REQUEST_REF", "REQUEST_STATUSES", "REQUEST_TRANSITIONS", "RISK_LEVELS", "Approval", "Around", "Blackout",
    "CatalogItem", "Change", "ChangeConflict", "ChangeDecision", "ChangeQuery", "Event", "ImpactLookup", "ItsmService",
    "Neighbourhood", "NewChange", "Outcome", "Page", "Related", "RequestQuery", "ServiceRequest", "Store", "Surroundings",
    "apply_change_decision", "apply_change_update", "apply_request_decision", "apply_request_transition", "blackout_conflicts",
    "check_change_transition", "check_key", "detect_conflicts", "mirror_conflict", "mirrored_conflicts",
    "new_id", "overlaps", "required_approvals", "validate_change_query", "validate_new_change",
]
