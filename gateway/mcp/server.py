"""The MCP server: the SDK's low-level `Server` with `tools/list` and `tools/call`, served by the SDK's
streamable HTTP session manager in stateless mode with JSON answers (each POST is answered by itself, so any
gateway replica serves any request, and no session lives in a replica's memory).

`tools/list` shows the tools whose scope the caller holds; `tools/call` refuses a tool whose scope it does not
hold, then makes the tool's route call on this gateway with the caller's own credentials (gateway/mcp/tools.py).
An answer outside 2xx becomes a tool error carrying the API's error envelope, so an agent sees the same codes
and field errors as any API client.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.metadata
import logging
from typing import Any

import aiohttp
import mcp_types as types
import orjson
from aiohttp import web
from mcp.server.lowlevel import Server
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager

from gateway.auth import Principal
from gateway.mcp import asgi
from gateway.mcp.tools import Tool, tools
from gateway.routing import Route
from vigil.runtime import telemetry

PRINCIPAL = "vigil.principal"
FORWARD = "vigil.forward"
# The caller's credentials and context, passed on to each tool's route call.
FORWARDED_HEADERS = ("Authorization", "X-Api-Key", "x-tenant-id", "X-Request-Id")
INSTRUCTIONS = """\
Vigil is an incident-management platform. Tools read and change this tenant's incidents, alerts, changes,
configuration items (CIs), telemetry, root-cause analyses and runbooks through Vigil's REST API; each answer is the
API's JSON. Errors come back as the API's error envelope (`code`, `error`, and `fields` naming what failed
validation)."""


class McpServer:
    def __init__(self, routes: list[Route], base_url: Any) -> None:
        """`base_url()` is this gateway's tenant plane (known once it listens)."""
        self.tools = tools(routes)
        self.base_url = base_url
        self.server = Server("vigil", version=importlib.metadata.version("vigil"), instructions=INSTRUCTIONS,
                             on_list_tools=self.list_tools, on_call_tool=self.call_tool)
        self.server.middleware = []  # the gateway's own request span covers each call
        logging.getLogger("mcp").setLevel(logging.WARNING)  # the SDK logs every stateless request at INFO
        self.manager = StreamableHTTPSessionManager(self.server, stateless=True, json_response=True)
        self._session: aiohttp.ClientSession | None = None
        self._running: asyncio.Task | None = None
        self._started = asyncio.Event()
        self._stop = asyncio.Event()

    # -- lifecycle ----------------------------------------------------------------------------------------------

    async def _run(self) -> None:
        async with self.manager.run():
            self._started.set()
            await self._stop.wait()

    async def handle(self, request: web.Request, principal: Principal) -> web.StreamResponse:
        if self._running is None:
            self._running = asyncio.create_task(self._run(), name="mcp-sessions")
        await self._started.wait()
        forward = {h: request.headers[h] for h in FORWARDED_HEADERS if h in request.headers}
        return await asgi.run(self.manager.handle_request, request, **{PRINCIPAL: principal, FORWARD: forward})

    async def close(self) -> None:
        self._stop.set()
        if self._running is not None:
            with contextlib.suppress(Exception):
                await self._running
        if self._session is not None:
            await self._session.close()

    # -- handlers -----------------------------------------------------------------------------------------------

    @staticmethod
    def _caller(ctx: Any) -> tuple[Principal, dict[str, str]]:
        scope = ctx.request.scope
        return scope[PRINCIPAL], scope[FORWARD]

    def _allowed(self, principal: Principal, tool: Tool) -> bool:
        return tool.route.scope is None or tool.route.scope in principal.scopes

    async def list_tools(self, ctx: Any, params: Any) -> types.ListToolsResult:
        principal, _ = self._caller(ctx)
        return types.ListToolsResult(tools=[
            types.Tool(name=t.name, description=t.description, input_schema=t.input_schema,
                       output_schema=t.output_schema,
                       annotations=types.ToolAnnotations(read_only_hint=t.read_only, open_world_hint=False))
            for t in self.tools.values() if self._allowed(principal, t)])

    async def call_tool(self, ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        principal, forward = self._caller(ctx)
        tool = self.tools.get(params.name)
        if tool is None:
            return _error({"code": "NOT_FOUND", "error": f"no tool {params.name}"})
        if not self._allowed(principal, tool):
            return _error({"code": "FORBIDDEN", "error": f"this credential lacks the {tool.route.scope} scope "
                                                         f"that {tool.name} needs"})
        try:
            method, path, query, body, headers = tool.request(params.arguments or {})
        except ValueError as exc:
            return _error({"code": "VALIDATION_ERROR", "error": str(exc)})
        carrier: dict[str, str] = {}
        telemetry.inject(carrier)
        async with self.session.request(method, self.base_url() + path, params=query, json=body,
                                        headers={**forward, **headers, **carrier}) as resp:
            answer = orjson.loads(await resp.read() or b"null")
        if resp.status >= 400 or not isinstance(answer, dict) or "data" not in answer:
            return _error(answer if isinstance(answer, dict) else {"code": "ERROR", "error": str(answer)})
        data = answer["data"]
        return types.CallToolResult(content=[types.TextContent(text=orjson.dumps(data).decode())],
                                    structured_content=data)

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120))
        return self._session


def _error(envelope: dict[str, Any]) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(text=orjson.dumps(envelope).decode())], is_error=True)
