"""Benchmark: the live event stream with many clients — the time from an incident change to its event arriving
at every connected client.

Starts everything on this machine as `vigil up` does (a local Kafka broker, the five services and the gateway
as separate processes, SQLite files), then:

1. anchor: one stream client; incidents are created at a steady rate and each `incident.created` event's
   arrival is timed from just before its `POST /api/incidents` (the path: the request, the incident service's
   transaction and outbox, the relay, Kafka, the gateway's consumer, the stream);
2. fan-out: C stream clients (default 1,000) on the same gateway, the same changes; every client times every
   event. The ratio to the anchor says what fanning out to C clients costs beyond the pipeline itself.

Everything — broker, services, gateway and the clients — shares this machine's two cores.

    .venv/bin/python bench/sse_fanout.py [--clients 1000] [--changes 100] [--rate 5] [--source DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import time
from pathlib import Path

import aiohttp
import orjson
import support  # first: puts the repository on the path and sets VIGIL_CACHE_DIR

from tests.support import api


class StreamClient:
    """One SSE connection that records when each event's resource arrived."""

    def __init__(self) -> None:
        self.arrivals: dict[str, float] = {}
        self.connected = asyncio.Event()
        self.ended = False

    async def run(self, session: aiohttp.ClientSession, url: str, headers: dict[str, str]) -> None:
        async with session.get(url, headers=headers, timeout=aiohttp.ClientTimeout(total=None)) as resp:
            assert resp.status == 200, resp.status
            async for line in resp.content:
                if line.startswith(b"retry:"):
                    self.connected.set()
                elif line.startswith(b"data: "):
                    self.arrivals[orjson.loads(line[6:])["resource"]["id"]] = time.perf_counter()
        self.ended = True


async def connect(session: aiohttp.ClientSession, url: str, headers: dict[str, str], count: int
                  ) -> tuple[list[StreamClient], list[asyncio.Task]]:
    clients = [StreamClient() for _ in range(count)]
    tasks = []
    for start in range(0, count, 100):  # in waves, so sign-in checks and accepts do not all queue at once
        batch = clients[start:start + 100]
        tasks += [asyncio.create_task(c.run(session, url, headers)) for c in batch]
        await asyncio.wait_for(asyncio.gather(*(c.connected.wait() for c in batch)), 60)
    return clients, tasks


async def changes(client: api.TenantClient, count: int, rate: float) -> dict[str, float]:
    """Create `count` incidents, `rate` a second; the time just before each request, by incident id."""
    started: dict[str, float] = {}
    for n in range(count):
        t0 = time.perf_counter()
        made = await client.post("/api/incidents", {"title": f"fan-out {n}", "severity": "P3"})
        started[made.data["id"]] = t0
        await asyncio.sleep(max(0.0, 1 / rate - (time.perf_counter() - t0)))
    return started


def gateway_rss(pid: int) -> str:
    return Path(f"/proc/{pid}/status").read_text().split("VmRSS:")[1].split("\n")[0].strip()


def percentiles(name: str, samples: list[float]) -> float:
    samples.sort()
    n = len(samples)
    p = lambda q: samples[min(n - 1, int(q * n))] * 1000  # noqa: E731
    print(f"{name}: {n} arrivals   p50 {p(0.5):.1f} ms   p90 {p(0.9):.1f} ms   p99 {p(0.99):.1f} ms   "
          f"max {samples[-1] * 1000:.1f} ms")
    return p(0.5)


async def measure(session: aiohttp.ClientSession, stream_url: str, viewer: api.TenantClient,
                  writer: api.TenantClient, clients: int, count: int, rate: float) -> tuple[list[float], int]:
    started_connecting = time.perf_counter()
    streams, tasks = await connect(session, stream_url, viewer.headers, clients)
    print(f"{clients} stream clients connected in {time.perf_counter() - started_connecting:.1f}s")
    started = await changes(writer, count, rate)
    await asyncio.sleep(5)  # the last events' way through
    latencies = [s.arrivals[i] - t0 for s in streams for i, t0 in started.items() if i in s.arrivals]
    missing = sum(1 for s in streams for i in started if i not in s.arrivals)
    dropped = sum(1 for s in streams if s.ended)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    print(f"  events expected {clients * count}, arrived {len(latencies)}, missing {missing}, "
          f"clients disconnected {dropped}")
    return latencies, missing


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--changes", type=int, default=100)
    parser.add_argument("--rate", type=float, default=5.0, help="incident changes a second")
    parser.add_argument("--source", type=lambda p: Path(p).resolve(), default=None,
                        help="run the stack's processes from this checkout (before/after a change)")
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, args.clients * 2 + 256)), hard))

    async with support.stack(args.source) as stack:
        tenant_url = f"http://127.0.0.1:{stack.ports['tenant']}"
        control_url = f"http://127.0.0.1:{stack.ports['control']}"
        stream_url = tenant_url + "/api/events/stream?types=incident.created"
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
            users = await api.tenant(session, tenant_url, control_url, "bench", roles=("responder", "viewer"))
            await support.unlimited(session, stack)  # 1,000 clients connect at once: more than a plan's reads
            viewer, writer = users["viewer"], users["responder"]
            await changes(writer, 10, args.rate)  # warm-up: connections, caches, the consumer at the end
            print("anchor: 1 stream client")
            anchor, _ = await measure(session, stream_url, viewer, writer, 1, min(args.changes, 50), args.rate)
            a50 = percentiles("  change -> event at the client", anchor)
            print(f"fan-out: {args.clients} stream clients")
            fanned, missing = await measure(session, stream_url, viewer, writer, args.clients, args.changes,
                                            args.rate)
            f50 = percentiles("  change -> event at each client", fanned)
            print(f"ratio p50 fan-out / anchor: {f50 / a50:.2f}")
        print(f"gateway RSS after the run: {gateway_rss(stack.processes['gateway'].pid)}")


if __name__ == "__main__":
    asyncio.run(main())
