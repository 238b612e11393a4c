"""gRPC, written once: the aio server bootstrap (health, reflection, interceptors, graceful stop) and the
client channel factory that carries the caller's context, trace context and a deadline.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import logging
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any, TypeVar

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from opentelemetry import trace

from vigil.runtime import context, failpoints, telemetry
from vigil.runtime.errors import Unavailable, VigilError, from_rpc_error, is_transient, trailing_metadata

log = logging.getLogger("vigil.grpc")
R = TypeVar("R")
_tracer = trace.get_tracer("vigil.grpc")

# Every client call carries a deadline; grpc.aio cancels the server handler when it passes.
DEFAULT_DEADLINE_SECONDS = 10.0
DEFAULT_STREAM_DEADLINE_SECONDS = 300.0


class ContextInterceptor(grpc.aio.ServerInterceptor):
    """Around every call, unary or streaming: binds the caller's tenant/principal and the incoming trace context,
    opens a server span, maps domain errors to status + trailing metadata, and logs failures. The wrapped
    handler is built once per method (it reads each call's metadata from its context). A streaming handler
    keeps all of this for the whole stream: an error raised after some messages went out still ends the call
    with its status and code."""

    def __init__(self) -> None:
        self._wrapped: dict[str, grpc.RpcMethodHandler | None] = {}

    async def intercept_service(self, continuation, handler_call_details):
        method = handler_call_details.method
        if method in self._wrapped:
            return self._wrapped[method]
        handler = await continuation(handler_call_details)
        wrapped = _wrap_handler(method, handler) if handler is not None else None
        self._wrapped[method] = wrapped
        return wrapped


def _wrap_handler(method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
    codecs = {"request_deserializer": handler.request_deserializer,
              "response_serializer": handler.response_serializer}
    if handler.unary_unary is not None:
        return grpc.unary_unary_rpc_method_handler(_wrap(method, handler.unary_unary), **codecs)
    if handler.unary_stream is not None:
        return grpc.unary_stream_rpc_method_handler(_wrap(method, handler.unary_stream), **codecs)
    if handler.stream_unary is not None:
        return grpc.stream_unary_rpc_method_handler(_wrap(method, handler.stream_unary), **codecs)
    return grpc.stream_stream_rpc_method_handler(_wrap(method, handler.stream_stream), **codecs)


class _Serving:
    """The caller's context, the trace and the error mapping around one call (or one whole stream). A class, not
    an async generator: this runs for every call, and a generator costs a frame and the event loop's bookkeeping
    of async generators more."""

    __slots__ = ("method", "ctx", "span", "call_token", "started", "status")

    def __init__(self, method: str, ctx: grpc.aio.ServicerContext) -> None:
        self.method, self.ctx, self.status = method, ctx, "OK"

    async def __aenter__(self) -> None:
        metadata = self.ctx.invocation_metadata() or ()
        self.call_token = context.bind(context.CallContext.from_metadata(metadata))
        self.span = telemetry.IncomingSpan(_tracer, self.method, {k: v for k, v in metadata if isinstance(v, str)})
        self.span.__enter__()
        self.started = time.perf_counter()

    async def __aexit__(self, exc_type, exc, tb) -> None:
        try:
            if isinstance(exc, Exception):
                await self._abort(exc)
        finally:
            self.span.__exit__(exc_type, exc, tb)  # a recorded span keeps the handler's own error
            if log.isEnabledFor(logging.DEBUG):
                log.debug("%s %s %.1fms", self.method, self.status, (time.perf_counter() - self.started) * 1000)
            _reset(self.call_token)

    async def _abort(self, exc: Exception) -> None:
        """End the call with the status the handler's error maps to (`ctx.abort` raises grpc's AbortError)."""
        if isinstance(exc, VigilError):
            self.status = exc.code
            self.ctx.set_trailing_metadata(trailing_metadata(exc))
            await self.ctx.abort(exc.grpc_status, exc.message)
        if is_transient(exc):  # the database restarting or locked: retry, not a bug
            self.status = "UNAVAILABLE"
            log.warning("%s: a dependency is unavailable: %s: %s", self.method, type(exc).__name__, exc)
            self.ctx.set_trailing_metadata(trailing_metadata(Unavailable("")))
            await self.ctx.abort(grpc.StatusCode.UNAVAILABLE, "a dependency of the service is unavailable; retry")
        self.status = "ERROR"
        log.error("unhandled error in %s", self.method, exc_info=exc)
        await self.ctx.abort(grpc.StatusCode.INTERNAL, "internal error")


def _reset(token: contextvars.Token) -> None:
    try:
        context.reset(token)
    except ValueError:
        pass  # a stream closed from another context (its task was cancelled): the binding dies with that context


def failpoint_name(method: str) -> str:
    """`/vigil.cmdb.v1.CmdbService/GetImpact` -> `cmdb.GetImpact` (see vigil.runtime.failpoints)."""
    package, _, rpc = method.lstrip("/").partition("/")
    parts = package.split(".")
    return f"{parts[1] if len(parts) > 2 else package}.{rpc}"


def _wrap(method: str, inner: Callable[[Any, grpc.aio.ServicerContext], Any]):
    point = failpoint_name(method)
    if inspect.isasyncgenfunction(inner):
        # A streaming handler written as an async generator: the whole stream runs inside the call's context.
        async def stream(request: Any, ctx: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            async with _Serving(method, ctx):
                if failpoints.ACTIVE:
                    await failpoints.ahit(point)
                async for response in inner(request, ctx):
                    yield response

        return stream

    # A unary handler, or a streaming one that writes with `ctx.write`.
    async def call(request: Any, ctx: grpc.aio.ServicerContext) -> Any:
        async with _Serving(method, ctx):
            if failpoints.ACTIVE:
                await failpoints.ahit(point)
            return await inner(request, ctx)

    return call


class GrpcServer:
    """A grpc.aio server with the standard health service ("" and each service name) and reflection."""

    def __init__(self, host: str, port: int) -> None:
        self.server = grpc.aio.server(
            interceptors=[ContextInterceptor()],
            options=[("grpc.so_reuseport", 0), ("grpc.max_receive_message_length", 64 * 1024 * 1024)],
        )
        self.health = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        self.address = f"{host}:{port}"
        self.port = 0
        self._names: list[str] = [reflection.SERVICE_NAME, health.SERVICE_NAME]

    def add(self, register: Callable[[Any, grpc.aio.Server], None], servicer: Any, full_name: str) -> None:
        register(servicer, self.server)
        self._names.append(full_name)

    async def start(self) -> int:
        reflection.enable_server_reflection(self._names, self.server)
        self.port = self.server.add_insecure_port(self.address)
        await self.server.start()
        for name in ["", *self._names]:
            await self.health.set(name, health_pb2.HealthCheckResponse.SERVING)
        return self.port

    async def stop(self, grace: float) -> None:
        """Drain: health turns NOT_SERVING first (readiness probes and the gateway's /readyz see it), then
        the server refuses new calls and gives those in flight `grace` seconds before cancelling them."""
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace)


async def run_until_signalled(
    start: Callable[[], Awaitable[None]], stop: Callable[[], Awaitable[None]]
) -> None:
    """Start, wait for SIGTERM/SIGINT, then stop gracefully."""
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    await start()
    await stopping.wait()
    await stop()


# Every outgoing call carries the bound caller context, the trace context and a default deadline. They are added
# by the channel's method objects rather than by grpc.aio client interceptors: an intercepted call runs its
# interceptor chain in a task of its own before the call's own task, which cost more CPU than the rest of a small
# call on both ends. A stream lives longer than a question, so its default deadline is longer; a caller that knows
# better passes `timeout=`.


def outgoing_metadata(metadata: Any = None) -> list[tuple[str, str]]:
    """The call's own metadata, plus the bound caller (unless the call names a tenant itself) and the trace."""
    out = list(metadata or ())
    ctx = context._current.get()
    if ctx is not None and all(k != context.TENANT_KEY for k, _ in out):
        out.extend(ctx.metadata())
    carrier: dict[str, str] = {}
    telemetry.inject(carrier)
    out.extend(carrier.items())
    return out


class _Method:
    """One RPC of a stub: the channel's multicallable with the caller's context and a default deadline."""

    __slots__ = ("_call", "_deadline")

    def __init__(self, call: Any, deadline: float) -> None:
        self._call = call
        self._deadline = deadline

    def __call__(self, *request: Any, timeout: float | None = None, metadata: Any = None, **options: Any) -> Any:
        return self._call(*request, timeout=timeout or self._deadline, metadata=outgoing_metadata(metadata),
                          **options)


class Channel:
    """A grpc.aio channel whose stubs' calls carry the caller's context, the trace and a deadline."""

    def __init__(self, inner: grpc.aio.Channel, deadline: float = DEFAULT_DEADLINE_SECONDS) -> None:
        self.inner = inner
        self.deadline = deadline  # of a unary call that passes no `timeout=`

    def unary_unary(self, *args: Any, **kwargs: Any) -> _Method:
        return _Method(self.inner.unary_unary(*args, **kwargs), self.deadline)

    def unary_stream(self, *args: Any, **kwargs: Any) -> _Method:
        return _Method(self.inner.unary_stream(*args, **kwargs), DEFAULT_STREAM_DEADLINE_SECONDS)

    def stream_unary(self, *args: Any, **kwargs: Any) -> _Method:
        return _Method(self.inner.stream_unary(*args, **kwargs), DEFAULT_STREAM_DEADLINE_SECONDS)

    def stream_stream(self, *args: Any, **kwargs: Any) -> _Method:
        return _Method(self.inner.stream_stream(*args, **kwargs), DEFAULT_STREAM_DEADLINE_SECONDS)

    def __getattr__(self, name: str) -> Any:  # close, channel_ready, get_state, wait_for_state_change
        return getattr(self.inner, name)

    async def __aenter__(self) -> Channel:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.inner.close()


def channel(address: str, extra_options: Iterable[tuple[str, Any]] = (),
            deadline: float = DEFAULT_DEADLINE_SECONDS) -> Channel:
    """A client channel. Calls fail fast while the server is down (wait_for_ready stays off: the caller
    answers 503 at once instead of holding the request until the deadline), and the channel tries to
    reconnect at least every second (gRPC's default backoff grows to 120 s, which would keep a restarted
    service unreachable long after it is back)."""
    options = [
        ("grpc.keepalive_time_ms", 30_000),
        ("grpc.enable_retries", 1),
        ("grpc.max_receive_message_length", 64 * 1024 * 1024),
        ("grpc.initial_reconnect_backoff_ms", 100),
        ("grpc.min_reconnect_backoff_ms", 100),
        ("grpc.max_reconnect_backoff_ms", 1_000),
        *extra_options,
    ]
    return Channel(grpc.aio.insecure_channel(address, options=options), deadline)


async def wait_serving(address: str, service: str = "", timeout: float = 30.0) -> None:
    """Wait until the gRPC health service at address reports SERVING."""
    deadline = time.monotonic() + timeout
    async with grpc.aio.insecure_channel(address) as ch:
        stub = health_pb2_grpc.HealthStub(ch)
        while True:
            try:
                resp = await stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=1.0)
                if resp.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.aio.AioRpcError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"{address} ({service or 'server'}) not serving after {timeout}s")
            await asyncio.sleep(0.1)


async def call(rpc: Awaitable[R]) -> R:
    """Await a stub call, turning an RpcError into the domain error the other service raised."""
    try:
        return await rpc
    except grpc.aio.AioRpcError as exc:
        raise from_rpc_error(exc) from None
