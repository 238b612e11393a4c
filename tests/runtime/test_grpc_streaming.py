"""The shared gRPC interceptors on streaming calls, through a real grpc.aio server on port 0: every kind of call
(unary-unary, unary-stream as an async generator and with ctx.write, stream-unary, stream-stream) sees the
caller's tenant and principal and the caller's trace, a domain error raised mid-stream ends the call with its
status, code and fields, and the client side gives streams a deadline."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars

import grpc
import pytest
from google.protobuf.wrappers_pb2 import StringValue
from opentelemetry import trace
from sqlalchemy import exc as sa_exc

from vigil.runtime import context, grpcio, telemetry
from vigil.runtime.errors import NotFound, Unavailable, ValidationFailed, from_rpc_error

SERVICE = "vigil.test.Streams"
CODEC = {"request_deserializer": StringValue.FromString, "response_serializer": StringValue.SerializeToString}
CLIENT_CODEC = {"request_serializer": StringValue.SerializeToString, "response_deserializer": StringValue.FromString}
deadlines: dict[str, float | None] = {}


def who(text: str) -> StringValue:
    """What the handler sees of its caller: tenant, actor, role and the trace it runs in."""
    ctx = context.current()
    trace_id = telemetry.current_trace_id()
    return StringValue(value=f"{text}|{ctx.tenant_id}|{ctx.actor}|{ctx.role}|{trace_id}")


async def unary(request: StringValue, ctx: grpc.aio.ServicerContext) -> StringValue:
    deadlines["unary"] = ctx.time_remaining()
    return who(request.value)


async def server_stream(request: StringValue, ctx: grpc.aio.ServicerContext):
    deadlines["server_stream"] = ctx.time_remaining()
    for i in range(3):
        if request.value == "fail" and i == 1:
            raise NotFound("item 1 is gone", fields=[])
        yield who(f"{request.value}-{i}")
        await asyncio.sleep(0)


async def server_stream_writes(request: StringValue, ctx: grpc.aio.ServicerContext) -> None:
    for i in range(2):
        await ctx.write(who(f"{request.value}-{i}"))
    if request.value == "fail":
        raise ValidationFailed("bad after two writes")


async def client_stream(requests, ctx: grpc.aio.ServicerContext) -> StringValue:
    deadlines["client_stream"] = ctx.time_remaining()
    seen = [r.value async for r in requests]
    if "boom" in seen:
        raise ValidationFailed("boom is not allowed")
    return who("+".join(seen))


async def bidi(requests, ctx: grpc.aio.ServicerContext):
    async for r in requests:
        if r.value == "boom":
            raise NotFound("no boom here")
        yield who(r.value)


async def crash(requests, ctx: grpc.aio.ServicerContext):
    yield who("first")
    raise RuntimeError("a bug")


async def unary_failing(request: StringValue, ctx: grpc.aio.ServicerContext) -> StringValue:
    if request.value == "database away":
        raise sa_exc.OperationalError("SELECT 1", {}, ConnectionRefusedError("refused"))
    raise KeyError("a bug")


HANDLERS = grpc.method_handlers_generic_handler(SERVICE, {
    "Unary": grpc.unary_unary_rpc_method_handler(unary, **CODEC),
    "ServerStream": grpc.unary_stream_rpc_method_handler(server_stream, **CODEC),
    "ServerStreamWrites": grpc.unary_stream_rpc_method_handler(server_stream_writes, **CODEC),
    "ClientStream": grpc.stream_unary_rpc_method_handler(client_stream, **CODEC),
    "Bidi": grpc.stream_stream_rpc_method_handler(bidi, **CODEC),
    "Crash": grpc.stream_stream_rpc_method_handler(crash, **CODEC),
    "UnaryFailing": grpc.unary_unary_rpc_method_handler(unary_failing, **CODEC),
})


@contextlib.contextmanager
def caller():
    """A bound caller (as the gateway binds one per request) inside a span: yields the span's trace id."""
    token = context.bind(context.CallContext(tenant_id="acme", actor="sre@acme.io", role="responder"))
    try:
        with trace.get_tracer("test").start_as_current_span("caller") as span:
            yield format(span.get_span_context().trace_id, "032x")
    finally:
        context.reset(token)


