"""Alert intake through real processes (gateway, incident, CMDB, ITSM services; the real Kafka broker): the
doors, decisions stored asynchronously, CI matching and change windows, maintenance windows, PagerDuty's own
client pointed at Vigil, and bad input (never a 500, never a partial write)."""

import asyncio
import shutil
import tempfile
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import urls
from tests.support import api
from tests.support.alerts import am_alert, am_webhook, integration, processed
from vigil.stack import Stack

with warnings.catch_warnings():
    # pdpyras says it is superseded by `pagerduty`, whose client refuses any base URL but https://.
    warnings.simplefilter("ignore", UserWarning)
    import pdpyras

pytestmark = [pytest.mark.e2e, pytest.mark.kafka]


@pytest.fixture(scope="module")
def stack(kafka_bootstrap):
    data_dir = Path(tempfile.mkdtemp(prefix="vigil-alerts-"))
    stack = Stack(data_dir=data_dir, ephemeral_ports=True, services=("incident", "cmdb", "itsm"), env={
        "VIGIL_KAFKA_BOOTSTRAP": kafka_bootstrap, "VIGIL_OPERATOR_EMAIL": api.OPERATOR_EMAIL,
        "VIGIL_OPERATOR_PASSWORD": api.OPERATOR_PASSWORD, "VIGIL_OUTBOX_POLL_SECONDS": "0.2"})
    stack.start()
    yield stack
    stack.stop()
    shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture
async def session():
    async with aiohttp.ClientSession() as s:
        yield s


@pytest.fixture
async def clients(stack, session):
    tenant_url, control_url = urls(stack)
    return await api.tenant(session, tenant_url, control_url)


async def door(session, stack, path, payload, key=None, **kw):
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return await api.request(session, "POST", urls(stack)[0] + path, json=payload, headers=headers, **kw)


async def test_alertmanager_door_dedup_ci_change_window_resolve_and_reopen(stack, session, clients):
    admin = clients["admin"]
    ci = (await admin.post("/api/cmdb/items", {"name": "checkout", "class": "service"})).data
    now = datetime.now(UTC)
    change = await admin.post("/api/itsm/changes", {
        "title": "Deploy checkout v2", "type": "standard", "risk_level": "low", "ci_ids": [ci["id"]],
        "requested_start": (now - timedelta(minutes=5)).isoformat(), "requested_end": (now + timedelta(hours=1)).isoformat()})
    assert change.status == 201, change.body
    created, key = await integration(admin, reopen_window_seconds=3600)
    assert key.startswith("vgi_") and key[:12] == created["key_prefix"]
    assert "key" not in (await admin.get(f"/api/integrations/{created['id']}")).data  # shown once

    fire = am_webhook(am_alert(service="checkout", severity="warning", fingerprint="fp-1", starts=now),
                      am_alert(service="checkout", severity="critical", fingerprint="fp-1", starts=now))
    resp = await door(session, stack, "/api/alerts/alertmanager", fire, key)
    assert resp.status == 202 and resp.data["accepted"] == 2
    first, repeat = await processed(admin, resp.data["alert_ids"])
    assert (first["decision"], repeat["decision"]) == ("created", "duplicate")
    assert first["ci_ids"] == [ci["id"]] and first["change_ids"] == [change.data["id"]]
    incident = (await admin.get(f"/api/incidents/{first['incident_id']}")).data
    assert incident["severity"] == "P1" and incident["ci_ids"] == [ci["id"]]  # highest of its alerts
    assert incident["change_ids"] == [change.data["id"]] and incident["created_by"].startswith("integration:")
    listed = (await admin.get(f"/api/incidents/{incident['reference']}/alerts")).data
    assert listed["total"] == 2 and {a["incident_reference"] for a in listed["items"]} == {incident["reference"]}

    # The URL-path fallback for the key; a resolve resolves the incident, a re-fire reopens it.
    resolve = am_webhook(am_alert(status="resolved", service="checkout", fingerprint="fp-1", starts=now,
                                  ends=now + timedelta(seconds=30)))
    resp = await door(session, stack, f"/api/alerts/alertmanager/{key}", resolve)
    [resolved] = await processed(admin, resp.data["alert_ids"])
    assert resolved["decision"] == "resolved"
    assert (await admin.get(f"/api/incidents/{incident['id']}")).data["status"] == "resolved"
    refire = am_webhook(am_alert(service="checkout", fingerprint="fp-1", starts=now + timedelta(minutes=1)))
    [reopened] = await processed(admin, (await door(session, stack, "/api/alerts/alertmanager", refire, key)).data[
        "alert_ids"])
    assert reopened["decision"] == "reopened" and reopened["incident_id"] == incident["id"]
    assert (await admin.get(f"/api/incidents/{incident['id']}")).data["status"] == "reopened"
    by_decision = (await admin.get("/api/alerts", params={"decision": "reopened,resolved"})).data
    assert {a["decision"] for a in by_decision["items"]} == {"reopened", "resolved"}


