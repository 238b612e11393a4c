"""Benchmark: `GET /api/incidents/{id}` through the gateway with concurrent clients for a fixed time.

Starts everything on this machine as `vigil up` does (a local Kafka broker, the five services and the gateway
as separate processes, SQLite files), signs in, creates incidents, then reads random ones from C concurrent
clients for T seconds and prints throughput and p50/p99 latency. The anchor in the same run is `GET /healthz`
on the same gateway (no authentication, no service call): the ratio says what a read costs beyond the
gateway's bare HTTP floor.

    .venv/bin/python bench/incident_get.py [--seconds 15] [--concurrency 32] [--incidents 200]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("VIGIL_CACHE_DIR", str(REPO / ".cache"))

from tests.support import api  # noqa: E402
from vigil.stack import Stack  # noqa: E402


async def drive(session: aiohttp.ClientSession, urls: list[str], headers: dict[str, str], seconds: float,
                concurrency: int) -> tuple[list[float], int]:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            async with session.get(random.choice(urls), headers=headers) as resp:
                await resp.read()
                if resp.status != 200:
                    errors += 1
                    continue
            latencies.append(time.perf_counter() - started)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, errors


def report(name: str, latencies: list[float], errors: int, seconds: float, concurrency: int) -> float:
    n = len(latencies)
    latencies.sort()
    p = lambda q: latencies[min(n - 1, int(q * n))] * 1000  # noqa: E731
    rate = n / seconds
    print(f"{name}: {n} answers in {seconds:.0f}s with {concurrency} clients, {errors} errors")
    print(f"  throughput  {rate:8.0f} /s")
    print(f"  latency     p50 {p(0.50):.1f} ms   p90 {p(0.90):.1f} ms   p99 {p(0.99):.1f} ms   "
          f"mean {statistics.fmean(latencies) * 1000:.1f} ms")
    return rate


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--incidents", type=int, default=200)
    parser.add_argument("--warmup", type=float, default=3)
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
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
            client = (await api.tenant(session, tenant_url, control_url, "bench", roles=("responder",)))["responder"]
            ids = []
            for i in range(args.incidents):
                made = await client.post("/api/incidents", {"title": f"incident {i}", "severity": "P2",
                                                            "labels": {"team": "db", "n": i}})
                ids.append(made.data["id"])
            urls = [f"{tenant_url}/api/incidents/{i}" for i in ids]
            await drive(session, urls, client.headers, args.warmup, args.concurrency)
            gets = report("GET /api/incidents/{id}", *await drive(session, urls, client.headers, args.seconds,
                                                                 args.concurrency), args.seconds, args.concurrency)
            anchor = report("anchor GET /healthz", *await drive(session, [f"{tenant_url}/healthz"], {}, args.seconds,
                                                               args.concurrency), args.seconds, args.concurrency)
        print(f"ratio GET by id / healthz: {gets / anchor:.2f}")
    finally:
        await asyncio.to_thread(stack.stop)


if __name__ == "__main__":
    asyncio.run(main())