@pytest.fixture
async def address():
    telemetry.setup("test", log_json=False)
    server = grpcio.GrpcServer("127.0.0.1", 0)
    server.add(lambda handlers, srv: srv.add_generic_rpc_handlers((handlers,)), HANDLERS, SERVICE)
    yield f"127.0.0.1:{await server.start()}"
    await server.stop(0)


@pytest.fixture
async def channel(address):
    ch = grpcio.channel(address)
    with caller() as trace_id:
        yield ch, trace_id
    await ch.close()


def method(name: str) -> str:
    return f"/{SERVICE}/{name}"


async def requests(*values: str):
    for v in values:
        yield StringValue(value=v)


def expect(values: list[str], trace_id: str) -> list[str]:
    return [f"{v}|acme|sre@acme.io|responder|{trace_id}" for v in values]


async def test_unary_and_server_streams_carry_tenant_principal_and_trace(channel):
    ch, _ = channel
    with caller() as trace_id:
        reply = await ch.unary_unary(method("Unary"), **CLIENT_CODEC)(StringValue(value="one"))
        assert reply.value == expect(["one"], trace_id)[0]
        streamed = [r.value async for r in ch.unary_stream(method("ServerStream"), **CLIENT_CODEC)(StringValue(value="s"))]
        assert streamed == expect(["s-0", "s-1", "s-2"], trace_id)
        written = [r.value async for r in ch.unary_stream(method("ServerStreamWrites"), **CLIENT_CODEC)(
            StringValue(value="w"))]
        assert written == expect(["w-0", "w-1"], trace_id)


async def test_client_and_bidi_streams_carry_tenant_principal_and_trace(channel):
    ch, _ = channel
    with caller() as trace_id:
        joined = await ch.stream_unary(method("ClientStream"), **CLIENT_CODEC)(requests("a", "b", "c"))
        assert joined.value == expect(["a+b+c"], trace_id)[0]
        echoed = [r.value async for r in ch.stream_stream(method("Bidi"), **CLIENT_CODEC)(requests("x", "y"))]
        assert echoed == expect(["x", "y"], trace_id)


async def test_domain_errors_mid_stream_end_the_call_with_their_status_and_code(channel):
    ch, _ = channel
    with caller():
        call = ch.unary_stream(method("ServerStream"), **CLIENT_CODEC)(StringValue(value="fail"))
        got = []
        with pytest.raises(grpc.aio.AioRpcError) as err:
            async for r in call:
                got.append(r.value)
        assert len(got) == 1 and err.value.code() == grpc.StatusCode.NOT_FOUND
        assert isinstance(from_rpc_error(err.value), NotFound) and from_rpc_error(err.value).message == "item 1 is gone"

        call = ch.unary_stream(method("ServerStreamWrites"), **CLIENT_CODEC)(StringValue(value="fail"))
        with pytest.raises(grpc.aio.AioRpcError) as err:
            [r async for r in call]
        assert isinstance(from_rpc_error(err.value), ValidationFailed)

        with pytest.raises(grpc.aio.AioRpcError) as err:
            await ch.stream_unary(method("ClientStream"), **CLIENT_CODEC)(requests("a", "boom"))
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert from_rpc_error(err.value).message == "boom is not allowed"

        call = ch.stream_stream(method("Bidi"), **CLIENT_CODEC)(requests("ok", "boom", "never"))
        got = []
        with pytest.raises(grpc.aio.AioRpcError) as err:
            async for r in call:
                got.append(r.value)
        assert len(got) == 1 and isinstance(from_rpc_error(err.value), NotFound)


