"""Benchmark: `POST /api/incidents` through the gateway with concurrent clients for a fixed time.

Starts everything on this machine as `vigil up` does (a local Kafka broker, the five services and the gateway
as separate processes, SQLite files), signs in, then drives creates from C concurrent clients for T seconds
and prints throughput and p50/p99 latency. Afterwards it checks that every created incident's event reached
Kafka (the relay keeps up, nothing lost).

    .venv/bin/python bench/incident_create.py [--seconds 20] [--concurrency 32] [--warmup 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("VIGIL_CACHE_DIR", str(REPO / ".cache"))

from tests.support import api  # noqa: E402
from vigil.runtime import topics  # noqa: E402
from vigil.stack import Stack  # noqa: E402


async def drive(client: api.TenantClient, seconds: float, concurrency: int,
                with_ci: bool = True) -> tuple[list[float], int]:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    headers = {**client.headers, "Content-Type": "application/json"}
    url = client.base + "/api/incidents"
    body = b'{"title": "Database connection pool exhausted", "severity": "P1", "source": "prometheus"'
    # With a CI, every create also asks the CMDB for the blast radius over gRPC.
    body += b', "ci_ids": ["ci-001"]}' if with_ci else b"}"

    async def worker() -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            async with client.session.post(url, data=body, headers=headers) as resp:
                await resp.read()
                if resp.status != 201:
                    errors += 1
                    continue
            latencies.append(time.perf_counter() - started)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, errors


async def count_events(bootstrap: str, expected: int, timeout: float = 120.0) -> tuple[int, float]:
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(topics.INCIDENT_EVENTS, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                group_id=f"bench-{uuid.uuid4().hex}")
    await consumer.start()
    seen = 0
    started = time.perf_counter()
    try:
        while seen < expected and time.perf_counter() - started < timeout:
            for msgs in (await consumer.getmany(timeout_ms=500, max_records=10000)).values():
                seen += sum(1 for m in msgs if dict(m.headers).get("ce_type") == b"incident.created")
    finally:
        await consumer.stop()
    return seen, time.perf_counter() - started


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--warmup", type=float, default=3)
    parser.add_argument("--no-ci", action="store_true", help="create incidents without ci_ids (no CMDB lookup)")
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="vigil-bench-"))
    stack = Stack(data_dir=data_dir, env={"VIGIL_OPERATOR_EMAIL": api.OPERATOR_EMAIL,
                                          "VIGIL_OPERATOR_PASSWORD": api.OPERATOR_PASSWORD,
                                          "VIGIL_LOG_LEVEL": "WARNING"}, ephemeral_ports=True)
    try:
        stack.env["VIGIL_KAFKA_BOOTSTRAP"] = await asyncio.to_thread(stack.start_kafka)
        await asyncio.to_thread(stack.start)
        tenant_url = f"http://127.0.0.1:{stack.ports['tenant']}"
        control_url = f"http://127.0.0.1:{stack.ports['control']}"
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector) as session:
            client = (await api.tenant(session, tenant_url, control_url, "bench", roles=("responder",)))["responder"]
            warm, _ = await drive(client, args.warmup, args.concurrency, not args.no_ci)
            latencies, errors = await drive(client, args.seconds, args.concurrency, not args.no_ci)
        n = len(latencies)
        latencies.sort()
        p = lambda q: latencies[min(n - 1, int(q * n))] * 1000  # noqa: E731
        print(f"POST /api/incidents ({'without' if args.no_ci else 'with'} ci_ids): {n} created in "
              f"{args.seconds:.0f}s with {args.concurrency} clients, {errors} errors")
        print(f"  throughput  {n / args.seconds:8.0f} creates/s")
        print(f"  latency     p50 {p(0.50):.1f} ms   p90 {p(0.90):.1f} ms   p99 {p(0.99):.1f} ms   "
              f"mean {statistics.fmean(latencies) * 1000:.1f} ms")
        expected = n + len(warm)  # the warm-up's creates are on the topic too
        seen, waited = await count_events(stack.env["VIGIL_KAFKA_BOOTSTRAP"], expected)
        print(f"  kafka       {seen} of {expected} incident.created events on the topic ({waited:.1f}s to read them)")
    finally:
        await asyncio.to_thread(stack.stop)


if __name__ == "__main__":
    asyncio.run(main())
