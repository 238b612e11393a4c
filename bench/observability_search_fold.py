"""Benchmark: what Unicode-folded log search costs, on the data shape of bench/observability_query.py.

Generates N log rows (default 3 M, 10 tenants) in ClickHouse, then times the same text search written several
ways: the old ASCII-only `lower(Body) LIKE`, folding at query time (positionCaseInsensitiveUTF8, lowerUTF8,
caseFoldUTF8, and the full fold the store uses), and the `BodySearch` column folded at insert (what the store
queries). Three shapes: the benchmark's filtered query (tenant + service + level + text, 1 h) and text-only
searches over 1 h and 24 h. Prints p50 and max per variant, and the on-disk size of Body and BodySearch.

    .venv/bin/python bench/observability_search_fold.py [--rows 3000000] [--runs 20]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from observability_query import generate  # noqa: E402

from services.observability.store import FOLD, ClickHouse, migrate  # noqa: E402

NS = 1_000_000_000
VARIANTS = {
    "lower(Body) LIKE (ASCII only, before)": "lower(Body) LIKE {p:String}",
    "positionCaseInsensitiveUTF8(Body)": "positionCaseInsensitiveUTF8(Body, {q:String}) > 0",
    "lowerUTF8(Body) LIKE": "lowerUTF8(Body) LIKE lowerUTF8({p:String})",
    "caseFoldUTF8(Body) LIKE": "caseFoldUTF8(Body) LIKE caseFoldUTF8({p:String})",
    "full fold of Body at query time": f"{FOLD.format('Body')} LIKE {FOLD.format('{p:String}')}",
    "BodySearch folded at insert (used)": f"BodySearch LIKE {FOLD.format('{p:String}')}",
}


async def main(args: argparse.Namespace) -> None:
    scratch = tempfile.mkdtemp(prefix="vigil-bench-fold-")
    ch = ClickHouse(f"chdb://{scratch}/ch")
    try:
        await migrate(ch)
        await generate(ch, args.rows)
        sizes = await ch.query(
            "SELECT column, sum(column_data_compressed_bytes) FROM system.parts_columns WHERE active "
            "AND table = 'otel_logs' AND column IN ('Body', 'BodySearch') GROUP BY column ORDER BY column")
        print(f"{args.rows:,} rows; on disk: " + ", ".join(f"{c} {int(b) / 2**20:.1f} MiB" for c, b in sizes))
        now = time.time_ns()
        rnd = random.Random(7)
        for shape in ("filtered (service+level+text, 1h)", "text only, 1h", "text only, 24h"):
            for name, condition in VARIANTS.items():
                latencies = []
                for _ in range(args.runs + 3):
                    end = now - rnd.randint(0, 22 * 3600) * NS
                    start = end - (86400 if shape.endswith("24h") else 3600) * NS
                    where = ("TenantId = 'bench-t3' AND TimestampTime >= toDateTime({s:Int64}) "
                             "AND TimestampTime <= toDateTime({e:Int64})")
                    if shape.startswith("filtered"):
                        where += (f" AND ServiceName = 'svc-{rnd.randrange(20)}' AND SeverityNumber > 0 "
                                  "AND intDiv(SeverityNumber - 1, 4) IN [4]")
                    started = time.perf_counter()
                    await ch.query(f"SELECT Timestamp, Body FROM otel_logs WHERE {where} AND {condition} "
                                   "ORDER BY Timestamp DESC LIMIT 100",
                                   {"s": start // NS, "e": end // NS, "p": "%logged%", "q": "logged"})
                    latencies.append((time.perf_counter() - started) * 1000)
                latencies = sorted(latencies[3:])
                print(f"{shape:34s} {name:38s} p50 {statistics.median(latencies):7.1f} ms  "
                      f"max {latencies[-1]:7.1f} ms", flush=True)
    finally:
        await ch.close()
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=3_000_000)
    parser.add_argument("--runs", type=int, default=20)
    asyncio.run(main(parser.parse_args()))
