"""A bare aiohttp application, the anchor of the gateway benchmarks: the same server library and event loop as the
gateway (uvloop, no access log), one handler that answers a small JSON envelope and nothing else (no middleware,
no authentication, no service call). Run as its own process so it shares the machine as the gateway does.

    .venv/bin/python bench/anchor.py PORT
"""

from __future__ import annotations

import sys

import orjson
import uvloop
from aiohttp import web

BODY = orjson.dumps({"data": {"id": "00000000-0000-0000-0000-000000000000", "status": "ok"}})


async def answer(request: web.Request) -> web.Response:
    await request.read()
    return web.Response(body=BODY, status=201 if request.method == "POST" else 200, content_type="application/json")


def main() -> None:
    app = web.Application()
    app.router.add_route("*", "/bare", answer)
    uvloop.install()
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)


if __name__ == "__main__":
    main()
