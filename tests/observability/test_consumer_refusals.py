"""Which ClickHouse refusals the telemetry consumer waits out and which it dead-letters: a server that is busy or
going away ("not now") never costs a row; rows the server refuses for themselves go to the dead-letter topic.
A unit test of the consumer with a stand-in ClickHouse; tests/observability/test_consumer.py runs the real one."""

from aiokafka import TopicPartition
from clickhouse_connect.driver.exceptions import DatabaseError, OperationalError

from services.observability.events import Batch, RowBatch, TelemetryConsumer, not_now


def refusal(code: int, name: str) -> DatabaseError:
    return DatabaseError(f"HTTPDriver for http://ch:8123 received ClickHouse error code {code}\n"
                         f" Code: {code}. DB::Exception: {name}. (version 25.8.1.1)")


class ClickHouse:
    """Refuses with the given errors first, then stores; a block containing b"bad" is always refused."""

    def __init__(self, errors: list[Exception]) -> None:
        self.errors = errors
        self.rows: list[bytes] = []

    async def insert_json_rows(self, table: str, block: bytes, token: str) -> None:
        if self.errors:
            raise self.errors.pop(0)
        if b"bad" in block:
            raise refusal(27, "Cannot parse input: expected '{'")
        self.rows += block.splitlines()


def batch(*blocks: bytes) -> Batch:
    b = Batch(TopicPartition("vigil.telemetry.logs", 0), "logs", start=0)
    for offset, block in enumerate(blocks):
        b.add(offset, RowBatch(table="logs", tenant_id="t1", rows=block, count=block.count(b"\n")))
    return b


def consumer(ch: ClickHouse) -> TelemetryConsumer:
    return TelemetryConsumer(ch, bootstrap="127.0.0.1:9", group_id="g")  # no producer: dead letters are counted


def test_what_is_not_now():
    assert not_now(OperationalError("connection refused"))
    for code, name in ((252, "Too many parts"), (241, "Memory limit exceeded"), (202, "Too many simultaneous queries"),
                       (394, "Query was cancelled"), (159, "Timeout exceeded")):
        assert not_now(refusal(code, name)), code
    assert not not_now(refusal(27, "Cannot parse input"))
    assert not not_now(refusal(16, "No such column Bogus in table logs"))
    assert not not_now(DatabaseError("no code at all"))


async def test_a_busy_server_is_waited_out_and_no_row_is_dead_lettered():
    ch = ClickHouse([refusal(252, "Too many parts"), refusal(241, "Memory limit exceeded"),
                     refusal(202, "Too many simultaneous queries")])
    c = consumer(ch)
    await c._insert(batch(b'{"a":1}\n', b'{"a":2}\n{"a":3}\n'))
    assert ch.rows == [b'{"a":1}', b'{"a":2}', b'{"a":3}'] and c.dead_lettered == 0


async def test_rows_the_server_refuses_for_themselves_are_dead_lettered_and_the_others_stored():
    ch = ClickHouse([])
    c = consumer(ch)
    b = batch(b'{"a":1}\n', b'bad\n', b'{"a":3}\n')
    await c._insert(b)
    assert ch.rows == [b'{"a":1}', b'{"a":3}'] and c.dead_lettered == 1 and b.rows == 2
