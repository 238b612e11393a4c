"""What a Vigil gRPC server adds to a call: the CPU per unary call of a server process, driven by a client in
another process (32 calls in flight), for a bare grpc.aio server (the anchor of `anchor.py grpc`), the same with
the metadata the gateway sends (tenant, actor, role, request id, idempotency key, traceparent), and a server
built as every Vigil service builds one (`grpcio.GrpcServer`: health, reflection, the context interceptor, the
caller bound and the trace continued per call, telemetry set up as in a service that exports nothing). The
handler answers 200 bytes at once, so the differences are the server's own work per call.

    .venv/bin/python bench/grpc_server_call.py [--seconds 8] [--rounds 2] [--source DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import anchor
import grpc
import uvloop

REPO = Path(__file__).resolve().parent.parent
METADATA = (("x-tenant-id", "bench"), ("x-vigil-actor", "user:responder@bench"), ("x-vigil-role", "responder"),
            ("x-request-id", "0f3c52d1e8d4d0a9a535e1c2f6b7a10a"), ("x-vigil-idempotency-key", ""),
            ("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"))
VARIANTS = {"bare": False, "bare+metadata": True, "vigil": True}  # server kind -> the client sends METADATA


async def serve(port: int, kind: str) -> None:
    if kind != "vigil":
        await anchor.serve_grpc(port)
        return
    from vigil.runtime import grpcio, telemetry

    telemetry.setup("bench", "WARNING")
    server = grpcio.GrpcServer("127.0.0.1", port)
    server.add(lambda h, srv: srv.add_generic_rpc_handlers((h,)), anchor.anchor_service(), "bench.Anchor")
    await server.start()
    await asyncio.Event().wait()


async def drive(port: int, seconds: float, metadata, concurrency: int = 32) -> int:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        call = channel.unary_unary(anchor.METHOD)  # bytes in, bytes out
        await call(anchor.REQUEST, timeout=10, wait_for_ready=True)
        done, stop = 0, time.monotonic() + seconds

        async def loop() -> None:
            nonlocal done
            while time.monotonic() < stop:
                await call(anchor.REQUEST, timeout=10, metadata=metadata)
                done += 1

        await asyncio.gather(*(loop() for _ in range(concurrency)))
        return done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--source", type=lambda p: Path(p).resolve(), default=REPO,
                        help="import Vigil's server from this checkout (e.g. an export of the commit before a change)")
    parser.add_argument("--serve", nargs=2, metavar=("PORT", "KIND"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    uvloop.install()
    if args.serve:
        asyncio.run(serve(int(args.serve[0]), args.serve[1]))  # Vigil from PYTHONPATH: the --source checkout
        return

    import support  # after the child's branch: it imports Vigil from this checkout

    for _ in range(args.rounds):
        per_call = {}
        for kind, with_metadata in VARIANTS.items():
            port = support.free_port()
            server = subprocess.Popen([sys.executable, __file__, "--serve", str(port), kind],
                                      env={**os.environ, "PYTHONPATH": str(args.source)})
            try:
                asyncio.run(drive(port, 1, None))  # connected and warm
                before, started = support.cpu_seconds(server.pid), time.monotonic()
                calls = asyncio.run(drive(port, args.seconds, METADATA if with_metadata else None))
                per_call[kind] = (support.cpu_seconds(server.pid) - before) / calls * 1000
                rate = calls / (time.monotonic() - started)
            finally:
                server.kill()
                server.wait()
            print(f"{kind:14s} {rate:7.0f} calls/s   server cpu/call {per_call[kind]:.3f} ms"
                  f"   / bare {per_call[kind] / per_call['bare']:.2f}", flush=True)


if __name__ == "__main__":
    main()
