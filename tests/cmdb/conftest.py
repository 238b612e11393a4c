import pytest

from services.cmdb.events import CmdbEvents
from services.cmdb.server import MIGRATIONS
from services.cmdb.service import CmdbService
from services.cmdb.store import CmdbStore, outbox_table
from vigil.runtime.db import Database
from vigil.runtime.outbox import Outbox


@pytest.fixture
async def database(database_url):
    db = Database(database_url, "cmdb")
    await db.migrate(MIGRATIONS)
    yield db
    await db.dispose()


@pytest.fixture
def outbox():
    return Outbox(outbox_table, source="vigil/cmdb")


@pytest.fixture
def store(database, outbox) -> CmdbStore:
    return CmdbStore(database, CmdbEvents(outbox))


@pytest.fixture
def cmdb(store) -> CmdbService:
    return CmdbService(store)
