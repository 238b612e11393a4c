"""`vigil up` starts every process, prints where the planes listen, serves, restarts what crashes (`vigil
status` shows it), and stops cleanly on Ctrl-C."""

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.support import api
from vigil.runtime.config import SERVICES
from vigil.runtime.kafka_local import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.kafka]


def test_vigil_up_serves_and_stops_on_ctrl_c(tmp_path, kafka_bootstrap):
    tenant_port, control_port = free_port(), free_port()
    env = {
        **os.environ,
        "VIGIL_DATA_DIR": str(tmp_path / "data"),
        "VIGIL_KAFKA_BOOTSTRAP": kafka_bootstrap,  # an existing broker: vigil up must not start its own
        "VIGIL_TENANT_PORT": str(tenant_port),
        "VIGIL_CONTROL_PORT": str(control_port),
        **{f"VIGIL_{name.upper()}_ADDR": f"127.0.0.1:{free_port()}" for name in SERVICES},
    }
    env.pop("VIGIL_OPERATOR_PASSWORD", None)
    proc = subprocess.Popen([sys.executable, "-m", "vigil.cli", "up"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "Press Ctrl-C to stop" in line:
                break
        out = "".join(lines)
        assert f"tenant plane   http://127.0.0.1:{tenant_port}/api" in out, out
        assert f"control plane  http://127.0.0.1:{control_port}/api" in out, out
        assert f"kafka: using {kafka_bootstrap}" in out
        password = re.search(r"operator: \S+ / (\S+)", out).group(1)
        assert password == (tmp_path / "data" / "operator-password").read_text().strip()
        with urllib.request.urlopen(f"http://127.0.0.1:{tenant_port}/readyz", timeout=5) as resp:
            assert resp.status == 200
        req = urllib.request.Request(f"http://127.0.0.1:{control_port}/api/auth/token", method="POST",
                                     data=f'{{"email": "operator@vigil.local", "password": "{password}"}}'.encode())
        with urllib.request.urlopen(req, timeout=5) as resp:
            assert resp.status == 200
        assert api.OPERATOR_PASSWORD != password

        def vigil(*args: str) -> subprocess.CompletedProcess:
            return subprocess.run([sys.executable, "-m", "vigil.cli", *args], env=env, capture_output=True,
                                  text=True, timeout=60)

        status = vigil("status")
        assert status.returncode == 0, status.stdout + status.stderr
        for name in SERVICES:
            assert re.search(rf"^{name}\s+\d+\s+running\s+serving\s+0\s", status.stdout, re.M), status.stdout
        assert re.search(r"^gateway\s+\d+\s+running\s+ready\s+0\s", status.stdout, re.M), status.stdout
        second = vigil("up")
        assert second.returncode == 1 and "already running" in second.stderr

        # kill -9 a service: restarted, and `vigil status` says so.
        before = {p["name"]: p for p in json.loads(vigil("status", "--json").stdout)["processes"]}
        os.kill(before["incident"]["pid"], signal.SIGKILL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            now = json.loads(vigil("status", "--json").stdout)
            incident = next(p for p in now["processes"] if p["name"] == "incident")
            if now["healthy"] and incident["restarts"] == 1:
                break
            time.sleep(0.5)
        assert incident["restarts"] == 1 and incident["pid"] != before["incident"]["pid"], now
        assert incident["health"] == "serving" and incident["last_exit"] == "killed by SIGKILL"
        assert "killed by SIGKILL" in vigil("status").stdout

        started = time.monotonic()
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=60)
        print(f"stopped in {time.monotonic() - started:.1f}s")
        assert proc.returncode == 0, rest
        assert "stopped." in rest
        assert "incident (pid" in rest and "exited unexpectedly" in rest and "restarting in" in rest
        for port in (tenant_port, control_port):  # nothing left listening
            with pytest.raises(OSError):
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)
        stopped = vigil("status")
        assert stopped.returncode == 3 and "not running" in stopped.stderr
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)


def test_vigil_up_stops_what_a_killed_vigil_up_left_running(tmp_path, kafka_bootstrap):
    env = {
        **os.environ,
        "VIGIL_DATA_DIR": str(tmp_path / "data"),
        "VIGIL_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "VIGIL_TENANT_PORT": str(free_port()),
        "VIGIL_CONTROL_PORT": str(free_port()),
        **{f"VIGIL_{name.upper()}_ADDR": f"127.0.0.1:{free_port()}" for name in SERVICES},
    }

    def up() -> tuple[subprocess.Popen, str]:
        proc = subprocess.Popen([sys.executable, "-m", "vigil.cli", "up"], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, start_new_session=True)
        lines = []
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "Press Ctrl-C to stop" in line:
                break
        return proc, "".join(lines)

    def gone(pid: int) -> bool:  # exited (a zombie waiting for its reaper counts as gone)
        try:
            return open(f"/proc/{pid}/stat").read().rpartition(")")[2].split()[0] == "Z"
        except FileNotFoundError:
            return True

    first, out = up()
    second = None
    left: dict[str, int] = {}
    try:
        assert "Press Ctrl-C to stop" in out, out
        left = {p["name"]: p["pid"] for p in json.loads((tmp_path / "data" / "supervisor.json").read_text())["processes"]}
        first.kill()  # vigil up dies without stopping its processes: they keep the ports
        first.wait()
        second, out = up()
        assert "Press Ctrl-C to stop" in out, out  # the ports were freed
        for name, pid in left.items():
            assert f"stopping {name} (pid {pid}): left running" in out
            assert gone(pid), name
        second.send_signal(signal.SIGINT)
        rest, _ = second.communicate(timeout=60)
        assert second.returncode == 0 and "stopped." in rest
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
        for pid in left.values():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
