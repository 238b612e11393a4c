import pytest

from services.incident.events import IncidentEvents
from services.incident.server import MIGRATIONS
from services.incident.service import IncidentService
from services.incident.store import IncidentStore, outbox_table
from vigil.runtime.db import Database
from vigil.runtime.outbox import Outbox


@pytest.fixture
async def database(database_url):
    db = Database(database_url, "incident")
    await db.migrate(MIGRATIONS)
    yield db
    await db.dispose()


@pytest.fixture
def outbox():
    return Outbox(outbox_table, source="vigil/incident")


@pytest.fixture
def incidents(database, outbox) -> IncidentService:
    return IncidentService(IncidentStore(database, IncidentEvents(outbox)))
