"""Benchmark: `POST /api/incidents` through the gateway with concurrent clients for a fixed time.

Starts everything on this machine as `vigil up` does (a local Kafka broker, the five services and the gateway
as separate processes, SQLite files), signs in (or, with `--api-key`, mints an API key), then drives creates from C
concurrent clients for T seconds and prints throughput and p50/p99 latency, and the same load on the anchors of the
run (`bench/anchor.py`): a bare aiohttp handler, and that handler making one gRPC call to a bare gRPC server (the
floor of the design's request path). Afterwards it checks that every
created incident's event reached Kafka (the relay keeps up, nothing lost).

    .venv/bin/python bench/incident_create.py [--seconds 20] [--concurrency 32] [--warmup 3] [--no-ci] [--api-key]
                                              [--source DIR] [--profile DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid

import aiohttp
import support

from vigil.runtime import topics

BODY = b'{"title": "Database connection pool exhausted", "severity": "P1", "source": "prometheus"'


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
    parser.add_argument("--no-ci", action="store_true", help="create incidents without ci_ids (no CMDB lookup)")
    support.add_arguments(parser, seconds=20)
    args = parser.parse_args()
    # With a CI, every create also asks the CMDB for the blast radius over gRPC.
    body = BODY + (b"}" if args.no_ci else b', "ci_ids": ["ci-001"]}')

    async with support.stack(args.source) as stack, \
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        url = f"http://127.0.0.1:{stack.ports['tenant']}/api/incidents"
        headers = await support.credentials(session, stack, args.api_key)

        def create():
            return session.post(url, data=body, headers=headers)

        warm, _ = await support.drive(create, 201, args.warmup, args.concurrency)
        name = (f"POST /api/incidents ({'without' if args.no_ci else 'with'} ci_ids, "
                f"{'API key' if args.api_key else 'JWT'})")
        with support.measured(stack, args) as cpu:
            latencies, errors = await support.drive(create, 201, args.seconds, args.concurrency)
        creates = support.report(name, latencies, errors, args.seconds, args.concurrency)
        await cpu.settle()  # every create's event is consumed (auto-RCA, webhooks, stream) on this machine too
        cpu.report(len(latencies))
        bare, floor = await support.anchor_rates(session, args, "POST", body, 201)
        print(f"ratio creates / bare aiohttp: {creates / bare:.3f}   / the design's floor: {creates / floor:.3f}")
        expected = len(latencies) + len(warm)  # the warm-up's creates are on the topic too
        seen, waited = await count_events(stack.env["VIGIL_KAFKA_BOOTSTRAP"], expected)
        print(f"  kafka       {seen} of {expected} incident.created events on the topic ({waited:.1f}s to read them)")


if __name__ == "__main__":
    asyncio.run(main())
