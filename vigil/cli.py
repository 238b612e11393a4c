"""The `vigil` command.

    vigil up                 start everything on one machine (embedded defaults), restart what crashes,
                             until Ctrl-C
    vigil status             each process of a running `vigil up`: pid, state, health, restarts, uptime
    vigil migrate SERVICE    apply a service's schema migrations (incident, itsm, cmdb, observability, ai,
                             gateway, or all) and exit: the Helm pre-install/upgrade hook runs this
    vigil kafka fetch|start  the local Apache Kafka broker (see vigil.runtime.kafka_local)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import signal
import sys
import threading
import time
from pathlib import Path

from vigil.runtime.config import SERVICES


def _operator_password(data_dir: Path) -> str:
    path = data_dir / "operator-password"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(12)
    path.write_text(password)
    path.chmod(0o600)
    return password


def _data_dir() -> Path:
    return Path(os.environ.get("VIGIL_DATA_DIR", ".vigil")).resolve()


def _log_supervisor(log_dir: Path) -> None:
    """The supervisor's messages (restarts, crash loops) go to the terminal and to logs/supervisor.log."""
    import logging

    log_dir.mkdir(parents=True, exist_ok=True)
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S")
    logger = logging.getLogger("vigil.supervisor")
    for handler in (logging.StreamHandler(sys.stderr), logging.FileHandler(log_dir / "supervisor.log")):
        handler.setFormatter(fmt)
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


def up(args: argparse.Namespace) -> int:
    from vigil.stack import Stack
    from vigil.supervisor import leftovers, running_supervisor, stop_pid

    data_dir = _data_dir()
    if (pid := running_supervisor(data_dir)) is not None:
        print(f"vigil up is already running for {data_dir} (pid {pid}); see `vigil status`", file=sys.stderr)
        return 1
    for name, pid in leftovers(data_dir):
        print(f"stopping {name} (pid {pid}): left running by a vigil up that did not stop", file=sys.stderr)
        stop_pid(pid)
    _log_supervisor(data_dir / "logs")
    env: dict[str, str] = {}
    if not os.environ.get("VIGIL_OPERATOR_PASSWORD"):
        env["VIGIL_OPERATOR_PASSWORD"] = _operator_password(data_dir)
    stack = Stack(data_dir=data_dir, env=env)
    started = time.perf_counter()
    try:
        if os.environ.get("VIGIL_KAFKA_BOOTSTRAP"):
            print(f"kafka: using {os.environ['VIGIL_KAFKA_BOOTSTRAP']}", flush=True)
        else:
            print("kafka: starting a local broker (KRaft; jars fetched once from Maven Central)...", flush=True)
            stack.env["VIGIL_KAFKA_BOOTSTRAP"] = stack.start_kafka()
            print(f"kafka: {stack.env['VIGIL_KAFKA_BOOTSTRAP']}", flush=True)
        db = os.environ.get("VIGIL_DATABASE_URL") or f"SQLite files in {data_dir}"
        print(f"state: {db}", flush=True)
        stack.start()
    except BaseException as exc:
        stack.stop()
        if isinstance(exc, KeyboardInterrupt):
            return 130
        print(f"vigil up failed: {exc}", file=sys.stderr)
        return 1
    # Handlers first: whoever reads the banner may press Ctrl-C at once.
    stopping = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    operator = os.environ.get("VIGIL_OPERATOR_EMAIL", "operator@vigil.local")
    print(f"""
Vigil is up ({time.perf_counter() - started:.1f}s). Logs: {data_dir / 'logs'}
  tenant plane   http://127.0.0.1:{stack.ports['tenant']}/api
  control plane  http://127.0.0.1:{stack.ports['control']}/api   operator: {operator} / {env.get('VIGIL_OPERATOR_PASSWORD', '(VIGIL_OPERATOR_PASSWORD)')}
  services       {', '.join(f"{n} :{stack.ports[n]}" for n in SERVICES)}
A process that crashes is restarted; `vigil status` shows each one. Press Ctrl-C to stop.""", flush=True)
    while not stopping.wait(0.5):
        pass
    print("\nstopping...", flush=True)
    stack.stop()
    print("stopped.", flush=True)
    return 0


def status(args: argparse.Namespace) -> int:
    """Live view of a running `vigil up`: the supervisor's state file plus a health probe of each process."""
    import json

    from vigil import supervisor

    data_dir = _data_dir()
    state = supervisor.read_state(data_dir)
    if state is None:
        print(f"vigil up is not running for {data_dir} (no {supervisor.STATE_FILE})", file=sys.stderr)
        return 3
    if state.get("stopped_at") or not supervisor.pid_alive(state.get("pid")):
        when = supervisor.started_iso(state.get("stopped_at") or state["updated_at"])
        print(f"vigil up is not running for {data_dir} (last seen {when})", file=sys.stderr)
        return 3
    health = asyncio.run(supervisor.probe_all(state["processes"]))
    ok = all(p["state"] == "running" and h in ("serving", "ready")
             for p, h in zip(state["processes"], health, strict=True))
    if args.json:
        for p, h in zip(state["processes"], health, strict=True):
            p["health"] = h
        print(json.dumps({**state, "healthy": ok}, indent=1))
    else:
        print(f"vigil up (pid {state['pid']}) since {supervisor.started_iso(state['started_at'])}, data dir {data_dir}")
        print(supervisor.status_table(state, health))
    return 0 if ok else 1


def migrate(args: argparse.Namespace) -> int:
    import importlib

    from vigil.runtime.db import Database

    targets = [*SERVICES, "gateway"] if args.service == "all" else [args.service]

    async def run() -> None:
        for name in targets:
            if name == "gateway":
                from gateway.app import MIGRATIONS
                from gateway.config import GatewaySettings

                url = GatewaySettings().database_url_for_gateway()
            else:
                server = importlib.import_module(f"services.{name}.server")
                MIGRATIONS = server.MIGRATIONS  # noqa: N806
                url = server.SETTINGS().database_url_for(name)
            db = Database(url, name)
            try:
                await db.migrate(MIGRATIONS, args.to)
            finally:
                await db.dispose()
            if name == "observability":  # its telemetry schema lives in ClickHouse
                applied = await server.migrate_clickhouse(server.SETTINGS())
                print(f"observability: ClickHouse migrations applied: {applied or 'none new'}")
            print(f"{name}: migrated to {args.to}")

    asyncio.run(run())
    return 0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="vigil", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("up", help="start everything on one machine until Ctrl-C")
    st = sub.add_parser("status", help="each process of a running `vigil up`: pid, state, health, restarts")
    st.add_argument("--json", action="store_true", help="machine-readable output")
    m = sub.add_parser("migrate", help="apply schema migrations and exit")
    m.add_argument("service", choices=[*SERVICES, "gateway", "all"])
    m.add_argument("--to", default="head", help="target revision (default head; e.g. 0001 or base to go back)")
    k = sub.add_parser("kafka", help="the local Kafka broker")
    k.add_argument("rest", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    if args.command == "up":
        sys.exit(up(args))
    if args.command == "status":
        sys.exit(status(args))
    if args.command == "migrate":
        sys.exit(migrate(args))
    if args.command == "kafka":
        from vigil.runtime import kafka_local

        kafka_local.main(args.rest)


if __name__ == "__main__":
    main()
