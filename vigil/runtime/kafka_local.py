"""A local single-node Apache Kafka broker in KRaft mode, for `vigil up` and the test suite.

The broker is the real one: `org.apache.kafka:kafka_2.13` and its runtime dependencies, fetched once from
Maven Central with `mvn dependency:copy-dependencies` (kafka-pom.xml beside this file) into
`<cache>/kafka/libs` (VIGIL_CACHE_DIR, default ./.cache, git-ignored), then run on the local JDK:
`kafka.tools.StorageTool format` once per data directory, then `kafka.Kafka server.properties`.

    python -m vigil.runtime.kafka_local fetch
    python -m vigil.runtime.kafka_local start --data-dir .vigil/kafka --port 9092   # foreground
"""

from __future__ import annotations

import argparse
import base64
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

POM = Path(__file__).with_name("kafka-pom.xml")


def cache_dir() -> Path:
    return Path(os.environ.get("VIGIL_CACHE_DIR", ".cache")).resolve() / "kafka"


def libs_dir() -> Path:
    return cache_dir() / "libs"


def fetch(quiet: bool = True) -> Path:
    """Download the broker jars once; later calls return at once."""
    libs = libs_dir()
    marker = libs / ".complete"
    if marker.exists():
        return libs
    libs.mkdir(parents=True, exist_ok=True)
    cmd = ["mvn", "-B", "-f", str(POM), "dependency:copy-dependencies", f"-DoutputDirectory={libs}",
           "-DincludeScope=runtime"]
    if quiet:
        cmd.insert(1, "-q")
    subprocess.run(cmd, check=True)
    if not any(libs.glob("kafka_2.13-*.jar")):
        raise RuntimeError(f"maven finished but no kafka_2.13 jar in {libs}")
    marker.write_text("ok\n")
    return libs


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


LOG4J2 = """status = warn
appender.file.type = File
appender.file.name = FILE
appender.file.fileName = {log}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.file.ref = FILE
logger.kafka.name = kafka
logger.kafka.level = INFO
"""


@dataclass
class KafkaBroker:
    data_dir: Path
    port: int
    controller_port: int
    process: subprocess.Popen | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _java(self, main: str, *args: str) -> list[str]:
        java = os.environ.get("JAVA_HOME")
        binary = str(Path(java) / "bin" / "java") if java else "java"
        heap = os.environ.get("VIGIL_KAFKA_HEAP", "512m")
        return [binary, f"-Xmx{heap}", f"-Xms{heap}", "-XX:+UseG1GC", "-Djava.awt.headless=true",
                f"-Dlog4j2.configurationFile={self.data_dir / 'log4j2.properties'}",
                "-cp", str(libs_dir() / "*"), main, *args]

    def configure(self) -> Path:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        logs = self.data_dir / "logs"
        props = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{self.controller_port}",
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": str(logs),
            "num.partitions": "3",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "3",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            "auto.create.topics.enable": "true",
            "log.retention.hours": "168",
        }
        path = self.data_dir / "server.properties"
        path.write_text("".join(f"{k}={v}\n" for k, v in props.items()))
        (self.data_dir / "log4j2.properties").write_text(LOG4J2.format(log=self.data_dir / "kafka.log"))
        if not (logs / "meta.properties").exists():
            cluster_id = "-"
            while cluster_id.startswith("-"):  # as Kafka's own Uuid.randomUuid: a leading '-' reads as an option
                cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
            subprocess.run(self._java("kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(path),
                                      "--ignore-formatted"), check=True, capture_output=True)
        return path

    def start(self, timeout: float = 60.0) -> KafkaBroker:
        fetch()
        props = self.configure()
        out = open(self.data_dir / "kafka.stdout", "ab")  # noqa: SIM115 - owned by the child for its life
        self.process = subprocess.Popen(self._java("kafka.Kafka", str(props)), stdout=out, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"kafka exited with {self.process.returncode}; see {self.data_dir}/kafka.log")
            if _broker_answers(self.port):
                return
            time.sleep(0.2)
        raise TimeoutError(f"kafka not ready on port {self.port} after {timeout}s; see {self.data_dir}/kafka.log")

    def stop(self, timeout: float = 30.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def kill(self) -> None:
        """Stop without a clean shutdown (tests of broker loss)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def _broker_answers(port: int) -> bool:
    """True when the broker answers an ApiVersions request (the port alone opens before it is ready)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0) as s:
            # ApiVersions v0: size, api_key=18, api_version=0, correlation_id=1, client_id=""
            body = (18).to_bytes(2, "big") + (0).to_bytes(2, "big") + (1).to_bytes(4, "big") + (0).to_bytes(2, "big")
            s.sendall(len(body).to_bytes(4, "big") + body)
            size = int.from_bytes(s.recv(4), "big")
            return size > 0
    except OSError:
        return False


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="vigil-kafka", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("fetch", help="download the broker jars from Maven Central into the cache")
    start = sub.add_parser("start", help="run a single-node KRaft broker in the foreground")
    start.add_argument("--data-dir", type=Path, default=Path(".vigil/kafka"))
    start.add_argument("--port", type=int, default=9092)
    start.add_argument("--controller-port", type=int, default=9093)
    args = parser.parse_args(argv)
    if args.command == "fetch":
        print(fetch(quiet=False))
        return
    broker = KafkaBroker(args.data_dir.resolve(), args.port, args.controller_port).start()
    print(f"kafka listening on {broker.bootstrap}", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: broker.stop())
    try:
        broker.process.wait()
    except KeyboardInterrupt:
        broker.stop()
    sys.exit(0)


if __name__ == "__main__":
    main()