async def test_pagerduty_client_pointed_at_vigil(stack, clients):
    admin = clients["admin"]
    _created, key = await integration(admin, "pagerduty")
    # pdpyras' Events API session, the way a PagerDuty sender is pointed elsewhere: its base URL.
    client = pdpyras.EventsAPISession(key)
    client.url = urls(stack)[0]
    dedup = await asyncio.to_thread(client.trigger, "Disk full on db-1", "db-1.prod", dedup_key="db-1/disk",
                                    severity="error", custom_details={"free_bytes": 0})
    assert dedup == "db-1/disk"
    keyless = await asyncio.to_thread(client.trigger, "Queue stuck", "mq-1", severity="info")
    assert keyless and keyless != dedup  # PagerDuty makes a dedup key when none is sent
    await asyncio.to_thread(client.acknowledge, dedup)

    async def incident_status(fingerprint, wanted):
        async with asyncio.timeout(60):
            while True:
                items = (await admin.get("/api/alerts", params={"fingerprint": fingerprint})).data["items"]
                if items and items[0]["incident_id"]:
                    status = (await admin.get(f"/api/incidents/{items[0]['incident_id']}")).data
                    if status["status"] == wanted:
                        return status, items
                await asyncio.sleep(0.2)

    incident, _ = await incident_status(dedup, "acknowledged")
    alerts = (await admin.get("/api/alerts", params={"fingerprint": dedup})).data["items"]
    assert incident["severity"] == "P2" and {a["decision"] for a in alerts} == {"created", "acknowledged"}
    await asyncio.to_thread(client.resolve, dedup)
    await incident_status(dedup, "resolved")
    bad = pdpyras.EventsAPISession("vgi_not-a-key")
    bad.url = urls(stack)[0]
    with pytest.raises(pdpyras.PDHTTPError) as err:
        await asyncio.to_thread(bad.trigger, "x", "y")
    assert err.value.response.status_code == 400
    assert err.value.response.json()["errors"] == ["Invalid routing key"]


async def test_maintenance_window_suppresses_and_grafana_door(stack, session, clients):
    responder, admin = clients["responder"], clients["admin"]
    _created, key = await integration(admin, "grafana")
    now = datetime.now(UTC)
    window = await responder.post("/api/maintenance-windows", {
        "name": "db upgrade", "matchers": [{"name": "service", "operator": "=~", "value": "db-.*"}],
        "starts_at": (now - timedelta(minutes=1)).isoformat(), "ends_at": (now + timedelta(hours=1)).isoformat()})
    assert window.status == 201, window.body
    everything = await responder.post("/api/maintenance-windows", {"name": "all", "ends_at": now.isoformat()})
    assert everything.status == 422  # a window must say what it silences
    grafana = {"receiver": "vigil", "status": "firing", "orgId": 1, "version": "1", "groupKey": "{}", "state": "alerting",
               "title": "[FIRING:2]", "alerts": [
                   {**am_alert("DiskFull", service="db-main"), "fingerprint": "g1", "values": {"B": 99}},
                   {**am_alert("DiskFull", service="web"), "fingerprint": "g2"}]}
    resp = await door(session, stack, "/api/alerts/grafana", grafana, key)
    assert resp.status == 202, resp.body
    suppressed, created = await processed(admin, resp.data["alert_ids"])
    assert suppressed["decision"] == "suppressed" and suppressed["incident_id"] is None
    assert suppressed["maintenance_window_id"] == window.data["id"] and "db upgrade" in suppressed["reason"]
    assert suppressed["details"]["values"] == {"B": 99} and created["decision"] == "created"
    active = (await responder.get("/api/maintenance-windows", params={"active_at": now.isoformat()})).data
    assert [w["id"] for w in active["items"]] == [window.data["id"]]


