"""The anchors of the gateway benchmarks, each a process of its own so that it shares the machine as Vigil's do,
on the same libraries and event loop as the gateway and the services (aiohttp, grpc.aio, uvloop):

    .venv/bin/python bench/anchor.py http PORT                  a bare aiohttp application: one handler that
                                                                 answers a small JSON envelope, nothing else
    .venv/bin/python bench/anchor.py http PORT --grpc ADDRESS   the same handler, making one unary gRPC call to
                                                                 ADDRESS before it answers
    .venv/bin/python bench/anchor.py grpc PORT                  a bare grpc.aio server that answers that call

The second with the third is the floor of the design's request path — HTTP in, one gRPC call to another process,
JSON out — with nothing of Vigil in it: no middleware, no authentication, no database, no proto conversion.
"""

from __future__ import annotations

import argparse
import asyncio

import grpc
import orjson
import uvloop
from aiohttp import web

BODY = orjson.dumps({"data": {"id": "00000000-0000-0000-0000-000000000000", "status": "ok"}})
METHOD = "/bench.Anchor/Get"
REQUEST, REPLY = bytes(40), bytes(200)  # about the sizes of a GetIncident request and its response


def _same(data: bytes) -> bytes:
    return data


async def _reply(_request: bytes, _ctx: grpc.aio.ServicerContext) -> bytes:
    return REPLY


def anchor_service() -> grpc.GenericRpcHandler:
    """The bare server's one method (METHOD): it answers REPLY at once."""
    return grpc.method_handlers_generic_handler("bench.Anchor", {
        "Get": grpc.unary_unary_rpc_method_handler(_reply, request_deserializer=_same, response_serializer=_same),
    })


async def serve_grpc(port: int) -> None:
    server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
    server.add_generic_rpc_handlers((anchor_service(),))
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    await server.wait_for_termination()


def serve_http(port: int, grpc_address: str | None) -> None:
    app = web.Application()
    call = None
    if grpc_address:
        async def connect(_app: web.Application) -> None:
            nonlocal call
            channel = grpc.aio.insecure_channel(grpc_address)
            call = channel.unary_unary(METHOD, request_serializer=_same, response_deserializer=_same)

        app.on_startup.append(connect)

    async def answer(request: web.Request) -> web.Response:
        await request.read()
        if call is not None:
            await call(REQUEST, timeout=10)
        return web.Response(body=BODY, status=201 if request.method == "POST" else 200, content_type="application/json")

    app.router.add_route("*", "/bare", answer)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kind", choices=["http", "grpc"])
    parser.add_argument("port", type=int)
    parser.add_argument("--grpc", dest="grpc_address", help="make one gRPC call to this address per request")
    args = parser.parse_args()
    uvloop.install()
    if args.kind == "grpc":
        asyncio.run(serve_grpc(args.port))
    else:
        serve_http(args.port, args.grpc_address)


if __name__ == "__main__":
    main()
