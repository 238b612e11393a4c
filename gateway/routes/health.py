"""`/healthz` (the process answers) and `/readyz` (every upstream service answers its gRPC health check) on
both planes, for probes: public and never rate-limited."""

from __future__ import annotations

from aiohttp import web

from gateway.routing import Routes
from gateway.schemas.health import Health
from gateway.state import upstreams
from vigil.runtime import grpcio
from vigil.runtime.errors import Unavailable


async def healthz(_request: web.Request) -> dict[str, str]:
    return {"status": "ok"}


async def readyz(request: web.Request) -> dict[str, str]:
    down = []
    for name, address in upstreams(request).addresses.items():
        try:
            await grpcio.wait_serving(address, timeout=0.5)
        except TimeoutError:
            down.append(name)
    if down:
        raise Unavailable(f"not serving: {', '.join(down)}")
    return {"status": "ready"}


tenant_routes = Routes("tenant", tags=("health",), auth="public")
control_routes = Routes("control", tags=("health",), auth="public")
for plane_routes in (tenant_routes, control_routes):
    plane_routes.get("/healthz", summary="The gateway process is up", rate=None, response=Health)(healthz)
    plane_routes.get("/readyz", summary="Every upstream service is serving", rate=None, response=Health,
                     errors=(Unavailable,))(readyz)
