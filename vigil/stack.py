"""Runs Vigil's processes on one machine: the five services and the gateway as separate OS processes (and,
unless told otherwise, a local Kafka broker), supervised (vigil/supervisor.py). Used by `vigil up` and by the
end-to-end and fault tests."""

from __future__ import annotations

import asyncio
import http.client
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from vigil.runtime.config import SERVICE_PORTS, SERVICES
from vigil.runtime.grpcio import wait_serving
from vigil.runtime.kafka_local import KafkaBroker, free_port
from vigil.supervisor import STATE_FILE, Child, Probe, RestartPolicy, Supervisor

# How long a process may take to drain after SIGTERM before it is killed (its own grace is shorter).
STOP_TIMEOUT_SECONDS = 30.0


@dataclass
class Stack:
    data_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    # Ports: the defaults (50051.., 8080/8081) for `vigil up`; free ports for tests.
    ephemeral_ports: bool = False
    log_dir: Path | None = None
    services: tuple[str, ...] = SERVICES
    restart_policy: RestartPolicy = field(default_factory=RestartPolicy)
    children: dict[str, Child] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)
    kafka: KafkaBroker | None = None
    supervisor: Supervisor | None = None
    _chosen: set[int] = field(default_factory=set, repr=False)  # the ephemeral ports this stack took

    @property
    def processes(self) -> dict[str, subprocess.Popen]:
        """The current incarnation of each Vigil process (the broker is `kafka`)."""
        return {name: c.proc for name, c in self.children.items() if c.proc is not None and name != "kafka"}

    @property
    def logs(self) -> Path:
        return self.log_dir or self.data_dir / "logs"

    def _port(self, default: int) -> int:
        if not self.ephemeral_ports:
            return default
        while True:  # the kernel may hand out a port twice: two processes of one stack must not share one
            port = free_port()
            if port not in self._chosen:
                self._chosen.add(port)
                return port

    def start_kafka(self) -> str:
        port = self._port(9092)
        self.kafka = KafkaBroker(self.data_dir / "kafka", port, self._port(9093))
        self.children["kafka"] = Child("kafka", self.kafka.launch, self.data_dir / "kafka" / "kafka.log",
                                       Probe("kafka", self.kafka.bootstrap), stop_timeout=STOP_TIMEOUT_SECONDS)
        self.children["kafka"].spawn()
        self.kafka.wait_ready(60.0)
        return self.kafka.bootstrap

    def base_env(self) -> dict[str, str]:
        env = {**os.environ, **self.env, "VIGIL_DATA_DIR": str(self.data_dir)}
        for name in self.services:
            # A port given as VIGIL_<NAME>_ADDR wins over the default.
            configured = env.get(f"VIGIL_{name.upper()}_ADDR", "").rpartition(":")[2]
            default = int(configured) if configured.isdigit() else SERVICE_PORTS[name]
            self.ports.setdefault(name, self._port(default))
            env[f"VIGIL_{name.upper()}_ADDR"] = f"127.0.0.1:{self.ports[name]}"
        self.ports.setdefault("tenant", self._port(int(env.get("VIGIL_TENANT_PORT", 8080))))
        self.ports.setdefault("control", self._port(int(env.get("VIGIL_CONTROL_PORT", 8081))))
        env.setdefault("PYTHONUNBUFFERED", "1")
        return env

    def _child(self, name: str, module: str, env: dict[str, str], probe: Probe) -> Child:
        self.logs.mkdir(parents=True, exist_ok=True)
        log_path = self.logs / f"{name}.log"

        def launch(extra_env: dict[str, str]) -> subprocess.Popen:
            out = open(log_path, "ab")  # noqa: SIM115 - owned by the child
            try:
                return subprocess.Popen([sys.executable, "-m", module], env={**env, **extra_env}, stdout=out,
                                        stderr=subprocess.STDOUT, start_new_session=True)
            finally:
                out.close()

        child = self.children[name] = Child(name, launch, log_path, probe, stop_timeout=STOP_TIMEOUT_SECONDS)
        return child

    def start(self, timeout: float = 60.0, supervise: bool = True) -> None:
        """Start the services, then the gateway; a start that fails stops what it started (nothing is left
        consuming from the broker or holding ports)."""
        try:
            self._start(timeout, supervise)
        except BaseException:
            self.stop()
            raise

    def _start(self, timeout: float, supervise: bool) -> None:
        env = self.base_env()
        for name in self.services:
            self._child(name, f"services.{name}", {**env, "VIGIL_GRPC_PORT": str(self.ports[name])},
                        Probe("grpc", f"127.0.0.1:{self.ports[name]}")).spawn()
        # In a thread of its own: callers may be inside a running event loop (async tests).
        with ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, self._wait_services(timeout)).result()
        self._child("gateway", "gateway", {**env, "VIGIL_TENANT_PORT": str(self.ports["tenant"]),
                                           "VIGIL_CONTROL_PORT": str(self.ports["control"])},
                    Probe("http", f"127.0.0.1:{self.ports['tenant']}")).spawn()
        self._wait_http(self.ports["tenant"], timeout)
        if supervise:
            self.supervisor = Supervisor(list(self.children.values()), self.data_dir / STATE_FILE,
                                         self.restart_policy)
            self.supervisor.start()

    async def _wait_services(self, timeout: float, names: tuple[str, ...] | None = None) -> None:
        async def one(name: str) -> None:
            deadline = time.monotonic() + timeout
            while True:
                if self.supervisor is None:
                    self.check_alive()
                try:
                    await wait_serving(f"127.0.0.1:{self.ports[name]}", timeout=1.0)
                    return
                except TimeoutError:
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"{name} not serving after {timeout}s") from None

        await asyncio.gather(*(one(n) for n in names or self.services))

    def _wait_http(self, port: int, timeout: float) -> None:
        import urllib.request

        deadline = time.monotonic() + timeout
        while True:
            if self.supervisor is None:
                self.check_alive()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as resp:
                    if resp.status == 200:
                        return
            except (OSError, http.client.HTTPException):  # not up yet, or not the gateway on that port (yet)
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"gateway not answering on {port} after {timeout}s")
            time.sleep(0.1)

    def check_alive(self) -> None:
        """While starting (before supervision): a process that exits is a failed start."""
        for name, child in self.children.items():
            if child.proc is not None and child.proc.poll() is not None:
                tail = child.log_path.read_text(errors="replace")[-3000:] if child.log_path.exists() else ""
                raise RuntimeError(f"{name} exited with code {child.proc.returncode}:\n{tail}")

    def wait_healthy(self, names: tuple[str, ...] | None = None, timeout: float = 60.0) -> None:
        """Wait until the named processes (default: all) serve again, e.g. after a restart."""
        names = names or tuple(self.children)
        services = tuple(n for n in names if n in self.services)
        if services:
            with ThreadPoolExecutor(1) as pool:
                pool.submit(asyncio.run, self._wait_services(timeout, services)).result()
        if "gateway" in names:
            self._wait_http(self.ports["tenant"], timeout)
        if "kafka" in names and self.kafka is not None:
            self.kafka.wait_ready(timeout)

    # -- stopping, killing, restarting (tests and `vigil up`)

    def kill(self, name: str, sig: int = signal.SIGKILL) -> int:
        """Signal a process without telling the supervisor (a crash, as far as it knows). Returns the pid."""
        proc = self.children[name].proc
        assert proc is not None
        proc.send_signal(sig)
        return proc.pid

    def stop_process(self, name: str) -> None:
        """Stop one process on purpose (SIGTERM, drain); it stays down until start_process."""
        if self.supervisor is not None:
            self.supervisor.stop_child(name)
            return
        child = self.children.get(name)
        if child is not None:
            child.state = "stopped"
            child.signal(signal.SIGTERM)
            child.wait(child.stop_timeout)

    def start_process(self, name: str, extra_env: dict[str, str] | None = None) -> None:
        """Start a stopped process again; extra_env applies to this incarnation only."""
        if self.supervisor is not None:
            self.supervisor.start_child(name, extra_env)
        else:
            self.children[name].spawn(extra_env)

    def stop(self) -> None:
        """Stop everything: supervision first (nothing is restarted while stopping), then the gateway (it
        drains in-flight requests), then every service at once, then the broker."""
        if self.supervisor is not None:
            self.supervisor.stop()
        for group in (["gateway"], list(self.services), ["kafka"]):
            members = [self.children[n] for n in group if n in self.children]
            for child in members:
                child.state = "stopped"
                child.signal(signal.SIGTERM)
            for child in members:
                child.wait(child.stop_timeout)
        if self.supervisor is not None:
            self.supervisor.write_state(stopped=True)
