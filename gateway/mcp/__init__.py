"""The MCP server of the tenant plane (`/api/mcp`): tools generated from route declarations (tools.py), served by
the official MCP SDK's low-level server over its streamable HTTP transport (server.py), bridged into aiohttp
through a small ASGI adapter (asgi.py). See docs/integrations.md."""
