"""ITSM persistence (SQLAlchemy Core, SQLite or PostgreSQL), one module per aggregate: changes, catalog,
service requests, blackouts; `common` holds the metadata, the reference counters and the outbox. Every query
is scoped by tenant_id, and each write is one transaction holding the row change and its outbox events."""

from __future__ import annotations

from services.itsm.events import ItsmEvents
from services.itsm.store.blackouts import BlackoutsStore, blackouts
from services.itsm.store.catalog import CatalogStore, catalog_items
from services.itsm.store.changes import MAX_CONFLICT_CANDIDATES, ChangesStore, change_cis, changes
from services.itsm.store.common import metadata, outbox_table, processed_events, sequences
from services.itsm.store.requests import RequestsStore, service_requests
from vigil.runtime.db import Database


class ItsmStore(ChangesStore, CatalogStore, RequestsStore, BlackoutsStore):
    def __init__(self, db: Database, events: ItsmEvents) -> None:
        self.db = db
        self.events = events


__all__ = ["MAX_CONFLICT_CANDIDATES", "ItsmStore", "blackouts", "catalog_items", "change_cis", "changes",
           "metadata", "outbox_table", "processed_events", "sequences", "service_requests"]
