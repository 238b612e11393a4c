"""What the gateway benchmarks share: starting the stack (from this checkout or another one, to measure before
and after a change on the same machine state), a tenant to drive it with a JWT or an API key, the anchors
(`anchor.py`), and the load loop with its report."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import aiohttp

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("VIGIL_CACHE_DIR", str(REPO / ".cache"))

from tests.support import api  # noqa: E402
from vigil.runtime.kafka_local import free_port  # noqa: E402
from vigil.stack import Stack  # noqa: E402

UNLIMITED = {"rate_limits": {"read": 10**9, "write": 10**9}, "quotas": {"incidents_per_month": 10**12}}


def add_arguments(parser, seconds: float) -> None:
    """The options of the request-path benchmarks (incident create, get, list)."""
    parser.add_argument("--seconds", type=float, default=seconds)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--warmup", type=float, default=3)
    parser.add_argument("--api-key", action="store_true",
                        help="authenticate with an API key (X-Api-Key) instead of a JWT")
    parser.add_argument("--source", type=lambda p: Path(p).resolve(), default=None,
                        help="run the stack's processes from this checkout (e.g. an export of the commit before "
                             "a change)")
    parser.add_argument("--profile", type=lambda p: Path(p).resolve(), default=None,
                        help="write a py-spy flame graph (speedscope JSON) of each Vigil process during the measured "
                             "run into this directory")


@contextlib.asynccontextmanager
async def stack(source: Path | None) -> AsyncIterator[Stack]:
    env = {"VIGIL_OPERATOR_EMAIL": api.OPERATOR_EMAIL, "VIGIL_OPERATOR_PASSWORD": api.OPERATOR_PASSWORD,
           "VIGIL_LOG_LEVEL": "WARNING"}
    if source is not None:
        env["PYTHONPATH"] = str(source)  # ahead of this checkout's editable install
        # and the working directory too: `python -m` puts it first on the children's sys.path.
        os.chdir(source)
    running = Stack(data_dir=Path(tempfile.mkdtemp(prefix="vigil-bench-")), env=env, ephemeral_ports=True)
    # Stopped by SIGTERM (kill, timeout), a benchmark stops its stack instead of leaving it to load the machine.
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, asyncio.current_task().cancel)
    try:
        running.env["VIGIL_KAFKA_BOOTSTRAP"] = await asyncio.to_thread(running.start_kafka)
        await asyncio.to_thread(running.start)
        yield running
    finally:
        await asyncio.to_thread(running.stop)


async def unlimited(session: aiohttp.ClientSession, running: Stack) -> None:
    """Raise tenant `bench`'s limits out of the way: a benchmark measures what checking them costs, not refusals."""
    control_url = f"http://127.0.0.1:{running.ports['control']}"
    operator = {"Authorization": f"Bearer {await api.operator_token(session, control_url)}"}
    await api.request(session, "PATCH", f"{control_url}/api/tenants/bench/limits", json=UNLIMITED,
                      headers=operator)  # (a 404 from a checkout before limits existed)


async def credentials(session: aiohttp.ClientSession, running: Stack, use_api_key: bool) -> dict[str, str]:
    """Headers of a responder of tenant `bench` (a JWT), or of an API key of that tenant; its limits raised."""
    tenant_url = f"http://127.0.0.1:{running.ports['tenant']}"
    control_url = f"http://127.0.0.1:{running.ports['control']}"
    users = await api.tenant(session, tenant_url, control_url, "bench", roles=("admin", "responder"))
    await unlimited(session, running)
    if use_api_key:
        minted = await users["admin"].post("/api/api-keys", {"name": "bench", "scopes": ["incidents:*"]})
        return {"X-Api-Key": minted.data["token"], "Content-Type": "application/json"}
    return {**users["responder"].headers, "Content-Type": "application/json"}


