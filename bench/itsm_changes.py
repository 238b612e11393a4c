"""Benchmark: change requests with conflict detection, and the AI's "what changed on these CIs in this
window" query, through the gateway.

Starts everything on this machine as `vigil up` does (a local Kafka broker, the five services and the gateway
as separate processes, SQLite files), builds a CMDB through the bulk import, then creates changes one at a
time on random CIs with random windows over a month (each create asks the CMDB for linked CIs in both
directions and checks overlapping changes and blackouts), then times `GET /api/itsm/changes?ci_id=…&from=…&to=…`.
Prints p50/p99 latency of both, the share of changes flagged and the itsm process's RSS.

    .venv/bin/python bench/itsm_changes.py [--items 10000] [--relations 30000] [--changes 2000] [--queries 500]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import orjson

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("VIGIL_CACHE_DIR", str(REPO / ".cache"))

from bench.cmdb_impact import build, pct, post, rss_mb  # noqa: E402
from tests.support import api  # noqa: E402
from vigil.stack import Stack  # noqa: E402

T0 = datetime(2027, 1, 1, tzinfo=UTC)


def iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


async def create_changes(client: api.TenantClient, ids: list[str], n: int,
                         rnd: random.Random) -> tuple[list[float], int, int]:
    latencies, flagged, incomplete = [], 0, 0
    for i in range(n):
        start = T0 + timedelta(minutes=rnd.randrange(30 * 24 * 60))
        body = {"title": f"change {i}", "type": rnd.choice(["normal", "normal", "standard", "emergency"]),
                "risk_level": rnd.choice(["low", "medium", "high"]), "requested_start": iso(start),
                "requested_end": iso(start + timedelta(hours=rnd.choice([1, 2, 4]))),
                "ci_ids": rnd.sample(ids, rnd.randint(1, 3))}
        started = time.perf_counter()
        data = await post(client, "/api/itsm/changes", body)
        latencies.append(time.perf_counter() - started)
        flagged += bool(data["conflicts"])
        incomplete += data["conflict_check"] != "complete"
    return latencies, flagged, incomplete


async def query(client: api.TenantClient, ids: list[str], n: int, rnd: random.Random) -> tuple[list[float], int]:
    latencies, found = [], 0
    for _ in range(n):
        end = T0 + timedelta(minutes=rnd.randrange(30 * 24 * 60))
        cis = ",".join(rnd.sample(ids, 20))
        url = f"{client.base}/api/itsm/changes?ci_id={cis}&from={iso(end - timedelta(hours=24))}&to={iso(end)}"
        started = time.perf_counter()
        async with client.session.get(url, headers=client.headers) as resp:
            raw = await resp.read()
        latencies.append(time.perf_counter() - started)
        if resp.status != 200:
            raise SystemExit(f"list: {resp.status} {raw[:300]!r}")
        found += orjson.loads(raw)["data"]["total"]
    return latencies, found


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--relations", type=int, default=30_000)
    parser.add_argument("--changes", type=int, default=2_000)
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    rnd = random.Random(args.seed)

    data_dir = Path(tempfile.mkdtemp(prefix="vigil-bench-"))
    stack = Stack(data_dir=data_dir, env={"VIGIL_OPERATOR_EMAIL": api.OPERATOR_EMAIL,
                                          "VIGIL_OPERATOR_PASSWORD": api.OPERATOR_PASSWORD,
                                          "VIGIL_LOG_LEVEL": "WARNING",
                                          "VIGIL_MAX_BODY_BYTES": str(16 * 1024 * 1024)},
                  ephemeral_ports=True)
    try:
        stack.env["VIGIL_KAFKA_BOOTSTRAP"] = await asyncio.to_thread(stack.start_kafka)
        await asyncio.to_thread(stack.start)
        tenant_url = f"http://127.0.0.1:{stack.ports['tenant']}"
        control_url = f"http://127.0.0.1:{stack.ports['control']}"
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0),
                                         timeout=aiohttp.ClientTimeout(total=600)) as session:
            client = (await api.tenant(session, tenant_url, control_url, "bench", roles=("admin",)))["admin"]
            ids = await build(client, args.items, args.relations, rnd)
            await post(client, "/api/itsm/blackouts", {"name": "new year freeze", "start": iso(T0),
                                                       "end": iso(T0 + timedelta(days=2))})
            started = time.perf_counter()
            create_lat, flagged, incomplete = await create_changes(client, ids, args.changes, rnd)
            create_s = time.perf_counter() - started
            query_lat, found = await query(client, ids, args.queries, rnd)
            itsm_rss = rss_mb(stack.processes["itsm"].pid)
        print(f"ITSM: {args.changes} changes on a CMDB of {args.items} CIs / {args.relations} relations, "
              f"created one at a time in {create_s:.1f}s")
        print(f"  create change (with conflict detection)  p50 {pct(create_lat, 0.5):6.1f} ms   "
              f"p99 {pct(create_lat, 0.99):6.1f} ms   flagged {flagged / args.changes:.0%}   "
              f"incomplete checks {incomplete}")
        print(f"  changes on 20 CIs in a 24h window          p50 {pct(query_lat, 0.5):6.1f} ms   "
              f"p99 {pct(query_lat, 0.99):6.1f} ms   {found / args.queries:.1f} changes per answer")
        print(f"  itsm RSS {itsm_rss:.0f} MB")
    finally:
        await asyncio.to_thread(stack.stop)


if __name__ == "__main__":
    asyncio.run(main())
