"""The fault suite: a steady load through the gateway while one part of Vigil fails at a time, then a count
of what was acknowledged against what exists (tests/faults/workload.py).

Faults, one per scenario, each on a fresh tenant of one shared embedded stack (SQLite files, its own Kafka
broker, every process supervised) unless said otherwise:

    kill -9 of each service, the gateway, Kafka     the supervisor restarts it
    Kafka stopped and started again                 the outbox keeps events; ingest answers 503 meanwhile
    the incident SQLite file locked                 an outside writer holds it past the gRPC deadline
    observability killed between its ClickHouse     a failpoint crashes it there once; the ledger and the
      INSERT and its offset commit                  dedup token make the replay a no-op
    a slow CMDB                                     every blast-radius call sleeps past the incident
                                                    service's deadline
    PostgreSQL crash-restarted                      a second stack on PostgreSQL (cluster configuration)

Each scenario is bounded: a short warm-up, the fault, the system back to healthy, two more seconds of load,
then in-flight operations get a bounded time to be acknowledged, and the checker a bounded time to see
everything settle.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Awaitable, Callable

import aiohttp
import pytest

from tests.conftest import urls
from tests.faults.workload import OUTCOMES, Outcome, Workload, check
from tests.support import api
from vigil.stack import Stack
from vigil.supervisor import read_state

pytestmark = [pytest.mark.faults, pytest.mark.e2e, pytest.mark.kafka, pytest.mark.timeout(180)]

WARMUP_SECONDS = 2.0
AFTER_SECONDS = 2.0

STACK_ENV = {
    "VIGIL_OPERATOR_EMAIL": api.OPERATOR_EMAIL,
    "VIGIL_OPERATOR_PASSWORD": api.OPERATOR_PASSWORD,
    "VIGIL_OUTBOX_POLL_SECONDS": "0.2",
    "VIGIL_LOG_JSON": "false",
}


def _stack(data_dir, env: dict[str, str]) -> Stack:
    return Stack(data_dir=data_dir, env={**STACK_ENV, **env}, ephemeral_ports=True)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """One embedded stack for the scenarios: SQLite files and a Kafka broker of its own (so that the broker
    can be stopped), every process supervised."""
    s = _stack(tmp_path_factory.mktemp("faults"), {})
    try:
        s.env["VIGIL_KAFKA_BOOTSTRAP"] = s.start_kafka()
        s.start()
        yield s
    finally:
        s.stop()


def restarts(stack: Stack, name: str) -> int:
    return next(p["restarts"] for p in read_state(stack.data_dir)["processes"] if p["name"] == name)


async def wait_for(check_: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check_():
        if time.monotonic() > deadline:
            raise AssertionError(f"not true after {timeout}s")
        await asyncio.sleep(0.1)


# -- the faults: each returns once the fault is over (the system may still be recovering) --------------------


def kill_9(name: str) -> Callable[[Stack], Awaitable[None]]:
    async def inject(stack: Stack) -> None:
        before = restarts(stack, name)
        stack.kill(name)
        await wait_for(lambda: restarts(stack, name) > before)

    return inject


async def bounce_kafka(stack: Stack) -> None:
    await asyncio.to_thread(stack.stop_process, "kafka")
    await asyncio.sleep(2.0)
    await asyncio.to_thread(stack.start_process, "kafka")


async def lock_incident_sqlite(stack: Stack) -> None:
    """Another program holds the incident database's write lock for 12 s: longer than the gateway's 10 s gRPC
    deadline, so creates time out at the client while the service is still waiting to commit them."""
    def hold() -> None:
        conn = sqlite3.connect(stack.data_dir / "incident.db", timeout=30, isolation_level=None)
        try:
            conn.execute("BEGIN EXCLUSIVE")
            time.sleep(12.0)
            conn.execute("ROLLBACK")
        finally:
            conn.close()

    await asyncio.to_thread(hold)


async def crash_observability_between_insert_and_commit(stack: Stack) -> None:
    before = restarts(stack, "observability")
    await asyncio.to_thread(stack.stop_process, "observability")
    await asyncio.to_thread(stack.start_process, "observability",
                            {"VIGIL_FAILPOINTS": "observability.after_insert=crash"})
    # The first batch it inserts kills it before the commit; the supervisor starts it again without the failpoint.
    await wait_for(lambda: restarts(stack, "observability") > before, timeout=120)
    state = next(p for p in read_state(stack.data_dir)["processes"] if p["name"] == "observability")
    assert state["last_exit"] == "killed by SIGKILL"


async def slow_cmdb(stack: Stack) -> None:
    """Every blast-radius question takes 3 s: past the incident service's 2 s deadline for it."""
    await asyncio.to_thread(stack.stop_process, "cmdb")
    await asyncio.to_thread(stack.start_process, "cmdb", {"VIGIL_FAILPOINTS": "cmdb.GetImpact=sleep(3)"})
    await asyncio.to_thread(stack.wait_healthy, ("cmdb",))
    await asyncio.sleep(4.0)
    await asyncio.to_thread(stack.stop_process, "cmdb")
    await asyncio.to_thread(stack.start_process, "cmdb")
    log = (stack.logs / "incident.log").read_text(errors="replace")
    assert "DEADLINE_EXCEEDED" in log, "the slow CMDB never made an incident create wait past its deadline"