async def create_incidents(session: aiohttp.ClientSession, tenant_url: str, headers: dict[str, str], count: int,
                           severities: tuple[str, ...] = ("P2",)) -> list[str]:
    """`count` incidents of the tenant (severities in turn); their ids."""
    ids = []
    for i in range(count):
        async with session.post(f"{tenant_url}/api/incidents", headers=headers,
                                json={"title": f"incident {i}", "severity": severities[i % len(severities)],
                                      "labels": {"team": "db", "n": i}}) as made:
            assert made.status == 201, await made.text()
            ids.append((await made.json())["data"]["id"])
    return ids


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Measured:
    """The CPU each Vigil process of the stack, and the local Kafka broker, spent during the measured run (on a
    shared machine, CPU time per answer is steadier than throughput), and optionally a py-spy profile of each Vigil
    process."""

    def __init__(self, running: Stack, profile: Path | None, seconds: float) -> None:
        self.processes = running.processes
        self.broker = running.children["kafka"].proc  # the local Kafka broker shares the cores, so it is counted too
        self.profile = profile
        self.seconds = seconds
        self.cpu: dict[str, float] = {}

    @contextlib.contextmanager
    def run(self) -> Iterator[Measured]:
        recorders = []
        if self.profile is not None:
            self.profile.mkdir(parents=True, exist_ok=True)
            spy = Path(sys.executable).parent / "py-spy"
            recorders = [subprocess.Popen([str(spy), "record", "--pid", str(proc.pid), "--duration",
                                           str(int(self.seconds)), "--rate", "200", "--format", "speedscope",
                                           # py-spy reads native stacks only while the process is stopped
                                           *(["--native"] if os.environ.get("BENCH_PROFILE_NATIVE")
                                             else ["--nonblocking"]),
                                           "-o", str(self.profile / f"{name}.speedscope.json")],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                         for name, proc in self.processes.items()]
        before = {name: cpu_seconds(proc.pid) for name, proc in self.processes.items()}
        broker_before = cpu_seconds(self.broker.pid)
        try:
            yield self
        finally:
            self.cpu = {name: cpu_seconds(proc.pid) - before[name] for name, proc in self.processes.items()}
            self.broker_cpu = cpu_seconds(self.broker.pid) - broker_before
            for recorder in recorders:
                recorder.wait(120)

    async def settle(self, idle_share: float = 0.1, timeout: float = 60.0) -> None:
        """After the run, wait until the work it caused in the background (event consumers, outbox relays) is
        done: the stack's processes together use less than `idle_share` of a core over a second."""
        self.cpu_settled = dict(self.cpu)
        started = {name: cpu_seconds(proc.pid) for name, proc in self.processes.items()}
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            before = {name: cpu_seconds(proc.pid) for name, proc in self.processes.items()}
            await asyncio.sleep(1.0)
            after = {name: cpu_seconds(proc.pid) for name, proc in self.processes.items()}
            if sum(after[n] - before[n] for n in after) < idle_share:
                break
        self.cpu_settled = {name: self.cpu[name] + after[name] - started[name] for name in self.cpu}

    def report(self, answers: int) -> None:
        """CPU milliseconds per answer of each process that did work (and their sum); with `settle`, also counting
        the background work the run caused until it was done."""
        if not answers:
            return
        for label, spent in (("cpu/answer ", self.cpu), ("  +settled ", getattr(self, "cpu_settled", None))):
            if spent is None:
                continue
            busy = {name: cpu for name, cpu in spent.items() if cpu * 1000 / answers >= 0.005}
            parts = "   ".join(f"{name} {cpu * 1000 / answers:.3f}" for name, cpu in busy.items())
            print(f"  {label} {parts}   total {sum(busy.values()) * 1000 / answers:.3f} ms")
        print(f"  kafka broker {self.broker_cpu * 1000 / answers:.3f} ms per answer (not in the totals above)")


def measured(running: Stack, args) -> contextlib.AbstractContextManager[Measured]:
    return Measured(running, args.profile, args.seconds).run()


async def run_measured(running: Stack, args, name: str, send: Callable[[], object], ok: int) -> float:
    """Warm up, then drive `send` for the measured run (with its CPU per answer and any profile); the rate."""
    await drive(send, ok, args.warmup, args.concurrency)
    with measured(running, args) as cpu:
        latencies, errors = await drive(send, ok, args.seconds, args.concurrency)
    rate = report(name, latencies, errors, args.seconds, args.concurrency)
    cpu.report(len(latencies))
    return rate


async def anchor_rates(session: aiohttp.ClientSession, args, method: str = "GET", body: bytes = b"",
                       ok: int = 200) -> tuple[float, float]:
    """The same load on the two anchors (`bench/anchor.py`), each in processes of their own: the bare aiohttp
    handler, and that handler making one gRPC call to a bare grpc.aio server (the floor of the design's request
    path). Prints each with its CPU per answer; returns their rates."""
    rates = []
    for name, via_grpc in (("anchor: bare aiohttp handler", False),
                           ("anchor: aiohttp handler + one gRPC call (the design's floor)", True)):
        with anchor(via_grpc) as (url, processes):
            def send():
                return session.request(method, url, data=body or None, headers={"Content-Type": "application/json"})

            await drive(send, ok, args.warmup, args.concurrency)
            before = {process: cpu_seconds(proc.pid) for process, proc in processes.items()}
            latencies, errors = await drive(send, ok, args.seconds, args.concurrency)
            rates.append(report(name, latencies, errors, args.seconds, args.concurrency))
            if latencies:
                print("  cpu/answer  " + "   ".join(
                    f"{process} {(cpu_seconds(proc.pid) - before[process]) * 1000 / len(latencies):.3f}"
                    for process, proc in processes.items()) + " ms")
    return rates[0], rates[1]


def wait_for_port(port: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@contextlib.contextmanager
def anchor(via_grpc: bool = False) -> Iterator[tuple[str, dict[str, subprocess.Popen]]]:
    """The bare aiohttp handler in a process of its own (with `via_grpc`, making one call to a bare gRPC server in
    another); yields its URL and the processes."""
    script = [sys.executable, str(REPO / "bench" / "anchor.py")]
    processes: dict[str, subprocess.Popen] = {}
    port = free_port()
    url = f"http://127.0.0.1:{port}/bare"
    try:
        if via_grpc:
            grpc_port = free_port()
            processes["grpc"] = subprocess.Popen([*script, "grpc", str(grpc_port)])
            wait_for_port(grpc_port)  # else the handler's first calls fail while it starts, and print why
            processes["http"] = subprocess.Popen([*script, "http", str(port), "--grpc", f"127.0.0.1:{grpc_port}"])
        else:
            processes["http"] = subprocess.Popen([*script, "http", str(port)])
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(url, timeout=1).read()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield url, processes
    finally:
        for process in processes.values():
            process.terminate()
            process.wait(10)


async def drive(send: Callable[[], object], ok: int, seconds: float, concurrency: int) -> tuple[list[float], int]:
    """`concurrency` clients calling `send()` (an aiohttp request context) for `seconds`."""
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            async with send() as resp:  # type: ignore[attr-defined]
                await resp.read()
                if resp.status != ok:
                    errors += 1
                    continue
            latencies.append(time.perf_counter() - started)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, errors


def report(name: str, latencies: list[float], errors: int, seconds: float, concurrency: int) -> float:
    n = len(latencies)
    latencies.sort()
    p = lambda q: latencies[min(n - 1, int(q * n))] * 1000  # noqa: E731
    rate = n / seconds
    print(f"{name}: {n} answers in {seconds:.0f}s with {concurrency} clients, {errors} errors")
    print(f"  throughput  {rate:8.0f} /s")
    if n:
        print(f"  latency     p50 {p(0.50):.1f} ms   p90 {p(0.90):.1f} ms   p99 {p(0.99):.1f} ms   "
              f"mean {statistics.fmean(latencies) * 1000:.1f} ms")
    return rate
