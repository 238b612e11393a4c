"""Benchmark: sustained log ingest end to end — `POST /api/logs` JSON batches through the gateway, Kafka, the
observability service's consumer, into ClickHouse (chDB).

Starts everything on this machine as `vigil up` does (a local Kafka broker, the five services and the gateway as
separate processes), signs in, then C concurrent clients post batches of B log records for T seconds. The clock
stops when the last record sent is queryable through `GET /api/logs`. Then the observability service is stopped,
its chDB store opened here, and the rows of the run counted exactly (nothing lost, nothing doubled).

    .venv/bin/python bench/observability_ingest.py [--seconds 20] [--concurrency 8] [--batch 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp
import orjson

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("VIGIL_CACHE_DIR", str(REPO / ".cache"))

from services.observability.store import ClickHouse  # noqa: E402
from tests.support import api  # noqa: E402
from vigil.stack import Stack  # noqa: E402

SERVICES = ["checkout", "payments", "cart", "search", "auth", "inventory", "shipping", "frontend"]
LEVELS = ["info"] * 7 + ["warn"] * 2 + ["error"]


def bodies(run: str, batch: int, variants: int = 16) -> list[bytes]:
    """Pre-built request bodies (the client should not be what is measured)."""
    out = []
    now = time.time_ns()
    for v in range(variants):
        logs = [{"timestamp": now + i, "service": SERVICES[(v + i) % len(SERVICES)], "level": LEVELS[i % len(LEVELS)],
                 "body": f"{run} GET /api/orders/{i * 7919 % 100000} 200 in {i % 250} ms user={i % 977}",
                 "trace_id": uuid.uuid4().hex, "span_id": uuid.uuid4().hex[:16],
                 "attributes": {"http.method": "GET", "http.status_code": 200, "host": f"web-{i % 12}"}}
                for i in range(batch)]
        out.append(orjson.dumps({"logs": logs}))
    return out


async def drive(client: api.TenantClient, payloads: list[bytes], per_batch: int, seconds: float,
                concurrency: int) -> tuple[int, list[float], dict[int, int]]:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    sent = 0
    deadline = time.perf_counter() + seconds
    headers = {**client.headers, "Content-Type": "application/json"}
    url = client.base + "/api/logs"

    async def worker(n: int) -> None:
        nonlocal sent
        i = n
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            async with client.session.post(url, data=payloads[i % len(payloads)], headers=headers) as resp:
                await resp.read()
                statuses[resp.status] = statuses.get(resp.status, 0) + 1
                if resp.status == 202:
                    sent += per_batch
                    latencies.append(time.perf_counter() - started)
                elif resp.status in (429, 503):
                    await asyncio.sleep(float(resp.headers.get("Retry-After", "1")))
            i += concurrency

    await asyncio.gather(*(worker(n) for n in range(concurrency)))
    return sent, latencies, statuses


async def main(args: argparse.Namespace) -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="vigil-bench-obs-"))
    stack = Stack(data_dir=data_dir, env={"VIGIL_OPERATOR_EMAIL": api.OPERATOR_EMAIL,
                                          "VIGIL_OPERATOR_PASSWORD": api.OPERATOR_PASSWORD,
                                          "VIGIL_LOG_LEVEL": "WARNING", "VIGIL_MAX_BODY_BYTES": str(8 * 1024 * 1024)},
                  ephemeral_ports=True)
    stack.env["VIGIL_KAFKA_BOOTSTRAP"] = stack.start_kafka()
    try:
        await asyncio.to_thread(stack.start)
        base, control = f"http://127.0.0.1:{stack.ports['tenant']}", f"http://127.0.0.1:{stack.ports['control']}"
        connector = aiohttp.TCPConnector(limit=args.concurrency * 2)
        async with aiohttp.ClientSession(connector=connector) as session:
            client = (await api.tenant(session, base, control, roles=("responder",)))["responder"]
            run = uuid.uuid4().hex[:8]
            payloads = bodies(run, args.batch)
            print(f"warming up {args.warmup}s ...", flush=True)
            warm_sent, _, _ = await drive(client, payloads, args.batch, args.warmup, args.concurrency)
            await wait_for_marker(client, f"warm-{run}", base)
            print(f"driving {args.concurrency} clients x {args.batch}-record batches for {args.seconds}s ...", flush=True)
            started = time.perf_counter()
            sent, latencies, statuses = await drive(client, payloads, args.batch, args.seconds, args.concurrency)
            accepted_at = time.perf_counter()
            await wait_for_marker(client, f"end-{run}", base)
            landed_at = time.perf_counter()
        stack.stop_process("observability")
        ch = ClickHouse(f"chdb://{(data_dir / 'clickhouse').resolve()}")
        rows = await ch.query("SELECT count() FROM otel_logs WHERE TenantId = {t:String} AND Body LIKE {p:String}",
                              {"t": client.tenant_id, "p": f"{run} %"})
        parts = await ch.query("SELECT sum(data_compressed_bytes), sum(data_uncompressed_bytes) FROM system.parts "
                               "WHERE active AND table = 'otel_logs'")
        await ch.close()
    finally:
        stack.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
    stored = int(rows[0][0])
    lat = sorted(latencies)
    print()
    print(f"accepted (202) during the run: {sent:,} log records in {accepted_at - started:.1f}s "
          f"= {sent / (accepted_at - started):,.0f} records/s accepted")
    print(f"end to end (first POST -> last record queryable): {sent / (landed_at - started):,.0f} records/s "
          f"(drain after the last POST: {landed_at - accepted_at:.1f}s)")
    print(f"HTTP statuses: {statuses}; batch latency p50 {statistics.median(lat) * 1000:.1f} ms, "
          f"p99 {lat[int(len(lat) * 0.99) - 1] * 1000:.1f} ms")
    print(f"rows of this run in ClickHouse: {stored:,}; accepted incl. warm-up: {sent + warm_sent:,} "
          f"({'exact: nothing lost, nothing doubled' if stored == sent + warm_sent else 'MISMATCH'})")
    if parts and parts[0][1]:
        print(f"otel_logs compression: {int(parts[0][1]):,} -> {int(parts[0][0]):,} bytes "
              f"({int(parts[0][1]) / max(1, int(parts[0][0])):.1f}x)")


async def wait_for_marker(client: api.TenantClient, marker: str, base: str, timeout: float = 300.0) -> None:
    """Post one record and wait until it is queryable: everything posted before it (same tenant = same Kafka
    partition, consumed in order) has landed too."""
    r = await client.post("/api/logs", json={"logs": [{"service": "bench-marker", "body": marker}]})
    assert r.status == 202, r.body
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = await client.get("/api/logs", params={"service": "bench-marker", "q": marker,
                                                  "from": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                                        time.gmtime(time.time() - 3600))})
        if r.status == 200 and r.data["items"]:
            return
        await asyncio.sleep(0.1)
    raise TimeoutError(f"marker {marker} never landed")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--warmup", type=float, default=3)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--batch", type=int, default=1000)
    asyncio.run(main(parser.parse_args()))
