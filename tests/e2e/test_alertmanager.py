"""A real Prometheus Alertmanager (built by `go install …/alertmanager@v0.28.1`, see .ci/run) with a webhook
receiver pointing at Vigil, the integration key as its `http_config.authorization` credential. Alerts posted to
Alertmanager's own API reach Vigil as an incident; a resolve resolves it; a re-fire reopens it."""

import asyncio
import os
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
import yaml

from tests.conftest import REPO, urls
from tests.support import api
from tests.support.alerts import integration
from vigil.runtime.kafka_local import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.kafka]


def alertmanager_binary() -> str:
    for candidate in (Path(os.environ.get("VIGIL_CACHE_DIR", REPO / ".cache")) / "bin" / "alertmanager",
                      REPO / ".cache" / "bin" / "alertmanager"):
        if candidate.exists():
            return str(candidate)
    found = shutil.which("alertmanager")
    if found is None:
        pytest.fail("no alertmanager binary: run .ci/run, or GOBIN=.cache/bin go install "
                    "github.com/prometheus/alertmanager/cmd/alertmanager@v0.28.1")
    return found


@pytest.fixture
def start_alertmanager(tmp_path):
    procs = []

    def start(webhook_url: str, key: str) -> str:
        config = {
            "global": {"resolve_timeout": "5s"},
            "route": {"receiver": "vigil", "group_by": ["alertname"], "group_wait": "1s", "group_interval": "1s",
                      "repeat_interval": "1h"},
            "receivers": [{"name": "vigil", "webhook_configs": [{
                "url": webhook_url, "send_resolved": True,
                "http_config": {"authorization": {"type": "Bearer", "credentials": key}}}]}],
        }
        (tmp_path / "alertmanager.yml").write_text(yaml.safe_dump(config))
        port = free_port()
        log = open(tmp_path / "alertmanager.log", "wb")  # noqa: SIM115 - owned by the process
        procs.append(subprocess.Popen([
            alertmanager_binary(), f"--config.file={tmp_path / 'alertmanager.yml'}",
            f"--storage.path={tmp_path / 'data'}", f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address="], stdout=log, stderr=subprocess.STDOUT))
        return f"http://127.0.0.1:{port}"

    yield start
    for p in procs:
        p.terminate()
        p.wait(10)


def _rfc3339(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


async def test_real_alertmanager_fires_resolves_and_refires(stack_factory, start_alertmanager):
    stack = stack_factory(services=("incident", "cmdb", "itsm"))
    tenant_url, control_url = urls(stack)
    async with aiohttp.ClientSession() as session:
        admin = (await api.tenant(session, tenant_url, control_url, roles=("admin",)))["admin"]
        _created, key = await integration(admin, group_by="group_key")
        am = start_alertmanager(f"{tenant_url}/api/alerts/alertmanager", key)
        async with asyncio.timeout(30):
            while True:
                try:
                    if (await api.request(session, "GET", f"{am}/-/ready")).status == 200:
                        break
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.2)

        labels = {"alertname": "CheckoutDown", "service": "checkout", "severity": "critical", "instance": "web-1:9100"}

        async def post(starts: datetime, ends: datetime) -> None:
            resp = await api.request(session, "POST", f"{am}/api/v2/alerts", json=[{
                "labels": labels, "annotations": {"summary": "checkout is down"},
                "startsAt": _rfc3339(starts), "endsAt": _rfc3339(ends)}])
            assert resp.status == 200, resp.body

        async def incident(status: str) -> dict:
            async with asyncio.timeout(60):
                while True:
                    items = (await admin.get("/api/incidents")).data["items"]
                    if items and items[0]["status"] == status:
                        return items[0]
                    await asyncio.sleep(0.3)

        t0 = datetime.now(UTC)
        await post(t0, t0 + timedelta(hours=1))
        fired = await incident("triggered")
        assert fired["severity"] == "P1" and fired["title"] == "checkout is down" and fired["source"] == "alertmanager"
        await post(t0, datetime.now(UTC))  # ends now: Alertmanager sends the resolve
        await incident("resolved")
        t1 = datetime.now(UTC)
        await post(t1, t1 + timedelta(hours=1))  # fires again: a new episode
        reopened = await incident("reopened")
        assert reopened["id"] == fired["id"]
        decisions = [a["decision"] for a in (await admin.get(
            f"/api/incidents/{fired['id']}/alerts", params={"order": "asc"})).data["items"]]
        assert decisions[0] == "created" and "resolved" in decisions and decisions[-1] in ("reopened", "duplicate")
        assert "reopened" in decisions
        assert len((await admin.get("/api/incidents")).data["items"]) == 1
