"""Helpers for tests that post alerts through the gateway's doors: payload builders and waiting for the
incident service's asynchronous decisions."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from tests.support import api


def am_alert(name: str = "HighLatency", status: str = "firing", fingerprint: str = "", starts: datetime | None = None,
             ends: datetime | None = None, **labels: str) -> dict[str, Any]:
    starts = starts or datetime.now(UTC)
    return {"status": status, "labels": {"alertname": name, **labels},
            "annotations": {"summary": f"{name} on {labels.get('service', 'something')}"},
            "startsAt": starts.isoformat().replace("+00:00", "Z"),
            "endsAt": ends.isoformat().replace("+00:00", "Z") if ends else "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus:9090/graph", "fingerprint": fingerprint}


def am_webhook(*alerts: dict[str, Any], group_key: str = '{}:{alertname="HighLatency"}') -> dict[str, Any]:
    return {"version": "4", "groupKey": group_key, "status": alerts[0]["status"], "receiver": "vigil",
            "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {}, "externalURL": "http://am:9093",
            "truncatedAlerts": 0, "alerts": list(alerts)}


async def integration(client: api.TenantClient, type_: str = "alertmanager", **settings) -> tuple[dict, str]:
    """A new integration of the client's tenant: (the integration, its key)."""
    resp = await client.post("/api/integrations", {"name": f"{type_}-{id(settings)}", "type": type_,
                                                   "settings": settings})
    assert resp.status == 201, resp.body
    return resp.data["integration"], resp.data["key"]


async def processed(client: api.TenantClient, alert_ids: list[str], timeout: float = 60.0) -> list[dict]:
    """Wait until the incident service stored a decision for each alert id; returns the alerts."""
    found: dict[str, dict] = {}
    async with asyncio.timeout(timeout):
        while len(found) < len(alert_ids):
            for alert_id in alert_ids:
                if alert_id not in found:
                    resp = await client.get(f"/api/alerts/{alert_id}")
                    if resp.status == 200:
                        found[alert_id] = resp.data
                    else:
                        assert resp.status == 404, resp.body
                        break
            else:
                continue
            await asyncio.sleep(0.2)
    return [found[i] for i in alert_ids]
