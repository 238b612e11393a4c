"""A connection the broker dropped, written to under uvloop before aiokafka noticed, fails the request with
KafkaConnectionError (which aiokafka's background tasks retry) instead of killing the task with RuntimeError
(`bus._send_or_connection_error`; aio-libs/aiokafka#1038). Against the real test broker, on uvloop as every
Vigil process runs."""

from __future__ import annotations

import asyncio

import pytest
import uvloop
from aiokafka.conn import AIOKafkaConnection, create_conn
from aiokafka.errors import KafkaConnectionError
from aiokafka.protocol.metadata import MetadataRequest

from vigil.runtime import bus  # noqa: F401 - importing the bus installs the fix


async def _send_on_a_dropped_connection(bootstrap: str) -> None:
    host, port = bootstrap.rsplit(":", 1)
    conn = await create_conn(host, int(port))
    assert (await conn.send(MetadataRequest([]))).brokers  # the connection works
    # A writer whose connection is gone while aiokafka has not yet seen it: its transport closed under it.
    _, dropped = await asyncio.open_connection(host, int(port))
    dropped.transport.abort()
    await asyncio.sleep(0.05)
    working, conn._writer = conn._writer, dropped
    try:
        await conn.send(MetadataRequest([]))
    finally:
        working.close()
        conn.close()


def test_a_request_on_a_dropped_connection_is_a_connection_error(kafka_bootstrap):
    assert hasattr(AIOKafkaConnection.send, "wrapped")  # installed by importing the bus
    with pytest.raises(KafkaConnectionError, match="broken"):
        uvloop.run(_send_on_a_dropped_connection(kafka_bootstrap))


def test_without_the_fix_uvloop_raises_runtime_error(kafka_bootstrap, monkeypatch):
    # What the fix is for: aiokafka's own send lets uvloop's RuntimeError through.
    monkeypatch.setattr(AIOKafkaConnection, "send", AIOKafkaConnection.send.wrapped)
    with pytest.raises(RuntimeError, match="closed"):
        uvloop.run(_send_on_a_dropped_connection(kafka_bootstrap))
