"""An in-process gateway and incident service on port 0 (real gRPC, real SQLite, real Kafka): fast tests of
the HTTP contract. Whole-process tests are in tests/e2e."""

import uuid
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


@pytest.fixture
async def outbound_env(tmp_path: Path, kafka_bootstrap, request):
    """The incident service and a gateway whose webhooks may reach loopback receivers, on a clock 100 times faster
    than real time (the retry ladder's 1 s, 5 s, 25 s, … take 10 ms, 50 ms, 250 ms, …) with a 0.5 s delivery
    timeout. `@pytest.mark.gateway_settings(**overrides)` changes the gateway's settings."""
    from vigil.runtime.clock import ScaledClock

    runtime = await build(IncidentSettings(data_dir=tmp_path, grpc_port=0, kafka_bootstrap=kafka_bootstrap,
                                           log_json=False))
    port = await runtime.start()
    marker = request.node.get_closest_marker("gateway_settings")
    overrides = marker.kwargs if marker else {}
    settings = GatewaySettings(**{
        "data_dir": tmp_path, "tenant_port": 0, "control_port": 0, "kafka_bootstrap": kafka_bootstrap,
        "operator_email": api.OPERATOR_EMAIL, "operator_password": api.OPERATOR_PASSWORD,
        "incident_addr": f"127.0.0.1:{port}", "webhook_allowed_networks": ["127.0.0.0/8"],
        "webhook_timeout_seconds": 0.5, "webhook_poll_seconds": 0.2,
        "webhook_consumer_group": f"test-webhooks-{uuid.uuid4().hex}", **overrides})
    clock = ScaledClock(100)
    runner = Runner(settings, clock)
    ports = await runner.start()
    await runner.gateway.events.wait_ready(30)
    session = aiohttp.ClientSession()
    tenant, control = f"http://127.0.0.1:{ports['tenant']}", f"http://127.0.0.1:{ports['control']}"
    env = {"tenant": tenant, "control": control, "session": session, "runner": runner, "clock": clock,
           "settings": settings, "gateway": runner.gateway}
    yield env
    await session.close()
    await runner.stop()
    await runtime.stop()