async def test_bad_input_is_refused_whole_and_keys_bind_tenants(stack, session, clients):
    admin = clients["admin"]
    created, key = await integration(admin)
    other = (await api.tenant(session, *urls(stack)))["admin"]
    _other_integration, other_key = await integration(other)
    _g, grafana_key = await integration(admin, "grafana")
    ok = am_webhook(am_alert(fingerprint="ok-1"))

    async def total(client):
        return (await client.get("/api/alerts")).data["total"]

    before = await total(admin)
    cases = [
        ("no key", door(session, stack, "/api/alerts/alertmanager", ok), 401, "UNAUTHORIZED"),
        ("wrong key", door(session, stack, "/api/alerts/alertmanager", ok, "vgi_wrong"), 401, "UNAUTHORIZED"),
        ("grafana key on the alertmanager door", door(session, stack, "/api/alerts/alertmanager", ok, grafana_key),
         401, "UNAUTHORIZED"),
        ("a user's JWT is not a key", door(session, stack, "/api/alerts/alertmanager", ok, admin.token), 401,
         "UNAUTHORIZED"),
        ("malformed JSON", api.request(session, "POST", urls(stack)[0] + "/api/alerts/alertmanager", data=b"{oops",
                                       headers={"Authorization": f"Bearer {key}"}), 422, "VALIDATION_ERROR"),
        ("one bad alert among good ones", door(session, stack, "/api/alerts/alertmanager", am_webhook(
            am_alert(fingerprint="ok-2"), {**am_alert(), "status": "weird"}), key), 422, "VALIDATION_ERROR"),
        ("10,000 alerts in one call", door(session, stack, "/api/alerts/alertmanager", am_webhook(
            *[am_alert(fingerprint=f"f{i}") for i in range(10_000)]), key), 413, "VALIDATION_ERROR"),
        ("1,001 small alerts", door(session, stack, "/api/alerts/generic", {"alerts": [
            {"title": "t", "fingerprint": str(i)} for i in range(1001)]}, key), 422, "VALIDATION_ERROR"),
        ("generic: unknown field", door(session, stack, "/api/alerts/alertmanager", {"version": "4"}, key), 422,
         "VALIDATION_ERROR"),
    ]
    for name, call, status, code in cases:
        resp = await call
        assert (resp.status, resp.body["code"]) == (status, code), f"{name}: {resp.status} {resp.body}"
    _gen, generic_key = await integration(admin, "generic")
    many = await door(session, stack, "/api/alerts/generic", {"alerts": [
        {"title": "t", "fingerprint": str(i)} for i in range(1001)]}, generic_key)
    assert many.status == 422 and many.body["fields"][0]["field"] == "alerts"

    # Another tenant's key puts alerts in that tenant only.
    resp = await door(session, stack, "/api/alerts/alertmanager", am_webhook(am_alert(fingerprint="theirs")), other_key)
    [theirs] = await processed(other, resp.data["alert_ids"])
    assert (await admin.get(f"/api/alerts/{theirs['id']}")).status == 404
    assert (await admin.get(f"/api/incidents/{theirs['incident_id']}/alerts")).status == 404
    await asyncio.sleep(2.0)  # anything wrongly produced would have been processed by now
    assert await total(admin) == before

    # Rotating the key stops the old one at once; deleting the integration stops the new one.
    rotated = await admin.post(f"/api/integrations/{created['id']}/rotate-key")
    assert (await door(session, stack, "/api/alerts/alertmanager", ok, key)).status == 401
    assert (await door(session, stack, "/api/alerts/alertmanager", ok, rotated.data["key"])).status == 202
    assert (await admin.delete(f"/api/integrations/{created['id']}")).status == 200
    assert (await door(session, stack, "/api/alerts/alertmanager", ok, rotated.data["key"])).status == 401
    assert (await clients["viewer"].post("/api/integrations", {"name": "x", "type": "generic"})).status == 403
    assert (await admin.post("/api/integrations", {"name": "x", "type": "nagios"})).status == 422
