"""Benchmark: a CMDB of 100,000 CIs and 300,000 relations built through the bulk import, then blast radius
(`GET /api/cmdb/impact`) through the gateway from random CIs.

Starts everything on this machine as `vigil up` does (a local Kafka broker, the five services and the gateway
as separate processes, SQLite files), signs in, imports the graph in calls of 10,000 items / 50,000 relations,
then times impact queries one at a time (latency, not throughput): depth-limited (depth 4) and unlimited.
Prints import time, the CMDB process's RSS, and p50/p99 impact latency with how much of the graph was reached.

    .venv/bin/python bench/cmdb_impact.py [--items 100000] [--relations 300000] [--queries 500]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import orjson

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("VIGIL_CACHE_DIR", str(REPO / ".cache"))

from tests.support import api  # noqa: E402
from vigil.stack import Stack  # noqa: E402

CLASSES = ["server", "database", "service", "application", "load_balancer", "queue", "cache", "network",
           "k8s_cluster"]
ENVS = ["production", "staging", "dev"]
CRITS = ["low", "medium", "high", "critical"]
# Mostly dependencies, some hosting, network and membership edges.
TYPES = ["depends_on"] * 5 + ["runs_on"] * 2 + ["uses", "connects_to", "member_of"]
ITEMS_PER_CALL = 10_000
RELATIONS_PER_CALL = 50_000


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def post(client: api.TenantClient, path: str, payload: dict) -> dict:
    headers = {**client.headers, "Content-Type": "application/json"}
    async with client.session.post(client.base + path, data=orjson.dumps(payload), headers=headers) as resp:
        body = orjson.loads(await resp.read())
        if resp.status != 201:
            raise SystemExit(f"{path}: {resp.status} {str(body)[:500]}")
        return body["data"]


async def build(client: api.TenantClient, n_items: int, n_relations: int, rnd: random.Random) -> list[str]:
    ids: list[str] = []
    for start in range(0, n_items, ITEMS_PER_CALL):
        rows = [{"name": f"ci-{i:06d}", "class": rnd.choice(CLASSES), "environment": rnd.choice(ENVS),
                 "criticality": rnd.choice(CRITS), "owner": f"team-{i % 50}", "attributes": {"rack": i % 400}}
                for i in range(start, min(n_items, start + ITEMS_PER_CALL))]
        ids.extend((await post(client, "/api/cmdb/import", {"items": rows}))["item_ids"])
    seen: set[tuple[int, int, str]] = set()
    rels: list[dict] = []
    while len(seen) < n_relations:
        a, b = rnd.randrange(n_items), rnd.randrange(n_items)
        t = rnd.choice(TYPES)
        if a != b and (a, b, t) not in seen:
            seen.add((a, b, t))
            rels.append({"source_id": ids[a], "target_id": ids[b], "type": t})
    for start in range(0, len(rels), RELATIONS_PER_CALL):
        await post(client, "/api/cmdb/import", {"relations": rels[start:start + RELATIONS_PER_CALL]})
    return ids


async def drained(bootstrap: str, imports: int, timeout: float = 600.0) -> float:
    """Wait until the last chunk of every import is on Kafka (the outbox relay is done), so the timed queries
    do not share the CMDB's event loop with the relay. Returns the seconds waited."""
    from aiokafka import AIOKafkaConsumer

    from vigil.cmdb.v1 import cmdb_pb2
    from vigil.runtime import topics

    consumer = AIOKafkaConsumer(topics.CMDB_EVENTS, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                group_id=f"bench-{random.random()}", max_partition_fetch_bytes=8 * 1024 * 1024)
    started = time.perf_counter()
    await consumer.start()
    done = 0
    try:
        while done < imports and time.perf_counter() - started < timeout:
            for msgs in (await consumer.getmany(timeout_ms=500)).values():
                for m in msgs:
                    if dict(m.headers).get("ce_type") == b"ci.imported":
                        event = cmdb_pb2.CiEvent.FromString(m.value)
                        done += event.chunk == event.chunks
    finally:
        await consumer.stop()
    return time.perf_counter() - started