async def test_an_unexpected_failure_mid_stream_is_internal_without_details(channel):
    ch, _ = channel
    with caller():
        call = ch.stream_stream(method("Crash"), **CLIENT_CODEC)(requests("x"))
        with pytest.raises(grpc.aio.AioRpcError) as err:
            [r async for r in call]
        assert err.value.code() == grpc.StatusCode.INTERNAL and err.value.details() == "internal error"


async def test_streams_get_a_deadline_and_an_explicit_one_wins(channel):
    ch, _ = channel
    with caller():
        [r async for r in ch.unary_stream(method("ServerStream"), **CLIENT_CODEC)(StringValue(value="d"))]
        # time_remaining() is computed from two clocks and can read a millisecond over the deadline set
        assert grpcio.DEFAULT_DEADLINE_SECONDS < deadlines["server_stream"] < grpcio.DEFAULT_STREAM_DEADLINE_SECONDS + 1
        await ch.stream_unary(method("ClientStream"), **CLIENT_CODEC)(requests("a"), timeout=5)
        assert 0 < deadlines["client_stream"] < 6  # the explicit 5 s (clocks differ by a few ms)


async def test_a_channel_gives_unary_calls_its_deadline_and_an_explicit_one_wins(address, channel):
    """The gateway's channels take VIGIL_UPSTREAM_TIMEOUT_SECONDS as the deadline of calls that set none."""
    ch, _ = channel
    short = grpcio.channel(address, deadline=2.5)
    try:
        with caller():
            await ch.unary_unary(method("Unary"), **CLIENT_CODEC)(StringValue(value="d"))
            assert grpcio.DEFAULT_DEADLINE_SECONDS - 1 < deadlines["unary"] < grpcio.DEFAULT_DEADLINE_SECONDS + 1
            await short.unary_unary(method("Unary"), **CLIENT_CODEC)(StringValue(value="d"))
            assert 2 < deadlines["unary"] < 2.6
            await short.unary_unary(method("Unary"), **CLIENT_CODEC)(StringValue(value="d"), timeout=30)
            assert 29 < deadlines["unary"] < 31
    finally:
        await short.close()


async def test_a_unary_failure_is_unavailable_when_transient_and_internal_otherwise(channel, caplog):
    ch, _ = channel
    call = ch.unary_unary(method("UnaryFailing"), **CLIENT_CODEC)
    with caller():
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await call(StringValue(value="database away"))
        assert err.value.code() == grpc.StatusCode.UNAVAILABLE and isinstance(from_rpc_error(err.value), Unavailable)
        with caplog.at_level("ERROR", logger="vigil.grpc"), pytest.raises(grpc.aio.AioRpcError) as err:
            await call(StringValue(value="bug"))
        assert err.value.code() == grpc.StatusCode.INTERNAL and err.value.details() == "internal error"
    logged = [r for r in caplog.records if r.name == "vigil.grpc" and r.levelname == "ERROR"]
    assert [r.getMessage() for r in logged] == [f"unhandled error in {method('UnaryFailing')}"]
    assert logged[0].exc_info[0] is KeyError  # the log line carries the handler's own error and its traceback


async def test_a_call_without_a_trace_runs_in_a_trace_of_its_own(channel):
    ch, _ = channel

    async def calls() -> list[StringValue]:  # in a context of its own: no caller's span, a bound caller
        context.bind(context.CallContext(tenant_id="acme", actor="sre@acme.io", role="responder"))
        return [await ch.unary_unary(method("Unary"), **CLIENT_CODEC)(StringValue(value=v)) for v in "ab"]

    replies = await asyncio.create_task(calls(), context=contextvars.Context())
    ids = [reply.value.rsplit("|", 1)[1] for reply in replies]
    assert all(len(i) == 32 and int(i, 16) for i in ids) and ids[0] != ids[1]
