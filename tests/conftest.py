"""Session-wide real infrastructure: the Apache Kafka broker, a PostgreSQL server, and whole Vigil stacks of
real processes. Nothing here is a double."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support import api, postgres
from vigil.runtime.kafka_local import KafkaBroker, free_port
from vigil.stack import Stack

REPO = Path(__file__).resolve().parent.parent
os.environ.setdefault("VIGIL_CACHE_DIR", str(REPO / ".cache"))
# Tests that are not about limits run on generous plans (every process of a test inherits these); the tests of
# rate limits and quotas set their own, per tenant through the control plane or per gateway.
GENEROUS = {"read": 10**6, "write": 10**6, "ai": 10**6, "ingest": 10**6}
os.environ.setdefault("VIGIL_RATE_LIMITS", json.dumps({plan: GENEROUS for plan in ("free", "pro", "enterprise")}))
os.environ.setdefault("VIGIL_PLAN_QUOTAS", json.dumps({plan: {"incidents_per_month": 10**7, "users": 1000,
                                                              "api_keys": 1000, "ai_calls_per_day": 10**6}
                                                       for plan in ("free", "pro", "enterprise")}))


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory) -> Iterator[KafkaBroker]:
    broker = KafkaBroker(tmp_path_factory.mktemp("kafka"), free_port(), free_port()).start()
    yield broker
    broker.stop()


@pytest.fixture(scope="session")
def kafka_bootstrap(kafka_broker: KafkaBroker) -> str:
    return kafka_broker.bootstrap


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[postgres.PostgresServer]:
    server = postgres.start()
    yield server
    server.stop()


@pytest.fixture
async def postgres_url(postgres_server: postgres.PostgresServer) -> str:
    """A fresh, empty database on the session's PostgreSQL server."""
    return await postgres_server.create_database()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def database_url(request, tmp_path) -> str:
    """Run the test once on a SQLite file and once on a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
    return await request.getfixturevalue("postgres_server").create_database()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def stack_database_env(request) -> dict[str, str]:
    """For `stack_factory(env=stack_database_env)`: the stack on its SQLite files, or every service and the
    gateway on one fresh PostgreSQL database."""
    if request.param == "sqlite":
        return {}
    return {"VIGIL_DATABASE_URL": await request.getfixturevalue("postgres_server").create_database()}


@pytest.fixture
def stack_factory(kafka_bootstrap: str) -> Iterator[Callable[..., Stack]]:
    """Start all five services and the gateway as real processes on free ports (real Kafka, SQLite files)."""
    started: list[Stack] = []
    dirs: list[str] = []

    def start(env: dict[str, str] | None = None, **kwargs) -> Stack:
        data_dir = Path(tempfile.mkdtemp(prefix="vigil-stack-"))
        dirs.append(str(data_dir))
        stack_env = {
            "VIGIL_KAFKA_BOOTSTRAP": kafka_bootstrap,
            "VIGIL_OPERATOR_EMAIL": api.OPERATOR_EMAIL,
            "VIGIL_OPERATOR_PASSWORD": api.OPERATOR_PASSWORD,
            "VIGIL_LOG_LEVEL": "INFO",
            "VIGIL_OUTBOX_POLL_SECONDS": "0.2",
            # Each stack's gateways share a webhook consumer group of their own (stacks share the broker).
            "VIGIL_WEBHOOK_CONSUMER_GROUP": f"vigil-gateway.webhooks-{data_dir.name}",
            **(env or {}),
        }
        stack = Stack(data_dir=data_dir, env=stack_env, ephemeral_ports=True, **kwargs)
        started.append(stack)
        stack.start()
        return stack

    yield start
    for stack in started:
        stack.stop()
    for d in dirs:
        if os.environ.get("VIGIL_KEEP_TEST_DATA"):
            print(f"kept {d}")
        else:
            shutil.rmtree(d, ignore_errors=True)


def urls(stack: Stack) -> tuple[str, str]:
    """(tenant plane base URL, control plane base URL) of a running stack."""
    return f"http://127.0.0.1:{stack.ports['tenant']}", f"http://127.0.0.1:{stack.ports['control']}"
