"""Fixtures of the observability tests: one real chDB engine per test process (chDB allows one engine path per
process), shared by the tests; each test writes under its own tenant ids, so they never see each other."""

from __future__ import annotations

import asyncio
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.observability.store import ClickHouse, migrate


@pytest.fixture(scope="session")
def clickhouse() -> Iterator[ClickHouse]:
    path = Path(tempfile.mkdtemp(prefix="vigil-chdb-"))
    ch = ClickHouse(f"chdb://{path / 'ch'}")
    asyncio.run(migrate(ch))
    yield ch
    asyncio.run(ch.close())
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def tenant_id() -> str:
    return f"t-{secrets.token_hex(6)}"
