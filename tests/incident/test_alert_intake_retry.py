"""The intake consumer waits out a database that is going away or coming back, whatever the driver calls it, and
dead-letters only an alert that fails on its own. A unit test of the consumer with a stand-in processor; the fault
suite (tests/faults) restarts a real PostgreSQL under load."""

from types import SimpleNamespace

from sqlalchemy import exc as sa_exc

from services.incident.alerts.intake import AlertIntakeConsumer
from vigil.incident.v1 import alerts_pb2


def shutting_down() -> sa_exc.DBAPIError:
    """What asyncpg raises through SQLAlchemy while PostgreSQL shuts down: a DBAPIError (not an OperationalError)
    whose cause carries SQLSTATE 57P03."""

    class CannotConnectNow(Exception):
        sqlstate = "57P03"

    try:
        try:
            raise CannotConnectNow("the database system is shutting down")
        except CannotConnectNow as orig:
            raise sa_exc.DBAPIError("SELECT 1", {}, orig) from orig
    except sa_exc.DBAPIError as wrapped:
        return wrapped


def message(alert_id: str, offset: int) -> SimpleNamespace:
    value = alerts_pb2.AlertMessage(id=alert_id, tenant_id="t1", integration_id="i1", fingerprint=f"fp-{alert_id}",
                                    status="firing")
    value.received_at.seconds = 1_790_000_000
    return SimpleNamespace(headers=[], value=value.SerializeToString(), topic="alerts", partition=0, offset=offset)


class Processor:
    """Fails with the given errors first (a whole batch or one alert: `fails(ids)` decides), then stores."""

    def __init__(self, errors: list[Exception], fails=lambda ids: True) -> None:
        self.errors = errors
        self.fails = fails
        self.stored: list[str] = []
        self.calls = 0

    async def process(self, batch):
        self.calls += 1
        ids = [alert.id for alert in batch]
        if self.errors and self.fails(ids):
            raise self.errors.pop(0)
        self.stored += ids
        return batch


async def test_a_database_shutting_down_is_waited_out_not_dead_lettered():
    processor = Processor([shutting_down(), shutting_down()])
    consumer = AlertIntakeConsumer(processor, bootstrap="127.0.0.1:9", group_id="g")
    await consumer.handle({("alerts", 0): [message("a1", 0), message("a2", 1)]})
    assert processor.stored == ["a1", "a2"] and processor.calls == 3
    assert (consumer.processed, consumer.dead_lettered) == (2, 0)


async def test_an_alert_that_fails_on_its_own_is_dead_lettered_and_the_others_stored():
    bug = ValueError("a bug that only this alert meets")
    processor = Processor([bug, bug], fails=lambda ids: "bad" in ids)
    consumer = AlertIntakeConsumer(processor, bootstrap="127.0.0.1:9", group_id="g")
    await consumer.handle({("alerts", 0): [message("a1", 0), message("bad", 1), message("a3", 2)]})
    assert processor.stored == ["a1", "a3"]
    assert (consumer.processed, consumer.dead_lettered) == (2, 1)