async def measure(client: api.TenantClient, ids: list[str], depth: int | None, queries: int,
                  rnd: random.Random) -> tuple[list[float], list[int]]:
    latencies, reached = [], []
    for _ in range(queries):
        if depth is None:  # the gateway and gRPC round trip alone, for reference
            url = f"{client.base}/api/cmdb/relation-types"
        else:
            url = f"{client.base}/api/cmdb/impact?ci_id={rnd.choice(ids)}&depth={depth}&limit=50"
        started = time.perf_counter()
        async with client.session.get(url, headers=client.headers) as resp:
            raw = await resp.read()
        latencies.append(time.perf_counter() - started)
        if resp.status != 200:
            raise SystemExit(f"impact: {resp.status} {raw[:300]!r}")
        reached.append(orjson.loads(raw)["data"]["total"])
    return latencies, reached


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--relations", type=int, default=300_000)
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rnd = random.Random(args.seed)

    data_dir = Path(tempfile.mkdtemp(prefix="vigil-bench-"))
    stack = Stack(data_dir=data_dir, env={"VIGIL_OPERATOR_EMAIL": api.OPERATOR_EMAIL,
                                          "VIGIL_OPERATOR_PASSWORD": api.OPERATOR_PASSWORD,
                                          "VIGIL_LOG_LEVEL": "WARNING",
                                          # one import call carries up to 50,000 relations (~6 MB of JSON)
                                          "VIGIL_MAX_BODY_BYTES": str(16 * 1024 * 1024)},
                  ephemeral_ports=True)
    try:
        stack.env["VIGIL_KAFKA_BOOTSTRAP"] = await asyncio.to_thread(stack.start_kafka)
        await asyncio.to_thread(stack.start)
        tenant_url = f"http://127.0.0.1:{stack.ports['tenant']}"
        control_url = f"http://127.0.0.1:{stack.ports['control']}"
        cmdb_pid = stack.processes["cmdb"].pid
        rss_start = rss_mb(cmdb_pid)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0),
                                         timeout=aiohttp.ClientTimeout(total=600)) as session:
            client = (await api.tenant(session, tenant_url, control_url, "bench", roles=("admin",)))["admin"]
            started = time.perf_counter()
            ids = await build(client, args.items, args.relations, rnd)
            import_s = time.perf_counter() - started
            rss_loaded = rss_mb(cmdb_pid)
            calls = -(-args.items // ITEMS_PER_CALL) + -(-args.relations // RELATIONS_PER_CALL)
            waited = await drained(stack.env["VIGIL_KAFKA_BOOTSTRAP"], calls)
            await measure(client, ids, 4, 20, rnd)  # warm-up
            results = {depth: await measure(client, ids, depth, args.queries, rnd) for depth in (None, 4, 0)}
            rss_end = rss_mb(cmdb_pid)
        print(f"CMDB bulk import: {args.items} CIs + {args.relations} relations through the gateway "
              f"in {import_s:.1f}s ({(args.items + args.relations) / import_s:,.0f} rows/s)")
        print(f"  outbox       the ci.imported events were all on Kafka {waited:.1f}s after the last import")
        print(f"  cmdb RSS     {rss_start:.0f} MB at start, {rss_loaded:.0f} MB after import, "
              f"{rss_end:.0f} MB after the queries")
        for depth, (lat, reached) in results.items():
            if depth is None:
                print(f"  baseline (GET /api/cmdb/relation-types) p50 {pct(lat, 0.50):6.1f} ms   "
                      f"p99 {pct(lat, 0.99):6.1f} ms")
                continue
            label = "depth 4  " if depth else "unlimited"
            print(f"  impact {label} p50 {pct(lat, 0.50):6.1f} ms   p99 {pct(lat, 0.99):6.1f} ms   "
                  f"max {max(lat) * 1000:6.1f} ms   reached median {sorted(reached)[len(reached) // 2]:,} CIs "
                  f"(max {max(reached):,}) over {len(lat)} queries")
    finally:
        await asyncio.to_thread(stack.stop)


if __name__ == "__main__":
    asyncio.run(main())
