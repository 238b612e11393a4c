"""An in-process gateway and incident service on port 0 (real gRPC, real SQLite, real Kafka): fast tests of
the HTTP contract. Whole-process tests are in tests/e2e."""

from pathlib import Path

import aiohttp
import pytest

from gateway.app import Runner
from gateway.config import GatewaySettings
from services.incident.config import IncidentSettings
from services.incident.server import build
from tests.support import api


@pytest.fixture
async def gateway_env(tmp_path: Path, kafka_bootstrap):
    runtime = await build(IncidentSettings(data_dir=tmp_path, grpc_port=0, kafka_bootstrap=kafka_bootstrap,
                                           log_json=False))
    port = await runtime.start()
    settings = GatewaySettings(
        data_dir=tmp_path, tenant_port=0, control_port=0, kafka_bootstrap=kafka_bootstrap,
        operator_email=api.OPERATOR_EMAIL, operator_password=api.OPERATOR_PASSWORD,
        incident_addr=f"127.0.0.1:{port}", access_token_ttl_seconds=60, max_body_bytes=64 * 1024,
    )
    runner = Runner(settings)
    ports = await runner.start()
    session = aiohttp.ClientSession()
    env = {
        "tenant": f"http://127.0.0.1:{ports['tenant']}",
        "control": f"http://127.0.0.1:{ports['control']}",
        "session": session,
        "runner": runner,
        "settings": settings,
    }
    yield env
    await session.close()
    await runner.stop()
    await runtime.stop()


@pytest.fixture
async def acme(gateway_env):
    return await api.tenant(gateway_env["session"], gateway_env["tenant"], gateway_env["control"], "acme")
