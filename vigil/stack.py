"""Runs Vigil's processes on one machine: the five services and the gateway as separate OS processes (and,
unless told otherwise, a local Kafka broker). Used by `vigil up` and by the end-to-end tests."""

from __future__ import annotations

import asyncio
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


@dataclass
class Stack:
    data_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    # Ports: the defaults (50051.., 8080/8081) for `vigil up`; free ports for tests.
    ephemeral_ports: bool = False
    log_dir: Path | None = None
    services: tuple[str, ...] = SERVICES
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)
    kafka: KafkaBroker | None = None

    def _port(self, default: int) -> int:
        return free_port() if self.ephemeral_ports else default

    def start_kafka(self) -> str:
        port = self._port(9092)
        self.kafka = KafkaBroker(self.data_dir / "kafka", port, self._port(9093)).start()
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

    def _spawn(self, name: str, module: str, env: dict[str, str]) -> None:
        log_dir = self.log_dir or self.data_dir / "logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        out = open(log_dir / f"{name}.log", "ab")  # noqa: SIM115 - owned by the child
        self.processes[name] = subprocess.Popen([sys.executable, "-m", module], env=env, stdout=out,
                                                stderr=subprocess.STDOUT, start_new_session=True)

    def start(self, timeout: float = 60.0) -> None:
        env = self.base_env()
        for name in self.services:
            self._spawn(name, f"services.{name}", {**env, "VIGIL_GRPC_PORT": str(self.ports[name])})
        # In a thread of its own: callers may be inside a running event loop (async tests).
        with ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, self._wait_services(timeout)).result()
        self._spawn("gateway", "gateway", {**env, "VIGIL_TENANT_PORT": str(self.ports["tenant"]),
                                           "VIGIL_CONTROL_PORT": str(self.ports["control"])})
        self._wait_http(self.ports["tenant"], timeout)

    async def _wait_services(self, timeout: float) -> None:
        async def one(name: str) -> None:
            deadline = time.monotonic() + timeout
            while True:
                self.check_alive()
                try:
                    await wait_serving(f"127.0.0.1:{self.ports[name]}", timeout=1.0)
                    return
                except TimeoutError:
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"{name} not serving after {timeout}s") from None

        await asyncio.gather(*(one(n) for n in self.services))

    def _wait_http(self, port: int, timeout: float) -> None:
        import urllib.request

        deadline = time.monotonic() + timeout
        while True:
            self.check_alive()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as resp:
                    if resp.status == 200:
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"gateway not answering on {port} after {timeout}s")
            time.sleep(0.1)

    def check_alive(self) -> None:
        for name, proc in self.processes.items():
            if proc.poll() is not None:
                log = (self.log_dir or self.data_dir / "logs") / f"{name}.log"
                tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
                raise RuntimeError(f"{name} exited with code {proc.returncode}:\n{tail}")

    def stop_process(self, name: str, timeout: float = 15.0) -> None:
        proc = self.processes.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def stop(self) -> None:
        if "gateway" in self.processes:
            self.stop_process("gateway")
        for name in reversed(list(self.processes)):
            self.stop_process(name)
        if self.kafka:
            self.kafka.stop()
