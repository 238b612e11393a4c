"""The ITSM domain over its real store (SQLite and PostgreSQL), with a fake of the one CMDB call conflict
detection makes."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from services.itsm.events import ItsmEvents
from services.itsm.server import MIGRATIONS
from services.itsm.service import ItsmService, Neighbourhood, Related
from services.itsm.store import ItsmStore, outbox_table
from vigil.runtime.db import Database
from vigil.runtime.errors import Unavailable
from vigil.runtime.outbox import Outbox


class FakeImpact:
    """Stands in for CmdbImpact.related: a fixed graph (edges both ways), unknown ids, an outage, and a delay
    (the real call is a network round trip, during which other requests run)."""

    def __init__(self) -> None:
        self.links: dict[str, list[str]] = {}
        self.known: set[str] | None = None
        self.down = False
        self.delay = 0.0
        self.calls: list[tuple[str, ...]] = []

    async def related(self, ci_ids: Sequence[str]) -> Neighbourhood:
        self.calls.append(tuple(ci_ids))
        await asyncio.sleep(self.delay)
        if self.down:
            raise Unavailable("connection refused")
        related = {}
        for ci in ci_ids:
            for other in self.links.get(ci, []):
                if other not in ci_ids:
                    related[other] = Related(ci_id=other, origin=ci, path=(ci, other))
        unknown = tuple(c for c in ci_ids if self.known is not None and c not in self.known)
        return Neighbourhood(related=related, unknown=unknown)


@pytest.fixture
async def db(database_url):
    database = Database(database_url, "itsm")
    await database.migrate(MIGRATIONS)
    yield database
    await database.dispose()


@pytest.fixture
def impact() -> FakeImpact:
    return FakeImpact()


def make_service(db: Database, impact: FakeImpact) -> ItsmService:
    return ItsmService(ItsmStore(db, ItsmEvents(Outbox(outbox_table, "vigil/itsm"))), impact)


@pytest.fixture
def svc(db, impact) -> ItsmService:
    return make_service(db, impact)
