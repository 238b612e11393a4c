"""The MCP endpoint for AI agents: `POST /api/mcp`, the Model Context Protocol's streamable HTTP transport
(stateless, JSON answers). The caller authenticates as for any route (a JWT session or an API key); each tool
call is then authorized, rate-limited and audited as the route it wraps (gateway/mcp/)."""

from __future__ import annotations

from aiohttp import web

from gateway.routing import Routes
from gateway.state import mcp_server, principal

routes = Routes("tenant", tags=("mcp",))
JSON_RPC = "application/json"


@routes.post("/api/mcp", summary="Model Context Protocol (streamable HTTP): tools over the REST API", role="viewer",
             scope=None, rate="read", read_only=True, consumes=(JSON_RPC,), produces=(JSON_RPC,))
async def mcp(request: web.Request) -> web.StreamResponse:
    """JSON-RPC 2.0 messages of MCP: `initialize`, `tools/list` (the tools the caller's scopes allow), `tools/call`.
    Point an MCP client at this URL with the `Authorization` (or `X-Api-Key`) and `x-tenant-id` headers."""
    return await mcp_server(request).handle(request, principal(request))
