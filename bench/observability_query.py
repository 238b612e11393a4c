"""Benchmark: the ClickHouse side of the observability service, in process on chDB (or VIGIL_CLICKHOUSE_URL).

1. Raw insert path: the consumer's INSERT of newline-delimited JSON rows (the telemetry topics' row format),
   in 200,000-row batches with dedup tokens, as the consumer does it. Prints rows/s.
2. A table of >= 10 M log rows and >= 10 M metric points over the last 24 h, generated directly inside ClickHouse
   (INSERT ... SELECT FROM numbers(N): realistic shapes, 10 tenants, 20 services, message templates, 20 metrics
   x 500 series), then query latency through the service layer (validation, SQL building, parameter binding,
   result mapping — what the gRPC handlers run):
   - a filtered log query: one tenant, one service, level error, a text search, a 1 h window, limit 100;
   - a 24 h metrics range query at a 60 s step (avg by label, and rate of a counter).
   Prints p50/p99 over the runs and the compression ratio of both tables.

    .venv/bin/python bench/observability_query.py [--rows 10000000] [--runs 100]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from gateway.ingest.rows import log_row  # noqa: E402
from services.observability.service import (  # noqa: E402
    NS,
    LogQuery,
    MetricQuery,
    ObservabilityService,
    TimeRange,
)
from services.observability.store import ClickHouse, TelemetryStore, migrate  # noqa: E402
from vigil.runtime.context import CallContext  # noqa: E402

TENANTS = 10
SERVICES = 20
METRICS = 20
SERIES = 500


async def raw_insert(ch: ClickHouse, total: int = 1_000_000, batch: int = 200_000) -> float:
    now = time.time_ns()
    rows = [log_row("bench-raw", 7, ts_ns=now - i * 1000, service=f"svc-{i % SERVICES}", severity="INFO",
                    severity_no=9, body=f"GET /api/orders/{i % 99991} 200 in {i % 250} ms",
                    trace_id=f"{i:032x}", span_id=f"{i:016x}", attributes={"host": f"web-{i % 12}"})
            for i in range(batch)]
    block = b"".join(rows)
    started = time.perf_counter()
    for n in range(total // batch):
        await ch.insert_json_rows("otel_logs", block, f"bench-raw-{time.time_ns()}-{n}")
    return total / (time.perf_counter() - started)


async def generate(ch: ClickHouse, rows: int) -> None:
    day_start = time.time_ns() // NS - 86400
    await ch.command(f"""
        INSERT INTO otel_logs (TenantId, Timestamp, RecordId, TraceId, SpanId, SeverityText, SeverityNumber,
                               ServiceName, Body, ResourceAttributes, LogAttributes, RetentionDays)
        SELECT concat('bench-t', toString(number % {TENANTS})),
               fromUnixTimestamp64Nano(toInt64(({day_start} + intDiv(number * 86400, {rows})) * 1000000000
                                               + number % 1000000000)),
               -- as the gateway assigns it: a random prefix per 1000-record request and the record's index
               bitOr(bitShiftLeft(cityHash64(intDiv(number, 1000)) % 17592186044416, 20), number % 1000),
               lower(hex(cityHash64(number, 1))) || lower(hex(cityHash64(number, 2))),
               lower(hex(cityHash64(number, 3))),
               ['INFO', 'INFO', 'INFO', 'INFO', 'INFO', 'INFO', 'DEBUG', 'WARN', 'WARN', 'ERROR'][number % 10 + 1],
               [9, 9, 9, 9, 9, 9, 5, 13, 13, 17][number % 10 + 1],
               concat('svc-', toString(intDiv(number, {TENANTS}) % {SERVICES})),
               [concat('GET /api/orders/', toString(number % 99991), ' 200 in ', toString(number % 250), ' ms'),
                concat('user ', toString(number % 977), ' logged in from 10.0.', toString(number % 255), '.7'),
                concat('payment declined for order ', toString(number % 50000), ' after 3 attempts'),
                concat('cache miss for key session:', lower(hex(cityHash64(number))))][number % 4 + 1],
               map('service.version', '1.4.2', 'host.name', concat('node-', toString(number % 40))),
               map('http.method', 'GET', 'http.status_code', toString([200, 200, 200, 404, 500][number % 5 + 1])),
               30
        FROM numbers({rows})
        SETTINGS max_insert_threads = 2, max_block_size = 1000000""")
    points = rows
    await ch.command(f"""
        INSERT INTO otel_metrics (TenantId, MetricName, MetricType, ServiceName, Attributes, StartTimeUnix, TimeUnix,
                                  Value, AggregationTemporality, IsMonotonic, RetentionDays)
        SELECT 'bench-t0',
               concat('metric_', toString(intDiv(number % {METRICS * SERIES}, {SERIES}))),
               if(intDiv(number % {METRICS * SERIES}, {SERIES}) % 2 = 0, 'gauge', 'sum'),
               concat('svc-', toString(number % {SERIES} % {SERVICES})),
               map('host', concat('node-', toString(number % {SERIES})), 'region',
                   ['eu', 'us', 'ap'][number % 3 + 1]),
               fromUnixTimestamp64Nano(toInt64({day_start}) * 1000000000),
               fromUnixTimestamp64Nano(toInt64(({day_start} + intDiv(intDiv(number, {METRICS * SERIES}) * 86400,
                                                               {points // (METRICS * SERIES)})) * 1000000000)),
               if(intDiv(number % {METRICS * SERIES}, {SERIES}) % 2 = 0,
                  50 + 20 * sin(number / 1000.0) + (cityHash64(number) % 100) / 10.0,
                  toFloat64(intDiv(number, {METRICS * SERIES}) * (1 + number % 7))),
               2, intDiv(number % {METRICS * SERIES}, {SERIES}) % 2 = 1, 30
        FROM numbers({points})
        SETTINGS max_insert_threads = 2, max_block_size = 1000000""")
    await ch.command("OPTIMIZE TABLE otel_logs FINAL")
    await ch.command("OPTIMIZE TABLE otel_metrics FINAL")


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p * (len(ordered) - 1))))]


async def timed(runs: int, make) -> list[float]:
    out = []
    for i in range(runs):
        call = make(i)
        started = time.perf_counter()
        await call
        out.append((time.perf_counter() - started) * 1000)
    return out


async def main(args: argparse.Namespace) -> None:
    scratch = None if os.environ.get("VIGIL_CLICKHOUSE_URL") else tempfile.mkdtemp(prefix="vigil-bench-ch-")
    url = os.environ.get("VIGIL_CLICKHOUSE_URL") or f"chdb://{scratch}/ch"
    ch = ClickHouse(url)
    await migrate(ch)
    print(f"ClickHouse: {url}", flush=True)
    rate = await raw_insert(ch)
    print(f"raw insert path (JSONEachRow, 200k-row batches, dedup tokens): {rate:,.0f} rows/s", flush=True)

    started = time.perf_counter()
    await generate(ch, args.rows)
    counts = await ch.query("SELECT (SELECT count() FROM otel_logs), (SELECT count() FROM otel_metrics)")
    print(f"generated in ClickHouse: {counts[0][0]:,} log rows, {counts[0][1]:,} metric points "
          f"in {time.perf_counter() - started:.0f}s", flush=True)

    service = ObservabilityService(TelemetryStore(ch))
    ctx = CallContext(tenant_id="bench-t3")
    now = time.time_ns()
    rnd = random.Random(7)

    def log_query(_i: int):
        end = now - rnd.randint(0, 22 * 3600) * NS
        return service.logs(ctx, LogQuery(window=TimeRange(end - 3600 * NS, end),
                                          services=(f"svc-{rnd.randrange(SERVICES)}",), levels=("error",),
                                          q="declined", limit=100))

    def log_page(_i: int):
        end = now - rnd.randint(0, 22 * 3600) * NS
        return service.logs(ctx, LogQuery(window=TimeRange(end - 3600 * NS, end), limit=100))

    metrics_ctx = CallContext(tenant_id="bench-t0")

    def metric_avg(_i: int):
        return service.metrics(metrics_ctx, MetricQuery(
            metric_name=f"metric_{2 * rnd.randrange(METRICS // 2)}", window=TimeRange(now - 86400 * NS, now),
            step_seconds=60, aggregation="avg", group_by=("region",)))

    def metric_rate(_i: int):
        return service.metrics(metrics_ctx, MetricQuery(
            metric_name=f"metric_{2 * rnd.randrange(METRICS // 2) + 1}", window=TimeRange(now - 86400 * NS, now),
            step_seconds=60, aggregation="rate"))

    for name, make in (("filtered log query (service+level+text, 1h, limit 100)", log_query),
                       ("log page (1h window, newest 100)", log_page),
                       ("metrics 24h @60s avg by region", metric_avg),
                       ("metrics 24h @60s rate (counter)", metric_rate)):
        await timed(3, make)  # warm caches
        lat = await timed(args.runs, make)
        print(f"{name}: p50 {statistics.median(lat):.1f} ms, p99 {pct(lat, 0.99):.1f} ms ({args.runs} runs)",
              flush=True)
    parts = await ch.query(
        "SELECT table, sum(rows), sum(data_compressed_bytes), sum(data_uncompressed_bytes) FROM system.parts "
        "WHERE active AND table IN ('otel_logs', 'otel_metrics') GROUP BY table ORDER BY table")
    for table, rows, compressed, raw in parts:
        print(f"{table}: {int(rows):,} rows, {int(raw) / 2**20:,.0f} MiB -> {int(compressed) / 2**20:,.0f} MiB "
              f"on disk, compression {int(raw) / max(1, int(compressed)):.1f}x")
    await ch.close()
    if scratch:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=100)
    asyncio.run(main(parser.parse_args()))
