"""Supervision of the processes of one machine (vigil/supervisor.py, vigil/stack.py): a crashed process is
restarted and the rest keeps serving; a crash loop is given up on; while a service is down the gateway
answers its routes with 503 at once and everything else works; SIGTERM drains in-flight requests."""

import asyncio
import signal
import sys
import time

import aiohttp
import pytest

from tests.conftest import urls
from tests.support import api
from vigil.supervisor import Child, Probe, RestartPolicy, Supervisor, read_state

pytestmark = [pytest.mark.e2e, pytest.mark.kafka]

# Shorter than the gRPC deadline (10 s): a gateway that waited for the deadline would fail these requests.
FAIL_FAST = aiohttp.ClientTimeout(total=8)


async def eventually(check, timeout: float = 60.0, every: float = 0.2):
    """Poll `check()` (sync or async) until it returns a truthy value; return it."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not true after {timeout}s: {check}")
        await asyncio.sleep(every)


def supervised_state(stack, name: str) -> dict:
    return next(p for p in read_state(stack.data_dir)["processes"] if p["name"] == name)


async def test_a_killed_service_is_restarted_while_the_rest_keeps_serving(stack_factory):
    stack = stack_factory()
    tenant_url, control_url = urls(stack)
    async with aiohttp.ClientSession(timeout=FAIL_FAST) as session:
        client = (await api.tenant(session, tenant_url, control_url, roles=("responder",)))["responder"]
        assert (await client.post("/api/incidents", {"title": "before", "severity": "P3"})).status == 201
        old_pid = stack.kill("incident")
        # Restarted with a new pid; the supervisor records why the old one ended.
        await eventually(lambda: supervised_state(stack, "incident")["restarts"] == 1)
        state = supervised_state(stack, "incident")
        assert state["pid"] != old_pid and state["last_exit"] == "killed by SIGKILL"
        assert state["state"] == "running"
        # Meanwhile and afterwards the other routes answer; incidents come back once the service is up.
        assert (await client.get("/api/cmdb/items")).status == 200

        async def created() -> bool:
            return (await client.post("/api/incidents", {"title": "after", "severity": "P3"})).status == 201

        await eventually(created)
        listed = await client.get("/api/incidents")
        assert {i["title"] for i in listed.data["items"]} == {"before", "after"}
        # The gateway itself: killed, restarted, serving on the same port.
        stack.kill("gateway")
        await eventually(lambda: supervised_state(stack, "gateway")["restarts"] == 1)
        await eventually(lambda: _answers(session, tenant_url))
        assert (await client.get("/api/incidents")).status == 200


async def _answers(session: aiohttp.ClientSession, base: str) -> bool:
    try:
        async with session.get(base + "/healthz") as resp:
            return resp.status == 200
    except aiohttp.ClientError:
        return False


async def test_while_a_service_is_down_its_routes_answer_503_at_once_and_readyz_names_it(stack_factory):
    stack = stack_factory()
    tenant_url, control_url = urls(stack)
    async with aiohttp.ClientSession(timeout=FAIL_FAST) as session:
        client = (await api.tenant(session, tenant_url, control_url, roles=("responder",)))["responder"]
        await asyncio.to_thread(stack.stop_process, "incident")  # stays down until started again
        for _ in range(3):
            resp = await client.post("/api/incidents", {"title": "t", "severity": "P2"})
            assert resp.status == 503, resp.body
            assert resp.body["code"] == "UNAVAILABLE" and resp.headers.get("Retry-After"), (resp.body, resp.headers)
            assert (await client.get("/api/incidents")).status == 503
        assert (await client.get("/api/cmdb/items")).status == 200
        assert (await client.get("/api/itsm/changes")).status == 200
        ready = await api.request(session, "GET", tenant_url + "/readyz")
        assert ready.status == 503 and ready.body["error"] == "not serving: incident"
        assert (await api.request(session, "GET", tenant_url + "/readyz?exclude=incident")).status == 200
        assert (await api.request(session, "GET", tenant_url + "/readyz?exclude=upstreams")).status == 200
        assert supervised_state(stack, "incident")["state"] == "stopped"

        await asyncio.to_thread(stack.start_process, "incident")
        await asyncio.to_thread(stack.wait_healthy, ("incident",))
        # The gateway's channel reconnects within about a second of the service being back.
        await eventually(lambda: _status(client.post("/api/incidents", {"title": "t", "severity": "P2"}), 201),
                         timeout=15)
        assert (await api.request(session, "GET", tenant_url + "/readyz")).status == 200


async def _status(call, expected: int) -> bool:
    return (await call).status == expected


async def test_sigterm_drains_in_flight_requests_of_a_service_and_of_the_gateway(stack_factory):
    stack = stack_factory()
    tenant_url, control_url = urls(stack)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        client = (await api.tenant(session, tenant_url, control_url, roles=("responder",)))["responder"]
        item = await client.post("/api/cmdb/items", {"name": "db", "class": "database"})
        ci = item.data["id"]
        # Every blast-radius question now takes 3 s in the CMDB: long enough to stop it mid-request.
        await asyncio.to_thread(stack.stop_process, "cmdb")
        await asyncio.to_thread(stack.start_process, "cmdb", {"VIGIL_FAILPOINTS": "cmdb.GetImpact=sleep(3)"})
        await asyncio.to_thread(stack.wait_healthy, ("cmdb",))
        await eventually(lambda: _status(client.get("/api/cmdb/items"), 200), timeout=15)

        # A service: in flight when SIGTERM arrives, answered all the same.
        slow = asyncio.create_task(client.get(f"/api/cmdb/impact?ci_id={ci}"))
        await asyncio.sleep(1.0)
        stopping = asyncio.create_task(asyncio.to_thread(stack.stop_process, "cmdb"))
        await asyncio.sleep(0.5)
        ready = await api.request(session, "GET", tenant_url + "/readyz")
        assert ready.status == 503 and "cmdb" in ready.body["error"]  # readiness went off first
        resp = await slow
        assert resp.status == 200, resp.body  # the walk's answer, not a 503
        await stopping

        # The gateway: SIGTERM while a request is in flight; the request completes, then the port closes.
        await asyncio.to_thread(stack.start_process, "cmdb", {"VIGIL_FAILPOINTS": "cmdb.GetImpact=sleep(3)"})
        await asyncio.to_thread(stack.wait_healthy, ("cmdb",))
        await eventually(lambda: _status(client.get("/api/cmdb/items"), 200), timeout=15)
        slow = asyncio.create_task(client.get(f"/api/cmdb/impact?ci_id={ci}"))
        await asyncio.sleep(1.0)
        stopping = asyncio.create_task(asyncio.to_thread(stack.stop_process, "gateway"))
        resp = await slow
        assert resp.status == 200, resp.body
        await stopping
        with pytest.raises(aiohttp.ClientConnectionError):
            await client.get("/api/cmdb/items")


def _crashing_child(tmp_path, name: str, code: str) -> Child:
    log = tmp_path / f"{name}.log"

    def launch(env):
        import subprocess

        with open(log, "ab") as out:
            return subprocess.Popen([sys.executable, "-c", code], stdout=out, stderr=subprocess.STDOUT)

    return Child(name, launch, log, Probe("grpc", "127.0.0.1:1"))


def test_a_crash_loop_is_given_up_on_loudly_and_the_others_keep_running(tmp_path, caplog):
    looping = _crashing_child(tmp_path, "looping", "print('cannot open the store: disk full'); raise SystemExit(3)")
    steady = _crashing_child(tmp_path, "steady", "import time; time.sleep(60)")
    policy = RestartPolicy(initial_backoff=0.05, max_backoff=0.2, max_restarts=3, window=30)
    supervisor = Supervisor([looping, steady], tmp_path / "state.json", policy, poll_seconds=0.02)
    for child in (looping, steady):
        child.spawn()
    supervisor.start()
    try:
        deadline = time.monotonic() + 30
        while looping.state != "failed" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert looping.state == "failed"
        assert looping.restarts == 3  # three restarts, the fourth crash within the window gives up
        assert looping.last_exit == "exit code 3"
        assert steady.state == "running" and steady.proc.poll() is None and steady.restarts == 0
        time.sleep(0.3)
        assert looping.restarts == 3  # and it stays given up
        text = caplog.text
        assert "NOT restarting it" in text and "cannot open the store: disk full" in text
        assert "restarting in 0.1s" in text  # the backoff doubles: 0.05, 0.1, 0.2
        state = {p["name"]: p for p in (read_state(tmp_path) or _read(tmp_path / "state.json"))["processes"]}
        assert state["looping"]["state"] == "failed" and state["steady"]["state"] == "running"
    finally:
        supervisor.stop()
        steady.signal(signal.SIGKILL)
        steady.wait(5)


def _read(path):
    import json

    return json.loads(path.read_text())


def test_a_process_that_stays_up_starts_its_backoff_afresh(tmp_path):
    # Dies after 0.3 s each time; with stable_after 0.2 s every crash is a "first" crash: never given up.
    child = _crashing_child(tmp_path, "flaky", "import time; time.sleep(0.3); raise SystemExit(1)")
    policy = RestartPolicy(initial_backoff=0.05, max_backoff=5, max_restarts=100, window=60, stable_after=0.2)
    supervisor = Supervisor([child], tmp_path / "state.json", policy, poll_seconds=0.02)
    child.spawn()
    supervisor.start()
    try:
        deadline = time.monotonic() + 30
        while child.restarts < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert child.restarts >= 4 and child.state in ("running", "backoff")
        assert child._in_a_row == 1  # reset by every stable run
    finally:
        supervisor.stop()
        child.signal(signal.SIGKILL)
        child.wait(5)

