"""`/healthz` (the process answers) and `/readyz` (ready for traffic) on both planes, for probes: public and
never rate-limited.

`/readyz` answers 503 while the gateway drains (from SIGTERM on), and otherwise names the upstream services
that do not answer SERVING on their gRPC health check, all probed at once. Like Kubernetes' own /readyz,
`?exclude=` leaves checks out: the chart's readiness probe excludes `upstreams`, so one service down does not
take every gateway replica out of its Service (that service's routes answer 503, the others keep working)."""

from __future__ import annotations

import asyncio

from aiohttp import web

from gateway.routing import Routes
from gateway.schemas.health import Health, ReadyQuery
from gateway.state import gw
from vigil.runtime.errors import Unavailable


async def healthz(_request: web.Request) -> dict[str, str]:
    return {"status": "ok"}


async def readyz(request: web.Request, query: ReadyQuery) -> dict[str, str]:
    g = gw(request)
    if g.draining:
        raise Unavailable("draining: shutting down")
    names = [] if "upstreams" in query.exclude else [n for n in g.upstreams.addresses if n not in query.exclude]
    serving = await asyncio.gather(*(g.upstreams.serving(n) for n in names))
    down = [name for name, ok in zip(names, serving, strict=True) if not ok]
    if down:
        raise Unavailable(f"not serving: {', '.join(down)}")
    return {"status": "ready"}


tenant_routes = Routes("tenant", tags=("health",), auth="public")
control_routes = Routes("control", tags=("health",), auth="public")
for plane_routes in (tenant_routes, control_routes):
    plane_routes.get("/healthz", summary="The gateway process is up", rate=None, response=Health)(healthz)
    plane_routes.get("/readyz", summary="Ready for traffic: not draining, every upstream service serving",
                     rate=None, query=ReadyQuery, response=Health, errors=(Unavailable,))(readyz)
