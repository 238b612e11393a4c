"""Benchmark: Alertmanager webhooks (50 alerts each) through the gateway's door, decided by the incident service.

Starts everything on this machine (a local Kafka broker; the incident, CMDB and ITSM services and the gateway as
separate processes; SQLite files), then:

1. throughput: W webhooks from C concurrent senders; prints alerts/s accepted (202, Kafka acknowledged) and
   processed (until the last decision is stored), p50/p99 accept latency per webhook, the processing lag
   (last 202 -> last decision stored) and the dedup ratio (alerts per incident created);
2. storm: 100,000 alerts over 1,000 fingerprints; asserts exactly 1,000 incidents and every accepted alert
   stored exactly once (0 lost, 0 double-counted), and prints it;
3. anchor: the same webhooks against a bare aiohttp handler that only reads and parses the JSON, measured in
   the same run; prints the ratio.

    .venv/bin/python bench/alert_intake.py [--webhooks 600] [--concurrency 16] [--storm 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import orjson

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("VIGIL_CACHE_DIR", str(REPO / ".cache"))

from tests.support import api  # noqa: E402
from tests.support.alerts import am_alert, am_webhook, integration  # noqa: E402
from vigil.runtime.kafka_local import free_port  # noqa: E402
from vigil.stack import Stack  # noqa: E402

PER_WEBHOOK = 50


def bodies(count: int, fingerprints: int, run: str) -> list[bytes]:
    started = datetime.now(UTC)
    out = []
    for w in range(count):
        alerts = [am_alert(f"Rule{(w * PER_WEBHOOK + i) % fingerprints}", service=f"svc-{i % 10}",
                           severity="critical" if i % 7 == 0 else "warning", instance=f"host-{i}:9100",
                           fingerprint=f"{run}-{(w * PER_WEBHOOK + i) % fingerprints}", starts=started)
                  for i in range(PER_WEBHOOK)]
        out.append(orjson.dumps(am_webhook(*alerts)))
    return out


async def send(session: aiohttp.ClientSession, url: str, key: str, payloads: list[bytes], concurrency: int
               ) -> tuple[list[float], list[str], float, float]:
    """Post every payload (retrying refusals); returns latencies, accepted ids, first-send and last-202 times."""
    latencies: list[float] = []
    accepted: list[str] = []
    queue = list(reversed(payloads))
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    started = time.perf_counter()

    async def worker() -> None:
        while queue:
            body = queue.pop()
            while True:
                t = time.perf_counter()
                async with session.post(url, data=body, headers=headers) as resp:
                    raw = await resp.read()
                    if resp.status == 202:
                        latencies.append(time.perf_counter() - t)
                        accepted.extend(orjson.loads(raw)["data"].get("alert_ids", ()) if raw else ())
                        break
                    if resp.status >= 500 and resp.status != 503:
                        raise RuntimeError(f"{resp.status}: {raw[:300]!r}")
                await asyncio.sleep(0.1)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, accepted, started, time.perf_counter()


async def wait_stored(client: api.TenantClient, integration_id: str, expected: int, timeout: float = 900) -> float:
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        resp = await client.get("/api/alerts", params={"integration_id": integration_id, "limit": 1})
        if resp.status == 200 and resp.data["total"] >= expected:
            return time.perf_counter()
        await asyncio.sleep(0.05)
    raise TimeoutError(f"fewer than {expected} alerts stored after {timeout}s")


async def totals(client: api.TenantClient, integration_id: str) -> tuple[int, int]:
    stored = (await client.get("/api/alerts", params={"integration_id": integration_id, "limit": 1})).data["total"]
    created = (await client.get("/api/alerts", params={"integration_id": integration_id, "decision": "created",
                                                       "limit": 1})).data["total"]
    return stored, created


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] * 1000


ANCHOR = textwrap.dedent("""
    import sys, orjson, uvloop
    from aiohttp import web
    async def accept(request):
        body = orjson.loads(await request.read())
        return web.json_response({"data": {"accepted": len(body["alerts"])}}, status=202)
    app = web.Application(client_max_size=4 * 1024 * 1024)
    app.add_routes([web.post("/api/alerts/alertmanager", accept)])
    uvloop.install()
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
""")


async def anchor(session: aiohttp.ClientSession, payloads: list[bytes], concurrency: int) -> float:
    port = free_port()
    proc = await asyncio.to_thread(subprocess.Popen, [sys.executable, "-c", ANCHOR, str(port)])
    try:
        url = f"http://127.0.0.1:{port}/api/alerts/alertmanager"
        for _ in range(100):
            try:
                async with session.post(url, data=payloads[0]) as resp:
                    await resp.read()
                    break
            except aiohttp.ClientError:
                await asyncio.sleep(0.1)
        latencies, _, started, ended = await send(session, url, "none", payloads, concurrency)
        return len(latencies) * PER_WEBHOOK / (ended - started)
    finally:
        proc.terminate()
        await asyncio.to_thread(proc.wait)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--webhooks", type=int, default=600)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--storm", type=int, default=100_000)
    parser.add_argument("--storm-fingerprints", type=int, default=1_000)
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="vigil-bench-alerts-"))
    stack = Stack(data_dir=data_dir, env={"VIGIL_OPERATOR_EMAIL": api.OPERATOR_EMAIL,
                                          "VIGIL_OPERATOR_PASSWORD": api.OPERATOR_PASSWORD,
                                          "VIGIL_LOG_LEVEL": "WARNING"}, ephemeral_ports=True,
                  services=("incident", "cmdb", "itsm"))
    try:
        stack.env["VIGIL_KAFKA_BOOTSTRAP"] = await asyncio.to_thread(stack.start_kafka)
        await asyncio.to_thread(stack.start)
        tenant_url = f"http://127.0.0.1:{stack.ports['tenant']}"
        control_url = f"http://127.0.0.1:{stack.ports['control']}"
        door = tenant_url + "/api/alerts/alertmanager"
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
            admin = (await api.tenant(session, tenant_url, control_url, "bench", roles=("admin",)))["admin"]
            warm, warm_key = await integration(admin)
            await send(session, door, warm_key, bodies(20, 200, "warm"), args.concurrency)
            await wait_stored(admin, warm["id"], 20 * PER_WEBHOOK)

            # 1. throughput
            created, key = await integration(admin)
            payloads = bodies(args.webhooks, 2_000, "tp")
            latencies, accepted, started, last_202 = await send(session, door, key, payloads, args.concurrency)
            backlog = len(accepted) - (await totals(admin, created["id"]))[0]
            stored_at = await wait_stored(admin, created["id"], len(accepted))
            stored, incidents = await totals(admin, created["id"])
            n = len(accepted)
            accepted_rate, processed_rate = n / (last_202 - started), n / (stored_at - started)
            print(f"Alertmanager webhooks of {PER_WEBHOOK} alerts, {args.webhooks} webhooks, {args.concurrency} "
                  "senders (shared 2-core machine: Kafka, 3 services, gateway and this load generator)")
            print(f"  accepted    {accepted_rate:8.0f} alerts/s   ({n} alerts in {last_202 - started:.1f}s)")
            print(f"  processed   {processed_rate:8.0f} alerts/s   (first send -> last decision stored)")
            print(f"  accept      p50 {pct(latencies, 0.5):.1f} ms   p99 {pct(latencies, 0.99):.1f} ms per webhook")
            print(f"  lag         {stored_at - last_202:.2f} s from the last 202 to the last decision stored "
                  f"({backlog} alerts waiting then: drained at {backlog / max(1e-9, stored_at - last_202):.0f} alerts/s)")
            print(f"  dedup       {stored} alerts -> {incidents} incidents (ratio {stored / max(1, incidents):.1f})")

            # 2. storm
            storm, storm_key = await integration(admin)
            payloads = bodies(args.storm // PER_WEBHOOK, args.storm_fingerprints, "storm")
            _lat, accepted, started, last_202 = await send(session, door, storm_key, payloads, args.concurrency)
            backlog = len(accepted) - (await totals(admin, storm["id"]))[0]
            stored_at = await wait_stored(admin, storm["id"], len(accepted))
            await asyncio.sleep(2.0)  # a double count would land now
            stored, incidents = await totals(admin, storm["id"])
            ids: set[str] = set()
            offset = 0
            while offset < stored:
                page = (await admin.get("/api/alerts", params={"integration_id": storm["id"], "limit": 200,
                                                                "offset": offset, "order": "asc"})).data
                ids.update(a["id"] for a in page["items"])
                offset += 200
            lost = len(set(accepted) - ids)
            doubled = stored - len(ids)
            print(f"storm: {len(accepted)} alerts over {args.storm_fingerprints} fingerprints, processed in "
                  f"{stored_at - started:.1f}s ({len(accepted) / (stored_at - started):.0f} alerts/s)")
            print(f"  accepted in {last_202 - started:.1f}s ({len(accepted) / (last_202 - started):.0f} alerts/s); "
                  f"{backlog} waiting at the last 202, drained at {backlog / max(1e-9, stored_at - last_202):.0f} "
                  "alerts/s")
            print(f"  incidents {incidents}, alerts stored {stored}, lost {lost}, double-counted {doubled}")
            assert incidents == args.storm_fingerprints, incidents
            assert stored == len(accepted) == args.storm and lost == 0 and doubled == 0

            # 3. anchor
            bare = await anchor(session, bodies(args.webhooks, 2_000, "anchor"), args.concurrency)
            print(f"anchor: a bare aiohttp handler parsing the same webhooks: {bare:.0f} alerts/s; Vigil accepts at "
                  f"{accepted_rate / bare:.2f}x and processes at {processed_rate / bare:.2f}x of it")
    finally:
        await asyncio.to_thread(stack.stop)


if __name__ == "__main__":
    asyncio.run(main())
