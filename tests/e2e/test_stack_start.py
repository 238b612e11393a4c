"""A stack that cannot start stops what it started: no service is left consuming from the broker (where it would
take the events of the stacks after it) or holding ports; and the ports one stack takes are distinct."""

from __future__ import annotations

import socket

import pytest

from tests.support import api
from vigil.stack import Stack


def test_a_failed_start_stops_every_process_it_started(kafka_bootstrap, tmp_path):
    with socket.socket() as taken:  # the gateway's port is someone else's: the gateway cannot listen
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        stack = Stack(data_dir=tmp_path, ephemeral_ports=True, services=("incident", "cmdb"), env={
            "VIGIL_KAFKA_BOOTSTRAP": kafka_bootstrap, "VIGIL_OPERATOR_EMAIL": api.OPERATOR_EMAIL,
            "VIGIL_OPERATOR_PASSWORD": api.OPERATOR_PASSWORD})
        stack.ports["tenant"] = taken.getsockname()[1]
        with pytest.raises(RuntimeError, match="gateway exited"):
            stack.start(timeout=60)
    started = [child for child in stack.children.values() if child.proc is not None]
    assert {child.name for child in started} == {"incident", "cmdb", "gateway"}
    assert all(child.proc.poll() is not None for child in started)


def test_the_ports_of_one_stack_are_distinct(monkeypatch, tmp_path):
    offered = iter([41001, 41002, 41001, 41002, 41003, 41004, 41005, 41006, 41007, 41008])
    monkeypatch.setattr("vigil.stack.free_port", lambda: next(offered))
    stack = Stack(data_dir=tmp_path, ephemeral_ports=True)
    stack.base_env()
    assert len(set(stack.ports.values())) == len(stack.ports) == 7
