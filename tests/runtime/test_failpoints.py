"""Failpoints: parsing of VIGIL_FAILPOINTS, counts, actions, and the crash action in a real process."""

import os
import signal
import subprocess
import sys

import pytest

from vigil.runtime import failpoints
from vigil.runtime.grpcio import failpoint_name


def test_parse_actions_counts_and_sleep_argument():
    points = failpoints.parse("observability.after_insert=crash, cmdb.GetImpact=sleep(2.5),x.y=2*error,z=off")
    assert points["observability.after_insert"].action == "crash"
    assert points["observability.after_insert"].remaining is None
    assert points["cmdb.GetImpact"].seconds == 2.5
    assert points["x.y"].remaining == 2
    assert points["z"].action == "off"
    assert failpoints.parse("") == {}


@pytest.mark.parametrize("spec", ["cmdb.GetImpact=sleep", "a=crash(3)", "a=explode", "=crash", "a"])
def test_a_malformed_entry_is_refused(spec):
    with pytest.raises(ValueError, match="VIGIL_FAILPOINTS"):
        failpoints.parse(spec)


def test_a_count_limits_how_often_a_point_fires(monkeypatch):
    monkeypatch.setattr(failpoints, "POINTS", failpoints.parse("a.b=2*error"))
    for _ in range(2):
        with pytest.raises(failpoints.FailpointError):
            failpoints.hit("a.b")
    failpoints.hit("a.b")  # quiet now
    failpoints.hit("not.set")


async def test_async_sleep_and_hook(monkeypatch):
    monkeypatch.setattr(failpoints, "POINTS", failpoints.parse("a.b=sleep(0.01),c.d=error"))
    await failpoints.ahit("a.b")
    assert failpoints.hook("unset.point") is None
    with pytest.raises(failpoints.FailpointError):
        failpoints.hook("c.d")("any", "args")


def test_rpc_failpoint_names():
    assert failpoint_name("/vigil.cmdb.v1.CmdbService/GetImpact") == "cmdb.GetImpact"
    assert failpoint_name("/grpc.health.v1.Health/Check") == "health.Check"


def test_crash_kills_the_process_like_kill_9():
    code = "from vigil.runtime import failpoints; failpoints.hit('p.q'); print('survived')"
    out = subprocess.run([sys.executable, "-c", code], env={**os.environ, "VIGIL_FAILPOINTS": "p.q=crash"},
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == -signal.SIGKILL
    assert "survived" not in out.stdout
    unset = subprocess.run([sys.executable, "-c", code], env={k: v for k, v in os.environ.items()
                                                              if k != "VIGIL_FAILPOINTS"},
                           capture_output=True, text=True, timeout=60)
    assert unset.returncode == 0 and "survived" in unset.stdout