FAULTS: dict[str, Callable[[Stack], Awaitable[None]]] = {
    **{f"kill -9 {name}": kill_9(name)
       for name in ("incident", "itsm", "cmdb", "observability", "ai", "gateway", "kafka")},
    "kafka stop/start": bounce_kafka,
    "sqlite locked 12s": lock_incident_sqlite,
    "observability crash after insert": crash_observability_between_insert_and_commit,
    "slow cmdb": slow_cmdb,
}


class Phases:
    """Seconds spent in each phase of a scenario (printed in the table: where the suite's time goes)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._at = time.monotonic()

    def done(self, name: str) -> None:
        now = time.monotonic()
        self.seconds[name] = now - self._at
        self._at = now


async def run_scenario(stack: Stack, fault: str, inject: Callable[[Stack], Awaitable[None]]) -> Outcome:
    phases = Phases()
    await asyncio.to_thread(stack.wait_healthy)
    tenant_url, control_url = urls(stack)
    tag = "f" + fault.replace(" ", "").replace("/", "").replace("-", "")[:20] + str(int(time.time()) % 10_000)
    async with aiohttp.ClientSession() as session:
        users = await api.tenant(session, tenant_url, control_url, roles=("admin", "responder"))
        w = Workload(users["responder"], tag, admin=users["admin"])
        load = asyncio.create_task(w.run())
        try:
            phases.done("setup")
            await asyncio.sleep(WARMUP_SECONDS)
            await inject(stack)
            phases.done("load+fault")
            await asyncio.to_thread(stack.wait_healthy)
            healed = time.monotonic()
            await asyncio.sleep(AFTER_SECONDS)
            phases.done("recovery")
        finally:
            await w.stop(finish_within=30)
            await load
        phases.done("in-flight")
        rows = await check(w, stack.env["VIGIL_KAFKA_BOOTSTRAP"])
        phases.done("check")
    outcome = Outcome(fault, rows, w.attempts, phases.seconds)
    OUTCOMES.append(outcome)
    # Recovery, not only safety: every kind of write is acknowledged again once the system is back.
    for writer in w.writers:
        assert any(op.acked_at > healed for op in w.history if op.writer == writer.name), \
            f"{fault}: no {writer.name} acknowledged after the system was healthy again"
    return outcome


def assert_nothing_lost_or_doubled(outcome: Outcome) -> None:
    for row in outcome.rows:
        assert row.acknowledged > 0, f"{outcome.fault}: no {row.check} was acknowledged: the load did not run"
        assert (row.lost, row.duplicated) == (0, 0), f"{outcome.fault}: {row}"
        assert row.found == row.acknowledged or row.check == "incident.reference", f"{outcome.fault}: {row}"


@pytest.mark.parametrize("fault", list(FAULTS))
async def test_acknowledged_writes_survive(stack, fault: str) -> None:
    assert_nothing_lost_or_doubled(await run_scenario(stack, fault, FAULTS[fault]))


async def test_acknowledged_writes_survive_a_postgresql_crash_restart(postgres_server, kafka_bootstrap,
                                                                      tmp_path) -> None:
    if postgres_server.data_dir is None:
        pytest.skip("VIGIL_TEST_POSTGRES_URL is an external server: this suite cannot restart it")
    s = _stack(tmp_path, {"VIGIL_KAFKA_BOOTSTRAP": kafka_bootstrap,
                          "VIGIL_DATABASE_URL": await postgres_server.create_database()})
    await asyncio.to_thread(s.start)
    try:
        async def restart_postgres(_stack: Stack) -> None:
            await asyncio.to_thread(postgres_server.restart, 2.0)

        assert_nothing_lost_or_doubled(await run_scenario(s, "postgresql crash-restart", restart_postgres))
    finally:
        await asyncio.to_thread(s.stop)
