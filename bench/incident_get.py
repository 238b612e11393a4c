"""Benchmark: `GET /api/incidents/{id}` through the gateway with concurrent clients for a fixed time.

Starts everything on this machine as `vigil up` does (a local Kafka broker, the five services and the gateway
as separate processes, SQLite files), signs in (or, with `--api-key`, mints an API key), creates incidents, then
reads random ones from C concurrent clients for T seconds and prints throughput and p50/p99 latency. Anchors in the
same run: `GET /healthz` on the gateway (no authentication, no service call), a bare aiohttp handler in a process
of its own (`bench/anchor.py`: the floor of HTTP on this machine), and that handler making one gRPC call to a bare
gRPC server (the floor of the design's request path: HTTP in, one gRPC call, JSON out, nothing of Vigil).

    .venv/bin/python bench/incident_get.py [--seconds 15] [--concurrency 32] [--incidents 200] [--api-key]
                                           [--source DIR] [--profile DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import random

import aiohttp
import support


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--incidents", type=int, default=200)
    support.add_arguments(parser, seconds=15)
    args = parser.parse_args()

    async with support.stack(args.source) as stack, \
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        tenant_url = f"http://127.0.0.1:{stack.ports['tenant']}"
        headers = await support.credentials(session, stack, args.api_key)
        ids = await support.create_incidents(session, tenant_url, headers, args.incidents)
        urls = [f"{tenant_url}/api/incidents/{i}" for i in ids]

        name = f"GET /api/incidents/{{id}} ({'API key' if args.api_key else 'JWT'})"
        gets = await support.run_measured(stack, args, name, lambda: session.get(random.choice(urls), headers=headers),
                                          200)
        healthz = support.report("gateway GET /healthz", *await support.drive(
            lambda: session.get(f"{tenant_url}/healthz"), 200, args.seconds, args.concurrency), args.seconds,
            args.concurrency)
        bare, floor = await support.anchor_rates(session, args)
    print(f"ratio GET by id / bare aiohttp: {gets / bare:.3f}   / the design's floor: {gets / floor:.3f}   "
          f"/ gateway healthz: {gets / healthz:.3f}")


if __name__ == "__main__":
    asyncio.run(main())
