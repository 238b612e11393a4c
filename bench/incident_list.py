"""Benchmark: `GET /api/incidents?status=…&severity=…&limit=50` (a filtered list page) through the gateway with
concurrent clients for a fixed time.

Starts everything on this machine as `vigil up` does (a local Kafka broker, the five services and the gateway
as separate processes, SQLite files), signs in (or, with `--api-key`, mints an API key), creates incidents of the
four severities, then lists the triggered P2 ones (a page of 50 of about a quarter of them, with the total) from C
concurrent clients for T seconds and prints throughput and p50/p99 latency, and the same load on the anchors of the
run (`bench/anchor.py`): a bare aiohttp handler, and that handler making one gRPC call to a bare gRPC server (the
floor of the design's request path).

    .venv/bin/python bench/incident_list.py [--seconds 15] [--concurrency 32] [--incidents 400] [--api-key]
                                            [--source DIR] [--profile DIR]
"""

from __future__ import annotations

import argparse
import asyncio

import aiohttp
import support


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--incidents", type=int, default=400)
    support.add_arguments(parser, seconds=15)
    args = parser.parse_args()

    async with support.stack(args.source) as stack, \
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        tenant_url = f"http://127.0.0.1:{stack.ports['tenant']}"
        headers = await support.credentials(session, stack, args.api_key)
        await support.create_incidents(session, tenant_url, headers, args.incidents,
                                       severities=("P1", "P2", "P3", "P4"))
        url = f"{tenant_url}/api/incidents?status=triggered&severity=P2&limit=50"
        async with session.get(url, headers=headers) as first:
            page = (await first.json())
            assert first.status == 200 and len(page["data"]["items"]) == min(50, args.incidents // 4), str(page)[:300]

        name = f"GET /api/incidents?status=triggered&severity=P2&limit=50 ({'API key' if args.api_key else 'JWT'})"
        lists = await support.run_measured(stack, args, name, lambda: session.get(url, headers=headers), 200)
        bare, floor = await support.anchor_rates(session, args)
    print(f"ratio list / bare aiohttp: {lists / bare:.3f}   / the design's floor: {lists / floor:.3f}")


if __name__ == "__main__":
    asyncio.run(main())
