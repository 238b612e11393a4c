"""Fixtures of the AI service's integration tests: one whole stack of real processes per test module (real Kafka,
SQLite files, chDB, gRPC between processes) whose ai service talks to a scripted OpenAI-compatible HTTP server
running in the test process (the real `openai` client on the other end), and an automation endpoint for
runbook http steps."""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from tests.support import api
from vigil.ai.v1 import ai_pb2_grpc
from vigil.runtime import context, grpcio
from vigil.runtime.kafka_local import free_port
from vigil.stack import Stack

RETENTION = json.dumps({"free": 3650, "pro": 3650, "enterprise": 3650})


@dataclass
class ScriptedServer:
    """An HTTP server in its own thread and loop. `handler(path, body) -> (status, json, delay)` answers."""

    handler: Callable[[str, dict], tuple[int, Any, float]] | None = None
    requests: list[tuple[str, dict]] = field(default_factory=list)
    port: int = 0

    def start(self) -> ScriptedServer:
        self.port = free_port()
        ready = threading.Event()

        async def serve(request: web.Request) -> web.StreamResponse:
            try:
                body = await request.json()
            except (ValueError, json.JSONDecodeError):
                body = {"raw": (await request.read()).decode(errors="replace")}
            body["_headers"] = dict(request.headers)
            self.requests.append((request.path, body))
            status, payload, delay = (self.handler or (lambda p, b: (500, {"error": "no script"}, 0)))(
                request.path, body)
            if delay:
                await asyncio.sleep(delay)
            return web.json_response(payload, status=status)

        def run() -> None:
            loop = asyncio.new_event_loop()
            app = web.Application()
            app.router.add_route("*", "/{tail:.*}", serve)
            runner = web.AppRunner(app)
            loop.run_until_complete(runner.setup())
            loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", self.port).start())
            ready.set()
            loop.run_forever()

        threading.Thread(target=run, daemon=True, name=f"scripted-{self.port}").start()
        ready.wait(10)
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def completion(content: str = "", tool_calls: list[dict] | None = None) -> dict:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = [{"id": f"call_{i}", "type": "function",
                                  "function": {"name": name, "arguments": json.dumps(args)}}
                                 for i, (name, args) in enumerate((t["name"], t["args"]) for t in tool_calls)]
    return {"id": "cmpl-1", "object": "chat.completion", "created": int(time.time()), "model": "scripted",
            "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls" if tool_calls else "stop"}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20}}


@pytest.fixture(scope="module")
def llm_server() -> ScriptedServer:
    return ScriptedServer().start()


@pytest.fixture(scope="module")
def automation() -> ScriptedServer:
    return ScriptedServer(handler=lambda path, body: (200, {"ok": True, "path": path}, 0)).start()


@dataclass
class AiStack:
    stack: Stack
    tenant_base: str
    control_base: str

    @property
    def ai_address(self) -> str:
        return f"127.0.0.1:{self.stack.ports['ai']}"

    @asynccontextmanager
    async def ai(self, client: api.TenantClient):
        """The ai service's stub, called as `client` (tenant, actor, role) would be through the gateway."""
        channel = grpcio.channel(self.ai_address)
        token = context.bind(context.CallContext(client.tenant_id, client.email, client.role))
        try:
            yield ai_pb2_grpc.AiServiceStub(channel)
        finally:
            context.reset(token)
            await channel.close()

    async def restart(self, name: str, kill: bool = False) -> None:
        """Stop one process (SIGTERM, or SIGKILL to leave no chance of a clean stop) and start it again."""
        if kill:  # through the supervisor, so that it does not restart the process by itself meanwhile
            await asyncio.to_thread(self.stack.supervisor.stop_child, name, signal.SIGKILL)
        else:
            await asyncio.to_thread(self.stack.stop_process, name)
        await asyncio.to_thread(self.stack.start_process, name)
        await grpcio.wait_serving(f"127.0.0.1:{self.stack.ports[name]}", timeout=60)


@pytest.fixture(scope="module")
def ai_stack(kafka_bootstrap, llm_server, automation) -> Iterator[AiStack]:
    data = Path(tempfile.mkdtemp(prefix="vigil-ai-"))
    stack = Stack(data_dir=data, ephemeral_ports=True, env={
        "VIGIL_KAFKA_BOOTSTRAP": kafka_bootstrap, "VIGIL_OPERATOR_EMAIL": api.OPERATOR_EMAIL,
        "VIGIL_OPERATOR_PASSWORD": api.OPERATOR_PASSWORD, "VIGIL_OUTBOX_POLL_SECONDS": "0.2",
        "VIGIL_TELEMETRY_RETENTION_DAYS": RETENTION, "VIGIL_LLM_BASE_URL": llm_server.url + "/v1",
        "VIGIL_LLM_MODEL": "scripted", "VIGIL_LLM_API_KEY": "test-key", "VIGIL_LLM_TIMEOUT_SECONDS": "3",
        "VIGIL_LLM_MAX_RETRIES": "0", "VIGIL_RCA_LLM_WAIT_SECONDS": "2",
        "VIGIL_RUNBOOK_HTTP_ALLOWED_HOSTS": "127.0.0.1"})
    stack.start()
    try:
        yield AiStack(stack, f"http://127.0.0.1:{stack.ports['tenant']}",
                      f"http://127.0.0.1:{stack.ports['control']}")
    finally:
        stack.stop()
        shutil.rmtree(data, ignore_errors=True)


@pytest.fixture
async def session() -> aiohttp.ClientSession:
    async with aiohttp.ClientSession() as s:
        yield s


@pytest.fixture
async def users(ai_stack, session) -> dict[str, api.TenantClient]:
    """A fresh tenant with an admin, a responder and a viewer (plus a second responder to approve)."""
    clients = await api.tenant(session, ai_stack.tenant_base, ai_stack.control_base)
    token = await api.operator_token(session, ai_stack.control_base)
    second = await api.add_user(session, ai_stack.control_base, clients["admin"].tenant_id, "responder",
                                {"Authorization": f"Bearer {token}"})
    clients["responder2"] = await api.sign_in(second, ai_stack.tenant_base)
    return clients


async def eventually(probe: Callable, timeout: float = 30.0, every: float = 0.3):
    """Poll an async probe until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        value = await probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached within {timeout}s (last: {value!r})")
        await asyncio.sleep(every)
