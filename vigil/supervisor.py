"""Supervision of Vigil's processes on one machine (`vigil up`): a process that dies is started again, after a
backoff that doubles with each crash in a row, and given up on when it crash-loops; the others keep serving.

A supervisor thread polls its children. When one exits without being asked to, it logs why (exit code or
signal, and the last lines of the child's log) and schedules a restart `initial_backoff * 2**n` seconds later
(n = crashes in a row, capped at `max_backoff`; a child that stayed up `stable_after` seconds starts again from
`initial_backoff`). More than `max_restarts` crashes within `window` seconds and the child is marked `failed`
and left down, loudly: a process that dies as soon as it starts (bad configuration, a corrupt file) would
otherwise spin forever and bury the reason in restarts.

The supervisor writes its view to a state file (`<data dir>/supervisor.json`, replaced atomically on every
change and every few seconds): its own pid, and for each child the pid, state (`running`, `backoff`,
`failed`, `stopped`), restarts, start time, last exit and how to probe it. `vigil status` reads that file and
probes every child itself (gRPC health, the gateway's /readyz, a Kafka ApiVersions request), so what it shows
is live, not the supervisor's memory.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

log = logging.getLogger("vigil.supervisor")

STATE_FILE = "supervisor.json"
LOG_TAIL_LINES = 20


@dataclass(frozen=True)
class RestartPolicy:
    initial_backoff: float = 0.5
    max_backoff: float = 10.0
    max_restarts: int = 5  # more crashes than this within `window` seconds: give up on the process
    window: float = 60.0
    stable_after: float = 20.0  # up at least this long: the next crash starts the backoff afresh


@dataclass(frozen=True)
class Probe:
    """How `vigil status` asks a process whether it serves: `grpc` (standard health service), `http` (the
    gateway's /readyz) or `kafka` (an ApiVersions request)."""

    kind: str
    address: str


@dataclass(eq=False)
class Child:
    """One supervised process: how to launch an incarnation of it, where it logs, how to probe it."""

    name: str
    launch: Callable[[dict[str, str]], subprocess.Popen]
    log_path: Path
    probe: Probe
    stop_timeout: float = 15.0
    proc: subprocess.Popen | None = None
    state: str = "stopped"
    restarts: int = 0
    started_at: float = 0.0  # wall clock of the current incarnation
    last_exit: str = ""
    last_exit_at: float = 0.0
    _started: float = 0.0  # monotonic
    _in_a_row: int = 0
    _crashes: deque = field(default_factory=deque)
    _restart_at: float = 0.0

    def spawn(self, extra_env: dict[str, str] | None = None) -> None:
        self.proc = self.launch(extra_env or {})
        self.state = "running"
        self.started_at = time.time()
        self._started = time.monotonic()

    def signal(self, sig: int) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)

    def wait(self, timeout: float) -> None:
        """Wait for the current incarnation to end; SIGKILL it after `timeout`."""
        if self.proc is None:
            return
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning("%s did not stop within %.0fs of SIGTERM; killing it", self.name, timeout)
            self.proc.kill()
            self.proc.wait()

    def status(self) -> dict:
        return {
            "name": self.name, "pid": self.proc.pid if self.proc is not None else None, "state": self.state,
            "restarts": self.restarts, "started_at": self.started_at, "last_exit": self.last_exit,
            "last_exit_at": self.last_exit_at, "log": str(self.log_path),
            "probe": {"kind": self.probe.kind, "address": self.probe.address},
        }


def describe_exit(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit code {returncode}"


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        with path.open("rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 16384))
            text = f.read().decode(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


class Supervisor:
    def __init__(self, children: list[Child], state_file: Path, policy: RestartPolicy | None = None,
                 poll_seconds: float = 0.1) -> None:
        self.children = {c.name: c for c in children}
        self.state_file = state_file
        self.policy = policy or RestartPolicy()
        self.poll_seconds = poll_seconds
        self.started_at = time.time()
        self.lock = threading.RLock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._written = 0.0

    # -- the loop

    def start(self) -> None:
        self.write_state()
        self._thread = threading.Thread(target=self._run, name="vigil-supervisor", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop supervising (children keep running; the caller stops them in its order)."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        while not self._stopping.wait(self.poll_seconds):
            changed = False
            with self.lock:
                for child in self.children.values():
                    changed |= self._check(child)
            if changed or time.monotonic() - self._written > 2.0:
                self.write_state()

    def _check(self, child: Child) -> bool:
        now = time.monotonic()
        if child.state == "running" and child.proc is not None and child.proc.poll() is not None:
            self._exited(child, child.proc.returncode, now)
            return True
        if child.state == "backoff" and now >= child._restart_at:
            try:
                child.spawn()
            except Exception as exc:  # noqa: BLE001 - a launch that fails is a crash like any other
                log.error("could not start %s: %s", child.name, exc)
                self._exited(child, 1, now)
                return True
            child.restarts += 1
            log.warning("%s restarted (pid %d, restart %d)", child.name, child.proc.pid, child.restarts)
            return True
        return False

    def _exited(self, child: Child, returncode: int, now: float) -> None:
        p = self.policy
        child.last_exit = describe_exit(returncode)
        child.last_exit_at = time.time()
        up = now - child._started
        if up >= p.stable_after:
            child._in_a_row = 0
        child._crashes.append(now)
        while child._crashes and child._crashes[0] < now - p.window:
            child._crashes.popleft()
        tail = log_tail(child.log_path)
        if len(child._crashes) > p.max_restarts:
            child.state = "failed"
            log.error(
                "\n!!! %s crashed %d times within %.0fs (last: %s); NOT restarting it. Everything else keeps "
                "serving; its routes answer 503 UNAVAILABLE. Fix the cause (log: %s) and restart `vigil up`.\n"
                "--- last lines of %s ---\n%s\n---",
                child.name, len(child._crashes), p.window, child.last_exit, child.log_path, child.log_path, tail)
            return
        delay = min(p.initial_backoff * 2 ** child._in_a_row, p.max_backoff)
        child._in_a_row += 1
        child.state = "backoff"
        child._restart_at = now + delay
        log.warning("%s (pid %s) exited unexpectedly after %.1fs: %s; restarting in %.1fs\n"
                    "--- last lines of %s ---\n%s\n---", child.name, child.proc.pid if child.proc else "?", up,
                    child.last_exit, delay, child.log_path, tail)

    # -- deliberate actions (the caller's thread)

    def stop_child(self, name: str, sig: int = signal.SIGTERM) -> None:
        """Stop a child on purpose; it stays down until start_child."""
        child = self.children[name]
        with self.lock:
            child.state = "stopped"
            child.signal(sig)
        child.wait(child.stop_timeout)
        self.write_state()

    def start_child(self, name: str, extra_env: dict[str, str] | None = None) -> None:
        """Start a stopped child; `extra_env` applies to this incarnation only (its automatic restarts run
        without it), e.g. a failpoint that should fire once."""
        child = self.children[name]
        with self.lock:
            if child.state == "running" and child.proc is not None and child.proc.poll() is None:
                raise RuntimeError(f"{name} is running")
            child.spawn(extra_env)
            child._crashes.clear()
            child._in_a_row = 0
        self.write_state()

    # -- the state file

    def write_state(self, stopped: bool = False) -> None:
        with self.lock:
            state = {
                "pid": os.getpid(), "started_at": self.started_at, "updated_at": time.time(),
                "stopped_at": time.time() if stopped else None,
                "processes": [c.status() for c in self.children.values()],
            }
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=1))
        os.replace(tmp, self.state_file)
        self._written = time.monotonic()


# -- `vigil status`: read the state file, probe every process -------------------------------------------------


def read_state(data_dir: Path) -> dict | None:
    try:
        return json.loads((data_dir / STATE_FILE).read_text())
    except (OSError, ValueError):
        return None


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _process_state(pid: int) -> str:
    """The state letter of /proc/<pid>/stat ('' when gone): a zombie ('Z') answers signals but is dead."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return ""


def _started_here(pid: int, name: str, data_dir: Path) -> bool:
    """Whether pid is the `name` process of a Vigil on this data dir (its command line and environment say so)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return False
    if name == "kafka":  # the broker's log4j configuration lives in the data dir
        return b"kafka.Kafka" in cmdline and any(str(data_dir).encode() in arg for arg in cmdline)
    module = b"gateway" if name == "gateway" else f"services.{name}".encode()
    return module in cmdline and f"VIGIL_DATA_DIR={data_dir}".encode() in environ


def leftovers(data_dir: Path) -> list[tuple[str, int]]:
    """Processes that a `vigil up` on this data dir started and left running when it died without stopping
    them (kill -9, a crash): the pids of its state file that are still alive and still those processes."""
    state = read_state(data_dir)
    if state is None or running_supervisor(data_dir) is not None:
        return []
    return [(p["name"], p["pid"]) for p in state["processes"]
            if p.get("pid") and _process_state(p["pid"]) not in ("", "Z")
            and _started_here(p["pid"], p["name"], data_dir)]


def stop_pid(pid: int, timeout: float = 15.0) -> None:
    """SIGTERM a process that is not our child, wait for it to go, SIGKILL it if it does not."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if _process_state(pid) in ("", "Z"):
                return
            time.sleep(0.1)


def running_supervisor(data_dir: Path) -> int | None:
    """The pid of the `vigil up` supervising this data dir, if one runs."""
    state = read_state(data_dir)
    if state is None or state.get("stopped_at") or not pid_alive(state.get("pid")):
        return None
    return state["pid"]


async def probe(kind: str, address: str, timeout: float = 1.0) -> str:
    """A live answer: `serving` (gRPC SERVING, Kafka answering), `ready` (gateway /readyz 200), or why not."""
    if kind == "grpc":
        import grpc
        from grpc_health.v1 import health_pb2, health_pb2_grpc

        async with grpc.aio.insecure_channel(address) as ch:
            try:
                resp = await health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=timeout)
            except grpc.aio.AioRpcError as exc:
                return "down" if exc.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED) \
                    else exc.code().name.lower()
            return health_pb2.HealthCheckResponse.ServingStatus.Name(resp.status).lower().replace("_", "-")
    if kind == "http":
        import aiohttp

        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session:
                # The gateway's own readiness; the services' health is on their own rows.
                async with session.get(f"http://{address}/readyz?exclude=upstreams") as resp:
                    if resp.status == 200:
                        return "ready"
                    body = await resp.json(content_type=None)
                    return f"not ready: {body.get('error', resp.status)}"
        except (aiohttp.ClientError, TimeoutError, ValueError):
            return "down"
    if kind == "kafka":
        from vigil.runtime.kafka_local import broker_answers

        return "serving" if await asyncio.to_thread(broker_answers, int(address.rpartition(":")[2])) else "down"
    raise ValueError(f"unknown probe kind {kind}")


async def probe_all(processes: list[dict]) -> list[str]:
    return list(await asyncio.gather(*(probe(p["probe"]["kind"], p["probe"]["address"]) for p in processes)))


def format_duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def status_table(state: dict, health: list[str], now: float | None = None) -> str:
    now = now or time.time()
    rows = [("PROCESS", "PID", "STATE", "HEALTH", "RESTARTS", "UPTIME", "LAST EXIT")]
    for p, h in zip(state["processes"], health, strict=True):
        up = format_duration(now - p["started_at"]) if p["state"] == "running" and p["started_at"] else "-"
        last = f"{p['last_exit']} ({format_duration(now - p['last_exit_at'])} ago)" if p["last_exit"] else ""
        rows.append((p["name"], str(p["pid"] or "-"), p["state"], h, str(p["restarts"]), up, last))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    return "\n".join(("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) + "  " + r[-1]).rstrip()
                     for r in rows)


def started_iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
